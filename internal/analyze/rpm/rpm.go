// Package rpm catalogs RPM packages from rpm's database in any of its
// three formats: Berkeley DB (var/lib/rpm/Packages, RHEL/CentOS ≤ 8),
// NDB (Packages.db, SUSE) and SQLite (rpmdb.sqlite, Fedora 33+, RHEL 9).
// The reading is done by github.com/knqyf263/go-rpmdb; this package checks
// the file first (see guard.go) and turns headers into packages.
package rpm

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	rpmdb "github.com/knqyf263/go-rpmdb/pkg"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver go-rpmdb opens

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// maxDBSize bounds the database size. The largest real databases (full
// server installs with thousands of packages) are a few hundred MiB.
const maxDBSize = 1 << 30

// Cataloger reads rpm databases.
type Cataloger struct{}

var _ analyze.Cataloger = Cataloger{}

func (Cataloger) Name() string { return "rpm" }
func (Cataloger) Version() int { return 1 }

// Wants takes the database wherever rpm keeps it: var/lib/rpm, or
// usr/lib/sysimage/rpm where SUSE and newer Fedora moved it (var/lib/rpm
// is then a symlink, which the walk does not offer).
func (Cataloger) Wants(p string, _ fs.FileMode, _ int64) bool {
	switch p {
	case "var/lib/rpm/Packages", "var/lib/rpm/Packages.db", "var/lib/rpm/rpmdb.sqlite",
		"usr/lib/sysimage/rpm/Packages", "usr/lib/sysimage/rpm/Packages.db", "usr/lib/sysimage/rpm/rpmdb.sqlite":
		return true
	}
	return false
}

var sqliteMagic = []byte("SQLite format 3\x00")

func (c Cataloger) Catalog(ctx context.Context, f *analyze.File) ([]inventory.Package, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.Size > maxDBSize {
		return nil, fmt.Errorf("rpm: %s: %d bytes, limit %d: %w", f.Path, f.Size, int64(maxDBSize), analyze.ErrTooLarge)
	}
	head := make([]byte, ndbHeaderSize)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("rpm: %s: %w", f.Path, err)
	}
	head = head[:n]

	var infos []*rpmdb.PackageInfo
	switch {
	case bytes.HasPrefix(head, sqliteMagic):
		infos, err = listSQLite(f)
	default:
		if isNDB(head) {
			err = checkNDB(f, f.Size)
		} else {
			err = checkBDB(f, f.Size)
		}
		if err != nil {
			break
		}
		var path string
		if path, err = f.LocalPath(); err == nil {
			infos, err = list(path)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("rpm: %s: %w", f.Path, err)
	}
	pkgs, err := convert(infos)
	if err != nil {
		return pkgs, fmt.Errorf("rpm: %s: %w", f.Path, err)
	}
	return pkgs, nil
}

// list reads all package headers with go-rpmdb. Its header parser
// (headerImport, run in this goroutine) may panic on hostile input;
// recover turns that into an error. Panics inside go-rpmdb's reader
// goroutine cannot be recovered here, which is why the files are checked
// first (guard.go). Two leaks of go-rpmdb v0.1.1 remain: when a header
// fails to parse, ListPackages returns while its reader goroutine is
// still blocked sending the next entry, so that goroutine is never freed
// (one per broken database); and Open, trying NDB before Berkeley DB,
// leaves a Berkeley DB file open until the garbage collector closes it.
func list(path string) (infos []*rpmdb.PackageInfo, err error) {
	defer func() {
		if r := recover(); r != nil {
			infos, err = nil, fmt.Errorf("corrupt database: go-rpmdb panicked: %v", r)
		}
	}()
	db, err := rpmdb.Open(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.ListPackages()
}

// listSQLite reads a SQLite database. SQLite writes beside the database
// it opens (the -wal and -shm files of rpm's WAL mode) and needs a
// writable directory for it, so the database is first copied into a
// private directory; the file the walk provides is left untouched.
//
// go-rpmdb ignores an error that ends its row loop early, which would
// silently drop packages, so the rows are counted here first and the
// count compared with what go-rpmdb returns.
func listSQLite(f *analyze.File) ([]*rpmdb.PackageInfo, error) {
	dir, err := os.MkdirTemp(f.TempDir(), "vigil-rpmdb-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "rpmdb.sqlite")
	if err := copyTo(path, f.Reader()); err != nil {
		return nil, err
	}
	want, err := countSQLite(path)
	if err != nil {
		return nil, err
	}
	infos, err := list(path)
	if err != nil {
		return nil, err
	}
	if len(infos) != want {
		return nil, fmt.Errorf("corrupt database: read %d of %d package headers", len(infos), want)
	}
	return infos, nil
}

// countSQLite checks the database's structure and its package headers,
// and counts them. A failing query here is reported as is; in go-rpmdb it
// would also leak its reader goroutine.
func countSQLite(path string) (int, error) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	// quick_check walks every page of every table; it returns "ok" or
	// rows naming the damage, of which the first few are enough.
	rows, err := db.Query("PRAGMA quick_check(5)")
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: %w", err)
		}
		problems = append(problems, strings.ReplaceAll(s, "\n", "; "))
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	if len(problems) != 1 || problems[0] != "ok" {
		return 0, fmt.Errorf("sqlite: corrupt database: %s", strings.Join(problems, "; "))
	}
	// The headers go-rpmdb will parse, checked as the other formats' are.
	hdrs, err := db.Query("SELECT blob FROM Packages")
	if err != nil {
		return 0, fmt.Errorf("sqlite: not an rpm database: %w", err)
	}
	defer hdrs.Close()
	n := 0
	for hdrs.Next() {
		n++
		var b []byte
		if err := hdrs.Scan(&b); err != nil {
			return 0, fmt.Errorf("sqlite: row %d: %w", n, err)
		}
		if b == nil {
			return 0, fmt.Errorf("sqlite: row %d: no header", n)
		}
		if err := checkHeader(b); err != nil {
			return 0, fmt.Errorf("sqlite: row %d: %w", n, err)
		}
	}
	if err := hdrs.Err(); err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	return n, nil
}

func copyTo(path string, r io.Reader) error {
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// convert makes packages of go-rpmdb's headers, leaving out gpg-pubkey:
// rpm stores each imported signing key as a pseudo-package of that name.
func convert(infos []*rpmdb.PackageInfo) ([]inventory.Package, error) {
	var (
		pkgs []inventory.Package
		bad  int
	)
	for _, in := range infos {
		if in.Name == "gpg-pubkey" {
			continue
		}
		if in.Name == "" || in.Version == "" {
			bad++
			continue
		}
		epoch := in.EpochNum()
		p := inventory.Package{
			Name:      in.Name,
			Version:   evr(epoch, in.Version, in.Release),
			Type:      inventory.RPM,
			Epoch:     epoch,
			Release:   in.Release,
			Arch:      in.Arch,
			Source:    sourceRPM(in.SourceRpm),
			Cataloger: "rpm",
			Evidence:  inventory.Installed,
		}
		if in.License != "" {
			// One license expression ("GPLv2+ and LGPLv2+"), kept whole.
			p.Licenses = []string{in.License}
		}
		if in.Modularitylabel != "" {
			// RHEL advisories for module streams name the stream; the
			// label ("nodejs:14:8040020210708131418:9f9e2e7e") says
			// which one the package came from.
			p.Metadata = map[string]string{"rpm.modularitylabel": in.Modularitylabel}
		}
		pkgs = append(pkgs, p)
	}
	if bad > 0 {
		return pkgs, fmt.Errorf("%d package headers without name or version", bad)
	}
	return pkgs, nil
}

// evr is rpm's "[epoch:]version-release"; epoch 0 is left out, as rpm
// itself prints it.
func evr(epoch int, version, release string) string {
	v := version
	if release != "" {
		v += "-" + release
	}
	if epoch > 0 {
		v = strconv.Itoa(epoch) + ":" + v
	}
	return v
}

// sourceRPM splits a SOURCERPM value, "name-version-release.src.rpm",
// into the source package's name and "version-release". It returns nil
// when there is none (gpg-pubkey, some third-party packages).
func sourceRPM(s string) *inventory.Source {
	base, ok := strings.CutSuffix(s, ".src.rpm")
	if !ok {
		if base, ok = strings.CutSuffix(s, ".nosrc.rpm"); !ok {
			return nil
		}
	}
	r := strings.LastIndexByte(base, '-')
	if r <= 0 {
		return nil
	}
	v := strings.LastIndexByte(base[:r], '-')
	if v <= 0 {
		return nil
	}
	return &inventory.Source{Name: base[:v], Version: base[v+1:]}
}
