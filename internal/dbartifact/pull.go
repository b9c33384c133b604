package dbartifact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/vigilsec/vigil/internal/vulndb"
)

// PullOptions configure Pull.
type PullOptions struct {
	// Remote are go-containerregistry's options: authentication,
	// transport, user agent.
	Remote []remote.Option
	// Progress, when set, is told of the bytes of partitions read so far
	// and of the bytes to read in all.
	Progress func(done, total int64)
	// Now stamps the installed database (default time.Now).
	Now func() time.Time
}

// Pulled says what Pull did.
type Pulled struct {
	Reference string `json:"reference"`
	Manifest  string `json:"manifest"`
	Version   string `json:"version"`
	// Held is the version held before ("" if none, or one built here);
	// Unchanged is true when it was already the version offered.
	Held      string `json:"held,omitempty"`
	Unchanged bool   `json:"unchanged,omitempty"`
	// Delta is true when only the partitions that changed since Held
	// were read.
	Delta      bool `json:"delta"`
	Partitions int  `json:"partitions"`
	Fetched    int  `json:"fetched"`
	// Bytes is everything read from the registry: manifest, config and
	// partitions. TotalBytes is the size of every partition.
	Bytes      int64         `json:"bytes"`
	TotalBytes int64         `json:"totalBytes"`
	Duration   time.Duration `json:"durationNs"`
}

// Pull fetches the database artifact that ref names into dir: the
// partitions that the database held there lacks, each verified against
// its digest, then installed and swapped in atomically. If anything fails
// the database held stays as it was.
func Pull(ctx context.Context, dir *vulndb.Dir, ref name.Reference, o PullOptions) (*Pulled, error) {
	start := time.Now()
	if o.Now == nil {
		o.Now = time.Now
	}
	ropts := append([]remote.Option{remote.WithContext(ctx)}, o.Remote...)
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return nil, fmt.Errorf("dbartifact: %s: %w", ref, err)
	}
	raw := desc.Manifest
	got := digest.FromBytes(raw)
	if got.String() != desc.Digest.String() {
		return nil, fmt.Errorf("dbartifact: %s: the manifest read has digest %s, the registry says %s", ref, got, desc.Digest)
	}
	if d, ok := ref.(name.Digest); ok && d.DigestStr() != got.String() {
		return nil, fmt.Errorf("dbartifact: %s: the manifest read has digest %s", ref, got)
	}
	a, err := parseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("dbartifact: %s: %w", ref, err)
	}
	p := &Pulled{Reference: ref.String(), Manifest: got.String(), Partitions: len(a.parts), Bytes: int64(len(raw))}
	repo := ref.Context()

	config, err := fetchBlob(repo, a.manifest.Config.Digest.String(), a.manifest.Config.Size, ropts, nil)
	if err != nil {
		return nil, err
	}
	p.Bytes += int64(len(config))
	var snap vulndb.Snapshot
	if err := json.Unmarshal(config, &snap); err != nil {
		return nil, fmt.Errorf("dbartifact: %s: config %s: %w", ref, a.manifest.Config.Digest, err)
	}
	p.Version = snap.Version
	if v := a.manifest.Annotations[AnnotationVersion]; v != snap.Version {
		return nil, fmt.Errorf("dbartifact: %s: the manifest says version %q, its config %q", ref, v, snap.Version)
	}

	if held, err := vulndb.Open(ctx, dir.DatabasePath()); err == nil {
		p.Held = held.Version()
		in, ierr := held.Installed(ctx)
		held.Close()
		if ierr != nil {
			return nil, ierr
		}
		if in != nil && in.Manifest == p.Manifest {
			p.Unchanged, p.Duration = true, time.Since(start)
			return p, nil
		}
	}
	need, base, err := vulndb.Needed(ctx, dir.DatabasePath(), a.parts)
	if err != nil {
		return nil, err
	}
	p.Delta = base
	var total int64
	for _, part := range a.parts {
		p.TotalBytes += part.Size
	}
	for _, part := range need {
		total += part.Size
	}

	sweepSpools(dir.Root(), o.Now())
	spool, err := os.MkdirTemp(dir.Root(), ".pull-")
	if err != nil {
		return nil, fmt.Errorf("dbartifact: %w", err)
	}
	defer os.RemoveAll(spool)
	var done int64
	progress := func(n int64) {
		done += n
		if o.Progress != nil {
			o.Progress(done, total)
		}
	}
	progress(0)
	for _, part := range need {
		if err := spoolBlob(repo, part, filepath.Join(spool, part.Digest[len("sha256:"):]), ropts, progress); err != nil {
			return nil, err
		}
		p.Fetched++
		p.Bytes += part.Size
	}
	err = dir.Install(ctx, &vulndb.Assembly{
		Snapshot: snap, Partitions: a.parts,
		Open: func(part vulndb.Partition) (io.ReadCloser, error) {
			return os.Open(filepath.Join(spool, part.Digest[len("sha256:"):]))
		},
		Installed: vulndb.Installed{Version: snap.Version, Reference: ref.String(), Manifest: p.Manifest, Pulled: o.Now().UTC().Format(time.RFC3339)},
	})
	if err != nil {
		return nil, err
	}
	p.Duration = time.Since(start)
	return p, nil
}

// fetchBlob reads a small blob whole, checking its size and digest.
func fetchBlob(repo name.Repository, d string, size int64, ropts []remote.Option, progress func(int64)) ([]byte, error) {
	var b []byte
	err := readBlob(repo, d, size, ropts, progress, func(r io.Reader) error {
		var err error
		b, err = io.ReadAll(r)
		return err
	})
	return b, err
}

// spoolBlob copies a partition's blob into the file path, checked.
func spoolBlob(repo name.Repository, part vulndb.Partition, path string, ropts []remote.Option, progress func(int64)) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("dbartifact: %w", err)
	}
	err = readBlob(repo, part.Digest, part.Size, ropts, progress, func(r io.Reader) error {
		_, err := io.Copy(f, r)
		return err
	})
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("dbartifact: %w", cerr)
	}
	if err != nil {
		return fmt.Errorf("%w (partition %s)", err, part.Name)
	}
	return nil
}

// readBlob streams a blob to use, reading at most size bytes and
// refusing, after use has seen them, content of another size or digest:
// nothing read from a blob counts until it is known to be the blob.
func readBlob(repo name.Repository, d string, size int64, ropts []remote.Option, progress func(int64), use func(io.Reader) error) error {
	want, err := digest.Parse(d)
	if err != nil || want.Algorithm() != digest.SHA256 {
		return fmt.Errorf("dbartifact: blob %q: not a sha256 digest", d)
	}
	layer, err := remote.Layer(repo.Digest(d), ropts...)
	if err != nil {
		return fmt.Errorf("dbartifact: blob %s: %w", d, err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return fmt.Errorf("dbartifact: blob %s: %w", d, err)
	}
	defer rc.Close()
	h := sha256.New()
	cr := &countingReader{r: io.LimitReader(rc, size+1), h: h, progress: progress}
	if err := use(cr); err != nil {
		return fmt.Errorf("dbartifact: blob %s: %w", d, err)
	}
	if cr.n != size {
		return fmt.Errorf("dbartifact: blob %s: read %d bytes or more, the manifest says %d", d, cr.n, size)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != d {
		return fmt.Errorf("dbartifact: blob %s: the content read has digest %s: refused", d, got)
	}
	return nil
}

type countingReader struct {
	r        io.Reader
	h        io.Writer
	n        int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		c.h.Write(p[:n])
		if c.progress != nil {
			c.progress(int64(n))
		}
	}
	return n, err
}

// staleSpool is how old a spool directory must be for a pull to take it
// for the leftover of one that was killed, rather than one running.
const staleSpool = time.Hour

// sweepSpools removes the spool directories that killed pulls left.
func sweepSpools(root string, now time.Time) {
	old, _ := filepath.Glob(filepath.Join(root, ".pull-*"))
	for _, p := range old {
		if st, err := os.Stat(p); err == nil && st.IsDir() && now.Sub(st.ModTime()) > staleSpool {
			os.RemoveAll(p)
		}
	}
}
