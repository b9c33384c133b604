package osv

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vuln"
)

var ecosystems = []string{"Go", "PyPI", "crates.io", "AlmaLinux"}

// pythonCount reads a zip with Python's zipfile and json modules and
// prints what the test compares: records, withdrawn records, affected
// entries in total and per ecosystem.
const pythonCount = `
import json, sys, zipfile, collections
z = zipfile.ZipFile(sys.argv[1])
out = {"records": 0, "withdrawn": 0, "affected": 0, "ecosystems": collections.Counter()}
for name in z.namelist():
    if not name.endswith(".json"):
        continue
    d = json.loads(z.read(name))
    out["records"] += 1
    out["withdrawn"] += "withdrawn" in d
    for a in d.get("affected") or []:
        out["affected"] += 1
        out["ecosystems"][a.get("package", {}).get("ecosystem", "")] += 1
json.dump(out, sys.stdout)
`

type counts struct {
	Records    int            `json:"records"`
	Withdrawn  int            `json:"withdrawn"`
	Affected   int            `json:"affected"`
	Ecosystems map[string]int `json:"ecosystems"`
}

// TestRealZips reads the real osv.dev zips and compares ids with unzip's
// listing (osv.dev names each entry after its record's id) and counts
// with an independent reading in Python.
func TestRealZips(t *testing.T) {
	unzip := testenv.Tool(t, "unzip")
	python := testenv.Tool(t, "python3")
	for _, eco := range ecosystems {
		t.Run(eco, func(t *testing.T) {
			zpath := testenv.Shared(t, "vulndb/osv/"+eco+"/all.zip")

			out, err := exec.Command(unzip, "-Z1", zpath).Output()
			if err != nil {
				t.Fatalf("unzip -Z1: %v", err)
			}
			var wantIDs []string
			for _, name := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if id, ok := strings.CutSuffix(name, ".json"); ok {
					wantIDs = append(wantIDs, id)
				}
			}
			sort.Strings(wantIDs)

			out, err = exec.Command(python, "-c", pythonCount, zpath).Output()
			if err != nil {
				t.Fatalf("python3: %v", err)
			}
			var want counts
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatal(err)
			}

			got := counts{Ecosystems: map[string]int{}}
			var gotIDs []string
			f, err := os.Open(zpath)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			info, _ := f.Stat()
			errs, err := ReadZip(f, info.Size(), func(a *vuln.Advisory) error {
				if a.Source != "osv" {
					t.Errorf("%s: Source = %q", a.ID, a.Source)
				}
				gotIDs = append(gotIDs, a.ID)
				got.Records++
				if a.Withdrawn != nil {
					got.Withdrawn++
				}
				got.Affected += len(a.Affected)
				for _, af := range a.Affected {
					got.Ecosystems[af.Package.Ecosystem]++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range errs {
				t.Errorf("record error: %v", e)
			}
			sort.Strings(gotIDs)
			if strings.Join(gotIDs, "\n") != strings.Join(wantIDs, "\n") {
				t.Errorf("ids differ from unzip's listing: got %d, want %d", len(gotIDs), len(wantIDs))
			}
			if got.Records != want.Records || got.Withdrawn != want.Withdrawn || got.Affected != want.Affected {
				t.Errorf("got %d records, %d withdrawn, %d affected; python says %d, %d, %d",
					got.Records, got.Withdrawn, got.Affected, want.Records, want.Withdrawn, want.Affected)
			}
			if !equalCounts(got.Ecosystems, want.Ecosystems) {
				t.Errorf("affected per ecosystem: got %v, python says %v", got.Ecosystems, want.Ecosystems)
			}
		})
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRealRecordKept checks that a real record survives whole: the Go
// database's zeroed timestamps, its ecosystem_specific symbols and its
// database_specific URL.
func TestRealRecordKept(t *testing.T) {
	python := testenv.Tool(t, "python3")
	zpath := testenv.Shared(t, "vulndb/osv/Go/all.zip")
	zr, err := zip.OpenReader(zpath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	// The first record whose affected entries carry import symbols.
	var name string
	var data []byte
	for _, f := range zr.File {
		b := readAll(t, f)
		if bytes.Contains(b, []byte(`"imports"`)) {
			name, data = f.Name, b
			break
		}
	}
	if data == nil {
		t.Fatal("no Go record with ecosystem_specific.imports")
	}
	a, err := Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !a.Modified.IsZero() {
		t.Errorf("modified = %v, want the zero time the Go repository carries", a.Modified)
	}
	// Python says what the raw ecosystem_specific of the first affected
	// entry and the record's database_specific are.
	const script = `
import json, sys, zipfile
d = json.loads(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))
json.dump([d["affected"][0]["ecosystem_specific"], d["database_specific"]], sys.stdout, sort_keys=True)
`
	out, err := exec.Command(python, "-c", script, zpath, name).Output()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal([]any{normalize(t, a.Affected[0].EcosystemSpecific), normalize(t, a.DatabaseSpecific)})
	var want []any
	json.Unmarshal(out, &want)
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Errorf("raw fields differ:\ngot  %s\nwant %s", got, wantJSON)
	}
}

func normalize(t *testing.T, raw json.RawMessage) any {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func readAll(t testing.TB, f *zip.File) []byte {
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const goodRecord = `{"schema_version":"1.3.1","id":%q,"modified":"0001-01-01T00:00:00Z","published":"0001-01-01T00:00:00Z",
"affected":[{"package":{"ecosystem":"Go","name":"example.com/m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.3"}]}],
"ecosystem_specific":{"imports":[{"path":"example.com/m","symbols":["F"]}]}}],
"database_specific":{"url":"https://pkg.go.dev/vuln/x"}}`

func record(id string) string { return strings.Replace(goodRecord, "%q", `"`+id+`"`, 1) }

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    string
		wantErr string // empty: valid
	}{
		{"valid", record("GO-1"), ""},
		{"id missing", `{"modified":"2024-01-01T00:00:00Z"}`, "missing id"},
		{"not json", `{"id":`, "decode"},
		{"bad timestamp", `{"id":"X-1","modified":"yesterday"}`, "decode"},
		{"no package name", `{"id":"X-1","affected":[{"package":{"ecosystem":"npm"}}]}`, "package.name missing"},
		{"no ecosystem", `{"id":"X-1","affected":[{"package":{"name":"a"}}]}`, "package.ecosystem missing"},
		{"withdrawn without package", `{"id":"X-1","withdrawn":"2024-01-01T00:00:00Z","affected":[{"package":{}}]}`, ""},
		{"git-only without package", `{"id":"CVE-1","affected":[{"ranges":[{"type":"GIT","repo":"https://x","events":[{"introduced":"0"},{"fixed":"abc"}]}]}]}`, ""},
		{"git without repo", `{"id":"X-1","affected":[{"ranges":[{"type":"GIT","events":[{"introduced":"0"}]}]}]}`, "without repo"},
		{"unknown range type", `{"id":"X-1","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"DATE","events":[{"introduced":"0"}]}]}]}`, `unknown range type "DATE"`},
		{"event with two fields", `{"id":"X-1","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1"}]}]}]}`, "2 fields set"},
		{"empty event", `{"id":"X-1","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{}]}]}]}`, "events[1] has 0 fields"},
		{"unknown event field only", `{"id":"X-1","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixd":"1"}]}]}]}`, "0 fields"},
		{"no events", `{"id":"X-1","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[]}]}]}`, "no events"},
		{"no introduced", `{"id":"X-1","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"fixed":"1"}]}]}]}`, "no introduced"},
		{"newer schema is not a Parse error", `{"id":"X-1","schema_version":"2.0.0"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Parse([]byte(tc.data))
			if tc.wantErr == "" {
				if err != nil || a == nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "osv: ") {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if a != nil {
				t.Error("an advisory came back with the error")
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	data := []byte(`{"id":"X-1","details":"` + strings.Repeat("a", maxRecordSize) + `"}`)
	if _, err := Parse(data); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("error %v, want a size error", err)
	}
}

func TestSchemaWarning(t *testing.T) {
	for v, warn := range map[string]bool{
		"": false, "1.0.0": false, "1.3.1": false, "1.7.3": false, "1.7": false,
		"1.8.0": true, "2.0.0": true, "x": true, "1.x": true,
	} {
		if got := schemaWarning(v) != nil; got != warn {
			t.Errorf("schemaWarning(%q) = %v, want %v", v, got, warn)
		}
	}
}

type entry struct {
	name string
	data []byte
}

func makeZip(t testing.TB, entries []entry) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func collect(t *testing.T, read func(fn func(*vuln.Advisory) error) ([]error, error)) ([]string, []error) {
	t.Helper()
	var ids []string
	errs, err := read(func(a *vuln.Advisory) error {
		ids = append(ids, a.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, errs
}

// TestReadZipMalformed puts broken records among good ones: the good ones
// still come out and every error names the bad entry (and its id when the
// record could be decoded).
func TestReadZipMalformed(t *testing.T) {
	z := makeZip(t, []entry{
		{"GO-1.json", []byte(record("GO-1"))},
		{"BROKEN.json", []byte(`{"id": "GO-2", `)},
		{"ALSA-2022:8256.json", []byte(record("ALSA-2022:8256"))},
		{"NONAME.json", []byte(`{"id":"GO-3","affected":[{"package":{"ecosystem":"Go"}}]}`)},
		{"NEWER.json", []byte(`{"id":"GO-4","schema_version":"1.9.0"}`)},
		{"README.md", []byte("not a record")},
		{"dir/", nil},
		{"GO-5.json", []byte(record("GO-5"))},
	})
	ids, errs := collect(t, func(fn func(*vuln.Advisory) error) ([]error, error) {
		return ReadZip(bytes.NewReader(z), int64(len(z)), fn)
	})
	if got, want := strings.Join(ids, " "), "GO-1 ALSA-2022:8256 GO-4 GO-5"; got != want {
		t.Errorf("delivered %s, want %s", got, want)
	}
	if len(errs) != 3 {
		t.Fatalf("errors %v, want 3", errs)
	}
	for i, want := range []RecordError{
		{Entry: "BROKEN.json"},
		{Entry: "NONAME.json", ID: "GO-3"},
		{Entry: "NEWER.json", ID: "GO-4", Warning: true},
	} {
		var re *RecordError
		if !errors.As(errs[i], &re) || re.Entry != want.Entry || re.ID != want.ID || re.Warning != want.Warning {
			t.Errorf("error %d = %v, want entry %s id %q warning %v", i, errs[i], want.Entry, want.ID, want.Warning)
		}
		if !strings.Contains(errs[i].Error(), want.Entry) {
			t.Errorf("message %q does not name the entry", errs[i])
		}
	}
}

func TestReadZipUnreadable(t *testing.T) {
	data := []byte("this is not a zip archive at all")
	if _, err := ReadZip(bytes.NewReader(data), int64(len(data)), func(*vuln.Advisory) error { return nil }); err == nil || !strings.HasPrefix(err.Error(), "osv: open zip") {
		t.Fatalf("error %v, want an open error", err)
	}
}

func TestReadZipStopsOnCallbackError(t *testing.T) {
	z := makeZip(t, []entry{{"A-1.json", []byte(record("A-1"))}, {"A-2.json", []byte(record("A-2"))}})
	stop := errors.New("stop")
	n := 0
	_, err := ReadZip(bytes.NewReader(z), int64(len(z)), func(*vuln.Advisory) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("err %v after %d records, want the callback's error after 1", err, n)
	}
}

// TestReadZipBomb checks both bounds: one entry larger than a record may
// be is a per-record error; a zip that inflates far beyond its size stops
// the read.
func TestReadZipBomb(t *testing.T) {
	zeros := bytes.Repeat([]byte{' '}, 1<<20)
	big := append(append([]byte(`{"id":"BIG-1","details":"`), zeros...), `"}`...)
	z := makeZip(t, []entry{
		{"A-1.json", []byte(record("A-1"))},
		{"BIG-1.json", big},
		{"A-2.json", []byte(record("A-2"))},
	})
	lim := limits{record: 64 << 10, entries: 10, inflateBase: 4 << 20, inflateRatio: 100}
	ids, errs := collect(t, func(fn func(*vuln.Advisory) error) ([]error, error) {
		return readZip(bytes.NewReader(z), int64(len(z)), lim, fn)
	})
	if strings.Join(ids, " ") != "A-1 A-2" || len(errs) != 1 || !strings.Contains(errs[0].Error(), "BIG-1.json") {
		t.Errorf("got %v, %v; want A-1 A-2 and an error naming BIG-1.json", ids, errs)
	}

	// Many highly compressible entries: each is within the record limit,
	// together they inflate far more than 100 times the zip's size.
	var many []entry
	for i := range 64 {
		many = append(many, entry{name: string(rune('a'+i%26)) + strings.Repeat("x", i/26) + ".json", data: big})
	}
	z = makeZip(t, many)
	lim = limits{record: 2 << 20, entries: 100, inflateBase: 0, inflateRatio: 100}
	_, err := readZip(bytes.NewReader(z), int64(len(z)), lim, func(*vuln.Advisory) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "zip bomb") {
		t.Errorf("error %v, want the zip refused as a bomb (zip is %d bytes)", err, len(z))
	}

	lim = limits{record: 2 << 20, entries: 10, inflateBase: 1 << 30, inflateRatio: 100}
	if _, err := readZip(bytes.NewReader(z), int64(len(z)), lim, func(*vuln.Advisory) error { return nil }); err == nil || !strings.Contains(err.Error(), "entries") {
		t.Errorf("error %v, want too many entries", err)
	}
}

func TestReadDir(t *testing.T) {
	fsys := fstest.MapFS{
		"advisories/2024/GHSA-1.json":   {Data: []byte(record("GHSA-1"))},
		"advisories/2024/bad.json":      {Data: []byte(`[]`)},
		"advisories/README.md":          {Data: []byte("# not a record")},
		".git/objects/x.json":           {Data: []byte(`not json`)},
		"advisories/.hidden.json":       {Data: []byte(`not json`)},
		"advisories/2023/GHSA-0.json":   {Data: []byte(record("GHSA-0"))},
		"advisories/2023/ALSA-1:2.json": {Data: []byte(record("ALSA-1:2"))},
	}
	ids, errs := collect(t, func(fn func(*vuln.Advisory) error) ([]error, error) { return ReadDir(fsys, fn) })
	if got, want := strings.Join(ids, " "), "ALSA-1:2 GHSA-0 GHSA-1"; got != want {
		t.Errorf("delivered %s, want %s", got, want)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "advisories/2024/bad.json") {
		t.Errorf("errors %v, want one naming bad.json", errs)
	}
}

// TestReadDirReal unpacks a real zip into a directory and reads it back:
// the same records come out as from the zip.
func TestReadDirReal(t *testing.T) {
	zpath := testenv.Shared(t, "vulndb/osv/crates.io/all.zip")
	zr, err := zip.OpenReader(zpath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	dir := t.TempDir()
	var want []string
	for _, f := range zr.File {
		if err := os.WriteFile(filepath.Join(dir, f.Name), readAll(t, f), 0o644); err != nil {
			t.Fatal(err)
		}
		want = append(want, strings.TrimSuffix(f.Name, ".json"))
	}
	sort.Strings(want)
	ids, errs := collect(t, func(fn func(*vuln.Advisory) error) ([]error, error) { return ReadDir(os.DirFS(dir), fn) })
	if len(errs) != 0 {
		t.Errorf("errors: %v", errs)
	}
	if strings.Join(ids, "\n") != strings.Join(want, "\n") {
		t.Errorf("read %d records from the directory, want %d", len(ids), len(want))
	}
}

func BenchmarkReadZip(b *testing.B) {
	type zipFile struct {
		data []byte
	}
	var zips []zipFile
	var total int64
	for _, eco := range []string{"Go", "AlmaLinux"} {
		data, err := os.ReadFile(testenv.Shared(b, "vulndb/osv/"+eco+"/all.zip"))
		if err != nil {
			b.Fatal(err)
		}
		zips = append(zips, zipFile{data})
		total += int64(len(data))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		for _, z := range zips {
			if _, err := ReadZip(bytes.NewReader(z.data), int64(len(z.data)), func(*vuln.Advisory) error {
				records++
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(record("GO-2024-0001")))
	f.Add([]byte(`{"id":"X","withdrawn":"2024-01-01T00:00:00Z","affected":[{"package":{}}]}`))
	f.Add([]byte(`{"id":"CVE-1","affected":[{"ranges":[{"type":"GIT","repo":"r","events":[{"introduced":"0"},{"limit":"x"}]}]}]}`))
	f.Add([]byte(`{"id":"X","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1"}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Parse(data)
		if err != nil {
			if a != nil {
				t.Fatal("advisory returned with an error")
			}
			return
		}
		if a.ID == "" {
			t.Fatal("valid advisory without id")
		}
		if err := validate(a); err != nil {
			t.Fatalf("Parse accepted what validate rejects: %v", err)
		}
		// What Parse accepts survives a round trip.
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
	})
}
