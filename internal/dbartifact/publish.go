package dbartifact

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vigilsec/vigil/internal/vulndb"
)

func digestOf(b []byte) digest.Digest { return digest.FromBytes(b) }

func digestString(s string) digest.Digest { return digest.Digest(s) }

// Storage is a registry's storage, written directly (package registry's
// Registry is one).
type Storage interface {
	HasBlob(ctx context.Context, repository, digest string) (bool, error)
	PutBlob(ctx context.Context, repository, digest, mediaType string, size int64, content io.Reader) error
	PutManifest(ctx context.Context, repository, mediaType string, raw []byte, tags ...string) (string, error)
	// Manifest returns an error wrapping ErrNotFound (given to Publish)
	// when the reference names nothing.
	Manifest(ctx context.Context, repository, reference string) (string, []byte, error)
}

// Published says what Publish did.
type Published struct {
	Version  string `json:"version"`
	Manifest string `json:"manifest"`
	// Previous is the version "latest" named before, "" if none.
	Previous string `json:"previous,omitempty"`
	// Already is true when this version was there: nothing was written.
	Already bool `json:"already,omitempty"`
	// Partitions is how many the version has; Stored how many of them
	// (and StoredBytes how many bytes) were new to the registry: the
	// delta from Previous.
	Partitions  int           `json:"partitions"`
	Stored      int           `json:"stored"`
	StoredBytes int64         `json:"storedBytes"`
	TotalBytes  int64         `json:"totalBytes"`
	Duration    time.Duration `json:"durationNs"`
}

// Publish stores the database at dbPath in st as Repository, tagged with
// its version and "latest", unless that version is there already. work
// is a directory for the partitions while they are written (removed
// after). notFound is the error st's Manifest wraps for a missing tag.
func Publish(ctx context.Context, st Storage, notFound error, dbPath, work string) (*Published, error) {
	start := time.Now()
	db, err := vulndb.Open(ctx, dbPath)
	if err != nil {
		return nil, err
	}
	version := db.Version()
	db.Close()
	pub := &Published{Version: version}
	if _, raw, err := st.Manifest(ctx, Repository, version); err == nil {
		// Published before, by this process or another sharing the
		// storage.
		pub.Already, pub.Manifest = true, digest.FromBytes(raw).String()
		return pub, nil
	} else if !errors.Is(err, notFound) {
		return nil, fmt.Errorf("dbartifact: %w", err)
	}
	if _, raw, err := st.Manifest(ctx, Repository, "latest"); err == nil {
		if a, perr := parseManifest(raw); perr == nil {
			pub.Previous = a.manifest.Annotations[AnnotationVersion]
		}
	} else if !errors.Is(err, notFound) {
		return nil, fmt.Errorf("dbartifact: %w", err)
	}

	dir, err := os.MkdirTemp(work, "db-export-")
	if err != nil {
		return nil, fmt.Errorf("dbartifact: %w", err)
	}
	defer os.RemoveAll(dir)
	ex, err := vulndb.ExportPartitions(ctx, dbPath, dir)
	if err != nil {
		return nil, err
	}
	config, err := json.Marshal(ex.Snapshot)
	if err != nil {
		return nil, err
	}
	raw, err := manifestFor(ex.Snapshot, config, ex.Partitions, pub.Previous)
	if err != nil {
		return nil, err
	}
	put := func(d, mediaType string, size int64, open func() (io.ReadCloser, error)) error {
		pub.TotalBytes += size
		have, err := st.HasBlob(ctx, Repository, d)
		if err != nil || have {
			return err
		}
		rc, err := open()
		if err != nil {
			return err
		}
		defer rc.Close()
		if err := st.PutBlob(ctx, Repository, d, mediaType, size, rc); err != nil {
			return fmt.Errorf("dbartifact: %w", err)
		}
		pub.Stored++
		pub.StoredBytes += size
		return nil
	}
	if err := put(digest.FromBytes(config).String(), ConfigMediaType, int64(len(config)), func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(config)), nil
	}); err != nil {
		return nil, err
	}
	pub.Stored, pub.StoredBytes = 0, 0 // the config is not a partition
	for _, p := range ex.Partitions {
		if err := put(p.Digest, PartitionMediaType, p.Size, func() (io.ReadCloser, error) {
			return os.Open(vulndb.PartitionFile(ex.Dir, p.Digest))
		}); err != nil {
			return nil, err
		}
	}
	pub.Partitions = len(ex.Partitions)
	if pub.Manifest, err = st.PutManifest(ctx, Repository, ocispec.MediaTypeImageManifest, raw, version, "latest"); err != nil {
		return nil, fmt.Errorf("dbartifact: %w", err)
	}
	pub.Duration = time.Since(start)
	return pub, nil
}
