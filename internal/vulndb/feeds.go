package vulndb

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Dir is the database's home: the downloaded feed files under feeds/,
// each with a .meta.json beside it, and the built database file.
type Dir struct {
	root string
}

// NewDir returns the database directory at root (default: the user's
// cache directory + "/vigil/db"), creating it if needed.
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(filepath.Join(root, "feeds"), 0o755); err != nil {
		return nil, fmt.Errorf("vulndb: %w", err)
	}
	return &Dir{root: root}, nil
}

// Root is the directory.
func (d *Dir) Root() string { return d.root }

// DatabasePath is the database file.
func (d *Dir) DatabasePath() string { return filepath.Join(d.root, "vulndb.sqlite") }

// feed is one downloaded or imported feed file and what is known of it.
type feed struct {
	Source Source `json:"source"`
	// ETag and LastModified are the server's, for conditional requests.
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	// Fetched is when the content last changed hands (download or
	// import); Checked when upstream was last asked, even if it answered
	// "not modified".
	Fetched time.Time `json:"fetched"`
	Checked time.Time `json:"checked"`
	SHA256  string    `json:"sha256"`
	Size    int64     `json:"size"`

	path string // the data file
}

func (d *Dir) dataPath(name string) string {
	return filepath.Join(d.root, "feeds", filepath.FromSlash(name)+".data")
}

func (d *Dir) metaPath(name string) string {
	return filepath.Join(d.root, "feeds", filepath.FromSlash(name)+".meta.json")
}

// feeds lists the feeds present, with their metadata.
func (d *Dir) feeds() ([]*feed, error) {
	var out []*feed
	base := filepath.Join(d.root, "feeds")
	err := filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || !strings.HasSuffix(p, ".meta.json") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f := new(feed)
		if err := json.Unmarshal(b, f); err != nil {
			return fmt.Errorf("vulndb: %s: %w", p, err)
		}
		if err := validName(f.Source.Name); err != nil {
			return err
		}
		f.path = d.dataPath(f.Source.Name)
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("vulndb: feed %s: %w", f.Source.Name, err)
		}
		out = append(out, f)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return out, err
}

// feed returns the metadata of the named feed, or nil.
func (d *Dir) feed(name string) *feed {
	b, err := os.ReadFile(d.metaPath(name))
	if err != nil {
		return nil
	}
	f := new(feed)
	if json.Unmarshal(b, f) != nil {
		return nil
	}
	f.path = d.dataPath(name)
	return f
}

// staged is a feed file written to a temporary name, to be committed (moved
// into place) only when every feed of an update has arrived and parsed.
type staged struct {
	meta *feed
	tmp  string // "" when the data did not change
}

// stage copies r into a temporary file beside the feed's final place.
func (d *Dir) stage(src Source, r io.Reader) (*staged, error) {
	if err := validName(src.Name); err != nil {
		return nil, err
	}
	final := d.dataPath(src.Name)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, err
	}
	t, err := os.CreateTemp(filepath.Dir(final), ".stage-*")
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(t, h), r)
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(t.Name())
		return nil, err
	}
	return &staged{
		meta: &feed{Source: src, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n, path: t.Name()},
		tmp:  t.Name(),
	}, nil
}

// discard removes a staged file that will not be committed.
func (s *staged) discard() {
	if s.tmp != "" {
		os.Remove(s.tmp)
	}
}

// commit moves staged files into place and writes their metadata.
func (d *Dir) commit(all []*staged) error {
	for _, s := range all {
		final := d.dataPath(s.meta.Source.Name)
		if s.tmp != "" {
			if err := os.Rename(s.tmp, final); err != nil {
				return fmt.Errorf("vulndb: %s: %w", s.meta.Source.Name, err)
			}
			s.tmp = ""
		}
		s.meta.path = final
		b, err := json.MarshalIndent(s.meta, "", "  ")
		if err != nil {
			return err
		}
		if err := writeFileAtomic(d.metaPath(s.meta.Source.Name), b); err != nil {
			return err
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	t, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(t.Name())
	if _, err := t.Write(data); err != nil {
		t.Close()
		return err
	}
	if err := t.Close(); err != nil {
		return err
	}
	return os.Rename(t.Name(), path)
}
