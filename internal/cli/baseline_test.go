package cli

import (
	"archive/zip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// baselineRecord is the real GitHub advisory (cookie, CVE-2024-47764)
// that the database change adds.
const baselineRecord = "GHSA-pxg6-pf52-xh8x.json"

// copyZip copies the OSV zip src to dir/npm/all.zip, leaving out the
// entry named skip, and returns the new file's path and the left-out
// entry's bytes.
func copyZip(t *testing.T, src, dir, skip string) (string, []byte) {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := filepath.Join(dir, "npm", "all.zip")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(fh)
	var skipped []byte
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == skip {
			skipped = data
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: f.Modified})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	if skipped == nil {
		t.Fatalf("%s has no %s", src, skip)
	}
	return out, skipped
}

// writeToZip writes one more OSV record into the zip at path.
func writeToZip(t *testing.T, path, name string, record []byte) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".new"
	fh, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(fh)
	for _, f := range zr.File {
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	zr.Close()
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(record); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

type baselineDoc struct {
	Database struct {
		Version string `json:"version"`
	} `json:"database"`
	Findings []struct {
		ID      string   `json:"id"`
		Aliases []string `json:"aliases"`
		Change  string   `json:"change"`
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
	} `json:"findings"`
	Baseline *struct {
		Path            string `json:"path"`
		DatabaseVersion string `json:"databaseVersion"`
		New             int    `json:"new"`
		Unchanged       int    `json:"unchanged"`
		Fixed           []struct {
			ID      string `json:"id"`
			Package string `json:"package"`
		} `json:"fixed"`
	} `json:"baseline"`
}

func readBaselineDoc(t *testing.T, data string) baselineDoc {
	t.Helper()
	var d baselineDoc
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return d
}

// TestBaselineOneAdvisoryAdded scans the app image, adds one real OSV
// record to a copy of the npm feed, and scans again with the first report
// as baseline: exactly the finding of that record is new, every other one
// unchanged, none fixed; the other way round it is the one fixed. The
// thresholds count only it with --new-only, and each report names the
// database version `vigil db status` gives.
func TestBaselineOneAdvisoryAdded(t *testing.T) {
	image := "oci:" + testenv.Image(t, "debian-bullseye-app") + ":latest"
	cache, work := t.TempDir(), t.TempDir()
	npm, record := copyZip(t, testenv.Shared(t, "vulndb/osv/npm/all.zip"), filepath.Join(work, "before"), baselineRecord)
	var rec struct {
		ID       string   `json:"id"`
		Aliases  []string `json:"aliases"`
		Affected []struct {
			Package struct{ Name string } `json:"package"`
		} `json:"affected"`
	}
	if err := json.Unmarshal(record, &rec); err != nil || len(rec.Affected) != 1 {
		t.Fatalf("%s: %v", baselineRecord, err)
	}
	recordIDs := append([]string{rec.ID}, rec.Aliases...)

	env := map[string]string{"VIGIL_CACHE_DIR": cache, "HOME": cache}
	dbVersion := func() string {
		out, _ := runVigilEnv(t, env, "db", "status", "--json")
		var st struct{ Version, Digest string }
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatal(err)
		}
		if !vulndb.ValidVersion(st.Version) || !strings.HasSuffix(st.Version, st.Digest[len("sha256:"):][:12]) {
			t.Fatalf("db status: version %q, digest %q", st.Version, st.Digest)
		}
		text, _ := runVigilEnv(t, env, "db", "status")
		if !strings.Contains(text, "version "+st.Version) {
			t.Errorf("db status does not say version %s:\n%s", st.Version, text)
		}
		return st.Version
	}
	runVigilEnv(t, env, "db", "import", testenv.Shared(t, "vulndb/osv/Go/all.zip"), npm, testenv.Shared(t, "vulndb/nvd/cves-page-0.json"))
	before := dbVersion()
	beforeReport := filepath.Join(work, "before.json")
	runVigilEnv(t, env, "scan", image, "--format", "json", "--output", beforeReport)

	writeToZip(t, npm, baselineRecord, record)
	runVigilEnv(t, env, "db", "import", npm)
	after := dbVersion()
	if after == before {
		t.Fatalf("the database changed but its version %s did not", after)
	}
	out, _ := runVigilEnv(t, env, "scan", image, "--format", "json", "--baseline", beforeReport)
	doc := readBaselineDoc(t, out)
	if doc.Database.Version != after {
		t.Errorf("report's database version %q, db status says %q", doc.Database.Version, after)
	}
	var added []string
	unchanged := 0
	for _, f := range doc.Findings {
		switch f.Change {
		case "new":
			added = append(added, f.Package.Name+" "+f.ID)
			if f.Package.Name != rec.Affected[0].Package.Name || !overlaps(append([]string{f.ID}, f.Aliases...), recordIDs) {
				t.Errorf("new finding %s %s is not the added advisory %s", f.Package.Name, f.ID, rec.ID)
			}
		case "unchanged":
			unchanged++
		default:
			t.Errorf("finding %s %s: change %q", f.Package.Name, f.ID, f.Change)
		}
	}
	if len(added) != 1 {
		t.Fatalf("new findings %v, want exactly the one of %s", added, rec.ID)
	}
	b := doc.Baseline
	if b == nil || b.New != 1 || b.Unchanged != unchanged || unchanged != len(doc.Findings)-1 || len(b.Fixed) != 0 || b.DatabaseVersion != before || b.Path != beforeReport {
		t.Errorf("baseline summary %+v (findings %d, before version %s)", b, len(doc.Findings), before)
	}

	table, _ := runVigilEnv(t, env, "scan", image, "--baseline", beforeReport)
	for _, want := range []string{"  CHANGE     ID", "new        " + added[0][len(rec.Affected[0].Package.Name)+1:],
		"Since baseline: 1 new, " + itoa(unchanged) + " unchanged, 0 fixed (its database " + before + ")", "  baseline " + beforeReport + ", scanned ",
		"Vulnerability database: " + after} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}

	// Thresholds: the app image has HIGH findings, none of them new; the
	// new one is MEDIUM.
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"--fail-on", "high"}, ExitVulnerable},
		{[]string{"--fail-on", "high", "--new-only"}, 0},
		{[]string{"--fail-on", "medium", "--new-only"}, ExitVulnerable},
		{[]string{"--max-medium", "0", "--new-only"}, ExitVulnerable},
		{[]string{"--max-medium", "1", "--max-high", "0", "--new-only"}, 0},
	} {
		args := append([]string{"scan", image, "--baseline", beforeReport, "--allow-partial-coverage", "--format", "json"}, c.args...)
		if code, _, errs := runVigilCode(env, args...); code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s", c.args, code, c.code, errs)
		}
	}
	if code, _, errs := runVigilCode(env, "scan", image, "--new-only", "--fail-on", "high"); code != 2 || !strings.Contains(errs, "--new-only needs --baseline") {
		t.Errorf("--new-only without --baseline: exit %d\n%s", code, errs)
	}

	// The other way round: the later report as baseline of a scan with
	// the database before the change.
	afterReport := filepath.Join(work, "after.json")
	runVigilEnv(t, env, "scan", image, "--format", "json", "--output", afterReport)
	npmBefore, _ := copyZip(t, testenv.Shared(t, "vulndb/osv/npm/all.zip"), filepath.Join(work, "again"), baselineRecord)
	runVigilEnv(t, env, "db", "import", npmBefore)
	out, _ = runVigilEnv(t, env, "scan", image, "--format", "json", "--baseline", afterReport)
	doc = readBaselineDoc(t, out)
	if b := doc.Baseline; b == nil || b.New != 0 || len(b.Fixed) != 1 || b.Fixed[0].Package != rec.Affected[0].Package.Name ||
		!overlaps([]string{b.Fixed[0].ID}, recordIDs) || b.DatabaseVersion != after {
		t.Errorf("against the later report: %+v, want exactly %s fixed", b, rec.ID)
	}
}

// TestBaselineRefusesOtherFiles: --baseline names what is wrong with a
// file that is not a Vigil JSON report, before scanning anything.
func TestBaselineRefusesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct{ data, want string }{
		"sarif.json":  {`{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","runs":[]}`, `no "schema"`},
		"text.json":   {"Total: 3", "not a Vigil JSON report"},
		"other.json":  {`{"schema":"https://github.com/vigilsec/vigil/schemas/report/v9"}`, `schema "https://github.com/vigilsec/vigil/schemas/report/v9"`},
		"nopkg.json":  {`{"schema":"https://github.com/vigilsec/vigil/schemas/report/v1","findings":[{"id":"CVE-2024-1"}]}`, "findings[0]: a finding needs an id and a package name"},
		"absent.json": {"", "no such file"},
	} {
		p := filepath.Join(dir, name)
		if c.data != "" {
			if err := os.WriteFile(p, []byte(c.data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		code, _, errs := runVigilCode(map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}, "scan", "dir:"+dir, "--baseline", p)
		if code != 1 || !strings.Contains(errs, c.want) || !strings.Contains(errs, p) {
			t.Errorf("%s: exit %d, want 1 and %q naming the file:\n%s", name, code, c.want, errs)
		}
	}
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
