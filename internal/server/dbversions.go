package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vigilsec/vigil/internal/gate"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/vulndb"
	"github.com/vigilsec/vigil/internal/worker"
)

// DefaultKeepDBVersions is how many vulnerability database versions the
// server keeps for decisions pinned to one (`vigil gate check
// --db-version`).
const DefaultKeepDBVersions = 5

// keptVersions is the directory of the last database versions the server
// used, each file named for its version: DBDir/versions/<version>.sqlite.
// A database file is only ever replaced by a rename, so a version is kept
// by a hard link to the file it was opened from (a copy where links are
// not possible).
type keptVersions struct {
	dir  string
	keep int
}

func (k *keptVersions) path(version string) string { return filepath.Join(k.dir, version+".sqlite") }

// add keeps the database file at path, named for the version it holds,
// and forgets the oldest versions beyond k.keep.
func (k *keptVersions) add(ctx context.Context, path string) error {
	if k == nil || k.keep <= 0 {
		return nil
	}
	if err := os.MkdirAll(k.dir, 0o755); err != nil {
		return fmt.Errorf("server: keep database version: %w", err)
	}
	tmp, err := os.CreateTemp(k.dir, ".keep-*")
	if err != nil {
		return fmt.Errorf("server: keep database version: %w", err)
	}
	tmp.Close()
	os.Remove(tmp.Name())
	defer os.Remove(tmp.Name())
	if err := os.Link(path, tmp.Name()); err != nil {
		if err := copyFile(path, tmp.Name()); err != nil {
			return fmt.Errorf("server: keep database version: %w", err)
		}
	}
	// The version is read from what was linked, not from the database
	// opened before: the file may have been replaced since.
	db, err := vulndb.Open(ctx, tmp.Name())
	if err != nil {
		return fmt.Errorf("server: keep database version: %w", err)
	}
	version := db.Version()
	db.Close()
	if _, err := os.Stat(k.path(version)); err != nil {
		if err := os.Rename(tmp.Name(), k.path(version)); err != nil {
			return fmt.Errorf("server: keep database version: %w", err)
		}
	}
	return k.prune()
}

// list is the kept versions, newest first.
func (k *keptVersions) list() ([]string, error) {
	entries, err := os.ReadDir(k.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if v, ok := strings.CutSuffix(e.Name(), ".sqlite"); ok && vulndb.ValidVersion(v) {
			out = append(out, v)
		}
	}
	// A version starts with its build time: newest first by name.
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out, nil
}

func (k *keptVersions) prune() error {
	vs, err := k.list()
	if err != nil {
		return err
	}
	for i := k.keep; i < len(vs); i++ {
		if err := os.Remove(k.path(vs[i])); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// open opens a kept version; the error wraps gate.ErrDBVersion when it
// is not kept.
func (k *keptVersions) open(ctx context.Context, version string) (*vulndb.DB, error) {
	if !vulndb.ValidVersion(version) {
		return nil, fmt.Errorf("%w: %q is not a database version (as `vigil db status` shows them: 20261204T183257Z-3f2a9c1b7e4d)", gate.ErrDBVersion, version)
	}
	db, err := vulndb.Open(ctx, k.path(version))
	if errors.Is(err, vulndb.ErrNoDatabase) {
		kept, _ := k.list()
		have := "none"
		if len(kept) > 0 {
			have = strings.Join(kept, ", ")
		}
		return nil, fmt.Errorf("%w: %s (the server keeps the last %d; kept: %s)", gate.ErrDBVersion, version, k.keep, have)
	}
	return db, err
}

// rematcher judges images against kept database versions.
type rematcher struct {
	kept   *keptVersions
	worker *worker.Worker
}

func (r rematcher) Rematch(ctx context.Context, im *store.Image, version string) ([]store.Finding, *store.Image, error) {
	db, err := r.kept.open(ctx, version)
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	m, err := r.worker.Rematch(ctx, db, im)
	if err != nil {
		return nil, nil, err
	}
	as := *im
	as.ScanReason, as.ScanMessage, as.DBVersion = m.ScanReason, m.ScanMessage, version
	return m.Findings, &as, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// keepVersion keeps the database now in use among the kept versions; a
// failure costs only the ability to pin decisions to it.
func (s *Server) keepVersion(ctx context.Context) {
	if err := s.kept.add(ctx, s.dbs.path); err != nil {
		s.log.Warn("the vulnerability database version could not be kept for pinned gate decisions", "err", err)
	}
}
