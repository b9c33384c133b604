package reach_test

import (
	"archive/zip"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/gobin"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/reach"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vuln"
)

// goAdvisories reads the shared copy of the Go vulnerability database
// (OSV's all.zip for the Go ecosystem), as published.
func goAdvisories(t *testing.T) (map[string]*vuln.Advisory, map[string][]byte) {
	t.Helper()
	zr, err := zip.OpenReader(testenv.Shared(t, "vulndb/osv/Go/all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	advs, raw := map[string]*vuln.Advisory{}, map[string][]byte{}
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		var a vuln.Advisory
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		advs[a.ID], raw[a.ID] = &a, b
	}
	if len(advs) < 1000 {
		t.Fatalf("only %d Go advisories", len(advs))
	}
	return advs, raw
}

// govulncheckDB lays the advisories out as the Go vulnerability database
// that govulncheck reads with -db file://…: index/db.json,
// index/modules.json, index/vulns.json and ID/<id>.json.
func govulncheckDB(t *testing.T, advs map[string]*vuln.Advisory, raw map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"index", "ID"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	type ref struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Aliases  []string  `json:"aliases,omitempty"`
	}
	mods := map[string][]ref{}
	var vulns []ref
	var latest time.Time
	for id, a := range advs {
		if err := os.WriteFile(filepath.Join(dir, "ID", id+".json"), raw[id], 0o644); err != nil {
			t.Fatal(err)
		}
		vulns = append(vulns, ref{ID: id, Modified: a.Modified, Aliases: a.Aliases})
		if a.Modified.After(latest) {
			latest = a.Modified
		}
		for _, af := range a.Affected {
			if !slices.ContainsFunc(mods[af.Package.Name], func(r ref) bool { return r.ID == id }) {
				mods[af.Package.Name] = append(mods[af.Package.Name], ref{ID: id, Modified: a.Modified})
			}
		}
	}
	type module struct {
		Path  string `json:"path"`
		Vulns []ref  `json:"vulns"`
	}
	var modules []module
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range mods {
			if !yield(p) {
				return
			}
		}
	}) {
		modules = append(modules, module{Path: p, Vulns: mods[p]})
	}
	write := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "index", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("db.json", map[string]time.Time{"modified": latest})
	write("modules.json", modules)
	write("vulns.json", vulns)
	return dir
}

// verdict is govulncheck's answer for one vulnerability: the module it
// was found in, and whether a vulnerable function is in the binary (a
// finding whose trace names a function) or only the module or package.
type verdict struct {
	module   string
	function bool
}

// govulncheck runs govulncheck in binary mode and returns its verdict per
// OSV id it reports.
func govulncheck(t *testing.T, db, bin string) map[string]verdict {
	t.Helper()
	tool := testenv.Tool(t, "govulncheck")
	cmd := exec.Command(tool, "-db", "file://"+db, "-mode", "binary", "-json", bin)
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("govulncheck: %v\n%s", err, out)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	found := map[string]verdict{}
	for {
		var msg struct {
			Finding *struct {
				OSV   string `json:"osv"`
				Trace []struct {
					Module, Package, Function string
				} `json:"trace"`
			} `json:"finding"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("govulncheck output: %v", err)
		}
		if f := msg.Finding; f != nil && len(f.Trace) > 0 {
			v := found[f.OSV]
			v.module = f.Trace[0].Module
			v.function = v.function || f.Trace[0].Function != ""
			found[f.OSV] = v
		}
	}
	if len(found) == 0 {
		t.Fatalf("govulncheck reported nothing:\n%.2000s", out)
	}
	return found
}

// TestAgainstGovulncheck decides reachability for every vulnerability
// govulncheck finds in the real app image's Go binary, with the same
// advisories, and compares: reachable exactly when govulncheck finds a
// vulnerable function in the binary. Advisories that apply to the
// binary's module versions but that govulncheck leaves out as being for
// another platform must come out unreachable too.
func TestAgainstGovulncheck(t *testing.T) {
	bin, _ := testenv.ImageFile(t, "debian-bullseye-app", "usr/local/bin/vulnfixture")
	f, c, err := analyze.OpenFile("usr/local/bin/vulnfixture", bin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pkgs, err := gobin.Cataloger{}.Catalog(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*inventory.Package{}
	for i := range pkgs {
		byName[pkgs[i].Name] = &pkgs[i]
	}
	advs, raw := goAdvisories(t)
	ref := govulncheck(t, govulncheckDB(t, advs, raw), bin)

	reachable := 0
	for id, v := range ref {
		a, p := advs[id], byName[v.module]
		if a == nil || p == nil {
			t.Fatalf("govulncheck reports %s in %s: not in the data or the binary", id, v.module)
		}
		r := reach.Go(p, []*vuln.Advisory{a})
		if !r.Known {
			t.Errorf("%s in %s: not decided", id, p.Name)
			continue
		}
		if r.Reachable != v.function {
			t.Errorf("%s in %s: reachable %v (%s); govulncheck found a vulnerable function: %v", id, p.Name, r.Reachable, r.Why, v.function)
		}
		if r.Reachable {
			reachable++
		}
		t.Logf("%s %s: reachable %v: %s", id, p.Name, r.Reachable, r.Why)
	}
	if len(ref) < 5 || reachable == 0 || reachable == len(ref) {
		t.Errorf("%d vulnerabilities, %d reachable: the comparison tells little", len(ref), reachable)
	}

	// GO-2026-5024 is in golang.org/x/sys/windows, for windows only, and
	// affects the binary's x/sys version; govulncheck does not report it.
	const windowsOnly = "GO-2026-5024"
	if _, ok := ref[windowsOnly]; ok {
		t.Fatalf("govulncheck reports %s for a linux binary", windowsOnly)
	}
	r := reach.Go(byName["golang.org/x/sys"], []*vuln.Advisory{advs[windowsOnly]})
	if !r.Known || r.Reachable || !strings.Contains(r.Why, "windows") || !strings.Contains(r.Why, "linux/amd64") {
		t.Errorf("%s: %+v", windowsOnly, r)
	}
}

// TestUndecided: without a function table, without import data, or for
// another module, nothing is decided, so the finding keeps its score.
func TestUndecided(t *testing.T) {
	withCode := &inventory.Package{Name: "example.com/m", Type: inventory.Go, GoCode: &inventory.GoCode{
		Packages: map[string][]string{"example.com/m/p": {"F", "T.M"}}, GOOS: "linux", GOARCH: "amd64"}}
	noCode := &inventory.Package{Name: "example.com/m", Type: inventory.Go}
	adv := func(es string) *vuln.Advisory {
		a := &vuln.Advisory{ID: "GO-TEST", Affected: []vuln.Affected{{Package: vuln.Package{Ecosystem: "Go", Name: "example.com/m"}}}}
		if es != "" {
			a.Affected[0].EcosystemSpecific = json.RawMessage(es)
		}
		return a
	}
	for _, tc := range []struct {
		name string
		pkg  *inventory.Package
		adv  *vuln.Advisory
		want reach.Result
	}{
		{"no function table", noCode, adv(`{"imports":[{"path":"example.com/m/q"}]}`), reach.Result{}},
		{"no import data", withCode, adv(""), reach.Result{}},
		{"empty imports", withCode, adv(`{"imports":[]}`), reach.Result{}},
		{"unreadable imports", withCode, adv(`{"imports":"x"}`), reach.Result{}},
		{"another module", &inventory.Package{Name: "example.com/other", Type: inventory.Go, GoCode: withCode.GoCode}, adv(`{"imports":[{"path":"example.com/m/q"}]}`), reach.Result{}},
	} {
		if got := reach.Go(tc.pkg, []*vuln.Advisory{tc.adv}); got != tc.want {
			t.Errorf("%s: %+v", tc.name, got)
		}
	}
	for _, tc := range []struct {
		name, es  string
		reachable bool
	}{
		{"package present, no symbols named", `{"imports":[{"path":"example.com/m/p"}]}`, true},
		{"method present", `{"imports":[{"path":"example.com/m/p","symbols":["T.M","G"]}]}`, true},
		{"function absent", `{"imports":[{"path":"example.com/m/p","symbols":["G"]}]}`, false},
		{"package absent", `{"imports":[{"path":"example.com/m/q"}]}`, false},
		{"other platform", `{"imports":[{"path":"example.com/m/p","goos":["windows"]}]}`, false},
		{"this platform", `{"imports":[{"path":"example.com/m/p","goos":["linux"],"goarch":["amd64"],"symbols":["F"]}]}`, true},
		{"one of two entries", `{"imports":[{"path":"example.com/m/q"},{"path":"example.com/m/p","symbols":["F"]}]}`, true},
	} {
		got := reach.Go(withCode, []*vuln.Advisory{adv(tc.es)})
		if !got.Known || got.Reachable != tc.reachable || got.Why == "" {
			t.Errorf("%s: %+v, want reachable %v", tc.name, got, tc.reachable)
		}
	}
}
