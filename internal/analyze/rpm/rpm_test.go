package rpm

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/adler32"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files by running rpm")

// queryFormat makes rpm print each package's tags, tab-separated.
const queryFormat = `%{NAME}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\t%{LICENSE}\t%{MODULARITYLABEL}\n`

// A database the tests compare with rpm.
type database struct {
	name    string // golden file name
	file    string // path of the database
	backend string // rpm's _db_backend that reads it; "ndb" is done by import
}

// goRPMDBTestdata is go-rpmdb's own directory of real databases in the
// module cache. The module is a dependency, so it is there whenever this
// package builds.
func goRPMDBTestdata(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/knqyf263/go-rpmdb").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/knqyf263/go-rpmdb: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata")
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func databases(t *testing.T) []database {
	mod := goRPMDBTestdata(t)
	dbs := []database{
		{"libuuid", "testdata/libuuid/Packages", "bdb_ro"},
		{"sle15-bci", "testdata/sle15-bci/Packages.db", "ndb"},
		{"cbl-mariner-2.0", "testdata/cbl-mariner-2.0/rpmdb.sqlite", "sqlite"},
	}
	// Larger ones, read in place: the oldest hash page format
	// (centos5), gpg-pubkey entries (centos7-httpd24, fedora35),
	// modularity labels (centos8), a big-endian database (s390x).
	for _, n := range []string{"centos5-plain", "centos6-plain", "centos7-httpd24", "centos8-modularitylabel", "ubi8-s390x"} {
		dbs = append(dbs, database{n, filepath.Join(mod, n, "Packages"), "bdb_ro"})
	}
	dbs = append(dbs, database{"fedora35", filepath.Join(mod, "fedora35", "rpmdb.sqlite"), "sqlite"})
	return dbs
}

// rpmQuery lists a database with the real rpm, in a private copy of it
// (rpm, like SQLite, may write beside the database).
func rpmQuery(t *testing.T, db database) string {
	t.Helper()
	dir := t.TempDir()
	switch db.backend {
	case "ndb":
		// Debian's rpm has no NDB backend: import the headers into a
		// fresh SQLite database and query that.
		headers := ndbHeaders(t, db.file)
		imp := exec.Command("rpmdb", "--dbpath", dir, "--importdb")
		imp.Stdin = bytes.NewReader(headers)
		if out, err := imp.CombinedOutput(); err != nil {
			t.Fatalf("rpmdb --importdb: %v\n%s", err, out)
		}
		db.backend = "sqlite"
	default:
		data, err := os.ReadFile(db.file)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(db.file)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("rpm", "--dbpath", dir, "--define", "_db_backend "+db.backend, "-qa", "--qf", queryFormat)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rpm: %v\n%s", err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// ndbBlobs copies the package headers out of an NDB file. It follows
// rpm's lib/backend/ndb/rpmpkg.c and checks each blob's Adler-32,
// independently of go-rpmdb.
func ndbBlobs(t testing.TB, file string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if string(data[:4]) != "RpmP" {
		t.Fatalf("%s: not NDB", file)
	}
	npages := int(le.Uint32(data[12:]))
	var blobs [][]byte
	for off := 32; off < npages*4096; off += 16 {
		slot := data[off:]
		if string(slot[:4]) != "Slot" {
			t.Fatalf("slot at %d: bad magic", off)
		}
		pkg, blk, cnt := le.Uint32(slot[4:]), int(le.Uint32(slot[8:])), int(le.Uint32(slot[12:]))
		if blk == 0 {
			continue
		}
		blob := data[blk*16 : (blk+cnt)*16]
		if string(blob[:4]) != "BlbS" || le.Uint32(blob[4:]) != pkg {
			t.Fatalf("package %d: bad blob head", pkg)
		}
		n := int(le.Uint32(blob[12:]))
		tail := blob[len(blob)-12:]
		if string(tail[8:]) != "BlbE" || int(le.Uint32(tail[4:])) != n {
			t.Fatalf("package %d: bad blob tail", pkg)
		}
		if sum := adler32.Checksum(blob[:len(blob)-12]); sum != le.Uint32(tail) {
			t.Fatalf("package %d: adler32 %#x, blob says %#x", pkg, sum, le.Uint32(tail))
		}
		blobs = append(blobs, blob[16:16+n])
	}
	return blobs
}

// ndbHeaders returns an NDB file's headers in the form `rpmdb --exportdb`
// writes: each behind rpm's 8-byte header magic.
func ndbHeaders(t *testing.T, file string) []byte {
	var out bytes.Buffer
	for _, b := range ndbBlobs(t, file) {
		out.Write([]byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0})
		out.Write(b)
	}
	return out.Bytes()
}

// srcRPM splits a source rpm file name the way rpm names them.
var srcRPM = regexp.MustCompile(`^(.+)-([^-]+-[^-]+)\.(?:no)?src\.rpm$`)

// expected turns rpm's output into what the cataloger should report:
// gpg-pubkey pseudo-packages left out, Version "[epoch:]version-release"
// with the epoch only when above 0, the source split from SOURCERPM.
func expected(t *testing.T, golden string) string {
	t.Helper()
	none := func(s string) string {
		if s == "(none)" {
			return ""
		}
		return s
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(golden, "\n"), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 8 {
			t.Fatalf("golden line %q", l)
		}
		name, epoch, ver, rel, arch, src, lic, mod := f[0], f[1], f[2], f[3], f[4], none(f[5]), none(f[6]), none(f[7])
		if name == "gpg-pubkey" {
			continue
		}
		v := ver + "-" + rel
		if epoch != "0" {
			v = epoch + ":" + v
		}
		var sname, sver string
		if m := srcRPM.FindStringSubmatch(src); m != nil {
			sname, sver = m[1], m[2]
		}
		lines = append(lines, strings.Join([]string{name, v, epoch, rel, arch, sname, sver, lic, mod}, "\t"))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func render(pkgs []inventory.Package) string {
	var lines []string
	for _, p := range pkgs {
		var sname, sver string
		if p.Source != nil {
			sname, sver = p.Source.Name, p.Source.Version
		}
		lines = append(lines, strings.Join([]string{p.Name, p.Version, strconv.Itoa(p.Epoch), p.Release, p.Arch,
			sname, sver, strings.Join(p.Licenses, " "), p.Metadata["rpm.modularitylabel"]}, "\t"))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func catalog(t testing.TB, file, path string) ([]inventory.Package, error) {
	t.Helper()
	f, closer, err := analyze.OpenFile(path, file)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	return Cataloger{}.Catalog(context.Background(), f)
}

// TestRealDatabases compares the cataloger with rpm on real databases of
// all three formats. The golden files hold rpm's output; when rpm is
// installed the test also checks that it still says the same.
func TestRealDatabases(t *testing.T) {
	for _, db := range databases(t) {
		t.Run(db.name, func(t *testing.T) {
			golden := filepath.Join("testdata", "golden", db.name+".rpm.tsv")
			if _, err := exec.LookPath("rpm"); err == nil {
				got := rpmQuery(t, db)
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if g, err := os.ReadFile(golden); err != nil || string(g) != got {
					t.Fatalf("%s differs from what rpm prints now; rerun with -update", golden)
				}
			}
			g, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			want := expected(t, string(g))
			if want == "\n" {
				t.Fatal("rpm lists no packages")
			}
			pkgs, err := catalog(t, db.file, "var/lib/rpm/"+filepath.Base(db.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := render(pkgs); got != want {
				t.Errorf("packages differ from rpm:\n%s", diff(want, got))
			}
			for _, p := range pkgs {
				if p.Type != inventory.RPM || p.Cataloger != "rpm" || p.Evidence != inventory.Installed {
					t.Fatalf("%s: type %q cataloger %q evidence %q", p.Name, p.Type, p.Cataloger, p.Evidence)
				}
			}
		})
	}
}

// TestGuardAcceptsReal runs the pre-checks on every database go-rpmdb
// ships: they must refuse none that rpm wrote.
func TestGuardAcceptsReal(t *testing.T) {
	mod := goRPMDBTestdata(t)
	files, _ := filepath.Glob(filepath.Join(mod, "*", "Packages*"))
	if len(files) < 12 {
		t.Fatalf("only %d databases in %s", len(files), mod)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if isNDB(data) {
			err = checkNDB(bytes.NewReader(data), int64(len(data)))
		} else {
			err = checkBDB(bytes.NewReader(data), int64(len(data)))
		}
		if err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}

func diff(want, got string) string {
	w := map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	g := map[string]bool{}
	var b strings.Builder
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
		if !w[l] {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	return b.String()
}

func TestWants(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"var/lib/rpm/Packages", true},
		{"var/lib/rpm/Packages.db", true},
		{"var/lib/rpm/rpmdb.sqlite", true},
		{"usr/lib/sysimage/rpm/Packages.db", true},
		{"usr/lib/sysimage/rpm/rpmdb.sqlite", true},
		{"usr/lib/sysimage/rpm/Packages", true},
		{"var/lib/rpm/Name", false},
		{"var/lib/rpm/rpmdb.sqlite-wal", false},
		{"var/lib/rpm/__db.001", false},
		{"x/var/lib/rpm/Packages", false},
	} {
		if got := (Cataloger{}).Wants(tc.path, 0o644, 1); got != tc.want {
			t.Errorf("Wants(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestSourceRPM(t *testing.T) {
	for _, tc := range []struct {
		in            string
		name, version string
	}{
		{"util-linux-2.32.1-42.el8_8.src.rpm", "util-linux", "2.32.1-42.el8_8"},
		{"gcc11-11.2.1+git610-1.3.9.src.rpm", "gcc11", "11.2.1+git610-1.3.9"},
		{"python-gobject-3.22.0-1.el7_4.1.src.rpm", "python-gobject", "3.22.0-1.el7_4.1"},
		{"foo-1-2.nosrc.rpm", "foo", "1-2"},
		{"", "", ""},
		{"(none)", "", ""},
		{"1-2.src.rpm", "", ""},
		{"-1-2.src.rpm", "", ""},
		{"foo.src.rpm", "", ""},
	} {
		s := sourceRPM(tc.in)
		var name, version string
		if s != nil {
			name, version = s.Name, s.Version
		}
		if name != tc.name || version != tc.version {
			t.Errorf("sourceRPM(%q) = %q %q, want %q %q", tc.in, name, version, tc.name, tc.version)
		}
	}
}

func TestEVR(t *testing.T) {
	for _, tc := range []struct {
		epoch            int
		version, release string
		want             string
	}{
		{0, "1.2", "3.el8", "1.2-3.el8"},
		{1, "1.1.1k", "7.el8", "1:1.1.1k-7.el8"},
		{10, "5", "11.el5.centos", "10:5-11.el5.centos"},
		{0, "1.0", "", "1.0"},
	} {
		if got := evr(tc.epoch, tc.version, tc.release); got != tc.want {
			t.Errorf("evr(%d, %q, %q) = %q, want %q", tc.epoch, tc.version, tc.release, got, tc.want)
		}
	}
}

// TestCorrupt feeds truncated and damaged copies of the real databases to
// the cataloger: each must give an error naming the file, never a panic,
// a hang or packages.
func TestCorrupt(t *testing.T) {
	type damaged struct {
		name string
		data []byte
	}
	var cases []damaged
	for _, file := range []string{"testdata/libuuid/Packages", "testdata/sle15-bci/Packages.db", "testdata/cbl-mariner-2.0/rpmdb.sqlite"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 10, 100, 600, 4096, 8192, len(data) / 2, len(data) - 1} {
			cases = append(cases, damaged{fmt.Sprintf("%s truncated to %d", file, n), data[:n]})
		}
		// A block of garbage in the middle, where the package data is.
		mid := append([]byte(nil), data...)
		for i := len(mid) / 3; i < len(mid)/3+4096; i++ {
			mid[i] = byte(i * 7)
		}
		cases = append(cases, damaged{file + " with garbage", mid})
	}
	cases = append(cases,
		damaged{"text", []byte("this is not a database\n")},
		damaged{"bdb overflow cycle", bdbOverflowCycle(t)},
		damaged{"bdb entry off the page", bdbBadOffset(t)},
		damaged{"ndb huge blob", ndbHugeBlob(t)},
		// go-rpmdb's header parser would spin through 2^30 rounds per
		// entry on the first, and allocate 2^31 index entries on the
		// second.
		damaged{"header with a huge string count", tinyNDB(badHeader(t, func(h []byte) {
			for i := 1; i < int(binary.BigEndian.Uint32(h)); i++ {
				if e := h[8+16*i:]; binary.BigEndian.Uint32(e[4:]) == typeStringArray {
					binary.BigEndian.PutUint32(e[12:], 1<<30)
				}
			}
		}))},
		damaged{"header with 2^31 entries", tinyBDB(badHeader(t, func(h []byte) { binary.BigEndian.PutUint32(h, 1<<31-1) }))},
		damaged{"sqlite without Packages table", sqliteWith(t, "CREATE TABLE Other (blob BLOB); INSERT INTO Other VALUES (x'00')")},
		damaged{"sqlite with a NULL header", sqliteWith(t, "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB); INSERT INTO Packages VALUES (1, NULL)")},
		damaged{"sqlite with a garbage header", sqliteWith(t, "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB); INSERT INTO Packages VALUES (1, x'00000001000000100000000000000000')")},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "Packages")
			if err := os.WriteFile(file, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			pkgs, err := catalog(t, file, "var/lib/rpm/Packages")
			if err == nil {
				t.Fatalf("no error, %d packages", len(pkgs))
			}
			t.Log(err)
			if !strings.HasPrefix(err.Error(), "rpm: var/lib/rpm/Packages: ") {
				t.Errorf("error %q does not name the file", err)
			}
			if len(pkgs) != 0 {
				t.Errorf("%d packages from a corrupt database", len(pkgs))
			}
		})
	}
}

// badHeader returns a copy of a real header damaged by damage.
func badHeader(t *testing.T, damage func([]byte)) []byte {
	h := append([]byte(nil), smallestHeader(t)...)
	damage(h)
	return h
}

// bdbPages returns libuuid's database, its byte order and page size.
func bdbPages(t *testing.T) ([]byte, binary.ByteOrder, int) {
	data, err := os.ReadFile("testdata/libuuid/Packages")
	if err != nil {
		t.Fatal(err)
	}
	return data, binary.LittleEndian, int(binary.LittleEndian.Uint32(data[20:]))
}

// bdbOverflowCycle points every overflow page of libuuid's database back
// at itself: go-rpmdb would follow the chain forever.
func bdbOverflowCycle(t *testing.T) []byte {
	data, le, size := bdbPages(t)
	n := 0
	for no := 1; (no+1)*size <= len(data); no++ {
		page := data[no*size:]
		if page[25] == bdbOverflowPage {
			le.PutUint32(page[16:], uint32(no))
			n++
		}
	}
	if n == 0 {
		t.Fatal("no overflow page in libuuid")
	}
	return data
}

// bdbBadOffset makes the value offsets of every hash page point past the
// page: go-rpmdb would index out of range in its reader goroutine.
func bdbBadOffset(t *testing.T) []byte {
	data, le, size := bdbPages(t)
	n := 0
	for no := 1; (no+1)*size <= len(data); no++ {
		page := data[no*size:]
		if page[25] != bdbHashPage && page[25] != bdbHashUnsorted {
			continue
		}
		for i := 1; i < int(le.Uint16(page[20:])); i += 2 {
			le.PutUint16(page[bdbPageHeaderSize+2*i:], 0xfff0)
			n++
		}
	}
	if n == 0 {
		t.Fatal("no hash entry in libuuid")
	}
	return data
}

// ndbHugeBlob gives the first blob of the SUSE database a 4 GiB length,
// which go-rpmdb would allocate.
func ndbHugeBlob(t *testing.T) []byte {
	data, err := os.ReadFile("testdata/sle15-bci/Packages.db")
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	for off := 32; ; off += 16 {
		if blk := le.Uint32(data[off+8:]); blk != 0 {
			le.PutUint32(data[int(blk)*16+12:], 0xffffffff)
			return data
		}
	}
}

func sqliteWith(t *testing.T, schema string) []byte {
	file := filepath.Join(t.TempDir(), "other.sqlite")
	db, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(schema); err != nil {
		t.Fatal(err)
	}
	db.Close()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSQLiteLeavesFileAlone checks that reading a SQLite database does
// not write beside it (rpm's databases are in WAL mode, and SQLite would
// create -wal and -shm files next to the one it opens).
func TestSQLiteLeavesFileAlone(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/cbl-mariner-2.0/rpmdb.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "rpmdb.sqlite")
	if err := os.WriteFile(file, data, 0o444); err != nil {
		t.Fatal(err)
	}
	if _, err := catalog(t, file, "var/lib/rpm/rpmdb.sqlite"); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d files beside the database after reading it", len(ents)-1)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(after, data) {
		t.Error("database changed")
	}
}

func TestCatalogTooLarge(t *testing.T) {
	f := &analyze.File{Path: "var/lib/rpm/Packages", Size: maxDBSize + 1}
	if _, err := (Cataloger{}).Catalog(context.Background(), f); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("got %v, want a size error", err)
	}
}

// smallestHeader is the smallest package header of the SUSE database.
func smallestHeader(t testing.TB) []byte {
	var small []byte
	for _, b := range ndbBlobs(t, "testdata/sle15-bci/Packages.db") {
		if small == nil || len(b) < len(small) {
			small = b
		}
	}
	return small
}

// minimalHeader builds the smallest package header rpm accepts: an
// immutable region holding NAME, VERSION, RELEASE, LICENSE, ARCH and
// SOURCERPM. TestMinimalHeader checks with rpm that it is one.
func minimalHeader(name, version, release string) []byte {
	be := binary.BigEndian
	tags := []struct {
		tag   uint32
		value string
	}{
		{1000, name}, {1001, version}, {1002, release}, {1014, "MIT"}, {1022, "noarch"},
		{1044, name + "-" + version + "-" + release + ".src.rpm"},
	}
	il := 1 + len(tags)
	var data []byte
	entries := make([]byte, 16*il)
	for i, tg := range tags {
		e := entries[16*(i+1):]
		be.PutUint32(e, tg.tag)
		be.PutUint32(e[4:], typeString)
		be.PutUint32(e[8:], uint32(len(data)))
		be.PutUint32(e[12:], 1)
		data = append(append(data, tg.value...), 0)
	}
	// The region tag points at a trailer, at the end of the data, whose
	// negative offset gives the size of the region's index.
	be.PutUint32(entries, 63)
	be.PutUint32(entries[4:], 7)
	be.PutUint32(entries[8:], uint32(len(data)))
	be.PutUint32(entries[12:], 16)
	trailer := make([]byte, 16)
	be.PutUint32(trailer, 63)
	be.PutUint32(trailer[4:], 7)
	be.PutUint32(trailer[8:], uint32(-16*int32(il)))
	be.PutUint32(trailer[12:], 16)
	data = append(data, trailer...)

	h := make([]byte, 8, 8+len(entries)+len(data))
	be.PutUint32(h, uint32(il))
	be.PutUint32(h[4:], uint32(len(data)))
	return append(append(h, entries...), data...)
}

// TestMinimalHeader has rpm import the fuzz seeds' header and read it
// back, so that the seeds are packages rpm itself accepts; the cataloger
// must read the same from both tiny databases.
func TestMinimalHeader(t *testing.T) {
	header := minimalHeader("tiny", "1.0", "2")
	if _, err := exec.LookPath("rpm"); err == nil {
		dir := t.TempDir()
		imp := exec.Command("rpmdb", "--dbpath", dir, "--importdb")
		imp.Stdin = bytes.NewReader(append([]byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}, header...))
		if out, err := imp.CombinedOutput(); err != nil {
			t.Fatalf("rpmdb --importdb: %v\n%s", err, out)
		}
		out, err := exec.Command("rpm", "--dbpath", dir, "-qa", "--qf", queryFormat).CombinedOutput()
		if want := "tiny\t0\t1.0\t2\tnoarch\ttiny-1.0-2.src.rpm\tMIT\t(none)\n"; err != nil || string(out) != want {
			t.Fatalf("rpm reads the header as %q (%v), want %q", out, err, want)
		}
	}
	for name, data := range map[string][]byte{"bdb": tinyBDB(header), "ndb": tinyNDB(header)} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "Packages")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			pkgs, err := catalog(t, file, "var/lib/rpm/Packages")
			if err != nil {
				t.Fatal(err)
			}
			if got := render(pkgs); got != "tiny\t1.0-2\t0\t2\tnoarch\ttiny\t1.0-2\tMIT\t\n" {
				t.Errorf("got %q", got)
			}
		})
	}
}

// tinyBDB builds the smallest Berkeley DB go-rpmdb reads: 512-byte pages,
// the metadata page, one hash page holding one key and one off-page value,
// and the overflow pages that hold the header.
func tinyBDB(header []byte) []byte {
	const size = 512
	le := binary.LittleEndian
	chunk := size - bdbPageHeaderSize
	overflow := (len(header) + chunk - 1) / chunk
	data := make([]byte, (2+overflow)*size)
	meta := data[:size]
	le.PutUint32(meta[12:], bdbHashMagic)
	le.PutUint32(meta[16:], 9) // hash version
	le.PutUint32(meta[20:], size)
	meta[25] = bdbHashMetaPage
	le.PutUint32(meta[32:], uint32(1+overflow)) // last page

	hash := data[size : 2*size]
	le.PutUint32(hash[8:], 1)
	le.PutUint16(hash[20:], 2) // entries: key, value
	hash[25] = bdbHashPage
	key, val := size-8, size-8-bdbHashOffPageSize
	le.PutUint16(hash[bdbPageHeaderSize:], uint16(key))
	le.PutUint16(hash[bdbPageHeaderSize+2:], uint16(val))
	hash[key] = 1 // H_KEYDATA, followed by the 4-byte key
	le.PutUint32(hash[key+1:], 1)
	hash[val] = bdbHashOffPage
	le.PutUint32(hash[val+4:], 2) // first overflow page
	le.PutUint32(hash[val+8:], uint32(len(header)))

	for i := 0; i < overflow; i++ {
		no := 2 + i
		page := data[no*size : (no+1)*size]
		part := header[i*chunk : min((i+1)*chunk, len(header))]
		le.PutUint32(page[8:], uint32(no))
		if i+1 < overflow {
			le.PutUint32(page[16:], uint32(no+1))
		}
		le.PutUint16(page[22:], uint16(len(part)))
		page[25] = bdbOverflowPage
		copy(page[bdbPageHeaderSize:], part)
	}
	return data
}

// tinyNDB builds an NDB file with one slot page and one blob.
func tinyNDB(header []byte) []byte {
	le := binary.LittleEndian
	blocks := (ndbBlobHdrSize + len(header) + ndbBlobTailSize + ndbBlockSize - 1) / ndbBlockSize
	data := make([]byte, 4096+blocks*ndbBlockSize)
	le.PutUint32(data, ndbHeaderMagic)
	le.PutUint32(data[12:], 1) // slot pages
	le.PutUint32(data[16:], 2) // next package index
	for off := ndbHeaderSize; off < 4096; off += ndbSlotSize {
		le.PutUint32(data[off:], ndbSlotMagic)
	}
	le.PutUint32(data[ndbHeaderSize+4:], 1)                 // package 1
	le.PutUint32(data[ndbHeaderSize+8:], 4096/ndbBlockSize) // its block
	le.PutUint32(data[ndbHeaderSize+12:], uint32(blocks))
	blob := data[4096:]
	le.PutUint32(blob, ndbBlobMagic)
	le.PutUint32(blob[4:], 1)
	le.PutUint32(blob[12:], uint32(len(header)))
	copy(blob[ndbBlobHdrSize:], header)
	tail := blob[len(blob)-ndbBlobTailSize:]
	le.PutUint32(tail, adler32.Checksum(blob[:len(blob)-ndbBlobTailSize]))
	le.PutUint32(tail[4:], uint32(len(header)))
	le.PutUint32(tail[8:], ndbBlobTailMagic)
	return data
}

// TestTinyDatabases checks the fuzz seeds: a real header in the smallest
// Berkeley DB and NDB files, each read as the one package rpm lists for
// that header.
func TestTinyDatabases(t *testing.T) {
	header := smallestHeader(t)
	golden, err := os.ReadFile("testdata/golden/sle15-bci.rpm.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"bdb": tinyBDB(header), "ndb": tinyNDB(header)} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "Packages")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			pkgs, err := catalog(t, file, "var/lib/rpm/Packages")
			if err != nil {
				t.Fatal(err)
			}
			if len(pkgs) != 1 || !strings.Contains(string(golden), pkgs[0].Name+"\t") {
				t.Errorf("got %+v, want one package of the SUSE database", pkgs)
			}
		})
	}
}

// FuzzCatalog damages the tiny databases and catalogs them. The input
// picks the database (first byte) and a length to cut it to (next two),
// then lists (offset, byte) patches, three bytes each. Inputs stay a few
// bytes long: with whole databases as input, the fuzzer spends a minute
// minimizing each find, as this test binary's coverage map (SQLite is in
// it) is large.
func FuzzCatalog(f *testing.F) {
	header := minimalHeader("tiny", "1.0", "2")
	dbs := [][]byte{tinyBDB(header), tinyNDB(header)}
	f.Add([]byte{0, 0xff, 0xff})
	f.Add([]byte{1, 0xff, 0xff})
	f.Add([]byte{0, 0x05, 0xff})
	f.Add([]byte{0, 0xff, 0xff, 0x02, 0x19, bdbOverflowPage})        // hash page made an overflow page
	f.Add([]byte{0, 0xff, 0xff, 0x04, 0x10, 0x02})                   // overflow page pointing at itself
	f.Add([]byte{1, 0xff, 0xff, 0x10, 0x0c, 0xff, 0x10, 0x0d, 0xff}) // blob length
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 3 {
			return
		}
		db := append([]byte(nil), dbs[int(in[0])%len(dbs)]...)
		if n := int(binary.BigEndian.Uint16(in[1:])); n < len(db) {
			db = db[:n]
		}
		for p := in[3:]; len(p) >= 3 && len(db) > 0; p = p[3:] {
			db[int(binary.BigEndian.Uint16(p))%len(db)] = p[2]
		}
		fuzzCatalog(t, db)
	})
}

// FuzzHeader feeds mutated package headers, wrapped in a valid Berkeley
// DB, to the cataloger: go-rpmdb's header parser must never hang, panic
// or allocate without bound on a header that passes checkHeader.
func FuzzHeader(f *testing.F) {
	f.Add(minimalHeader("tiny", "1.0", "2"))
	f.Add(minimalHeader("", "", ""))
	f.Fuzz(func(t *testing.T, header []byte) {
		fuzzCatalog(t, tinyBDB(header))
	})
}

// FuzzChecks runs the pre-checks alone on any input, NDB or Berkeley DB
// alike: they must never panic, whatever the file.
func FuzzChecks(f *testing.F) {
	header := minimalHeader("tiny", "1.0", "2")
	f.Add(tinyBDB(header)[:600])
	f.Add(tinyNDB(header)[:600])
	f.Add([]byte("000000000000\x00\x00\x00\x000000000000000000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		_ = checkNDB(r, int64(len(data)))
		_ = checkBDB(r, int64(len(data)))
		_ = checkHeader(data)
	})
}

func fuzzCatalog(t *testing.T, data []byte) {
	// Most mutations fail the pre-checks, which Catalog runs first: run
	// them in memory, so that the fuzzer is not slowed down by files.
	if !bytes.HasPrefix(data, sqliteMagic) {
		r := bytes.NewReader(data)
		check := checkBDB
		if isNDB(data) {
			check = checkNDB
		}
		if check(r, int64(len(data))) != nil {
			return
		}
	}
	file := filepath.Join(t.TempDir(), "Packages")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	pkgs, err := catalog(t, file, "var/lib/rpm/Packages")
	if err != nil && len(pkgs) > 0 && !strings.Contains(err.Error(), "without name or version") {
		t.Fatalf("packages together with error %v", err)
	}
	for _, p := range pkgs {
		if p.Name == "" || p.Version == "" || p.Name == "gpg-pubkey" {
			t.Fatalf("bad package %+v", p)
		}
	}
}
