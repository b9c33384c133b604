package updateinfo

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vuln"
)

func parseFile(t *testing.T, path, eco string) ([]vuln.Advisory, []error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vuln.Advisory
	errs, err := Parse(f, eco, func(a *vuln.Advisory) error { out = append(out, *a); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return out, errs
}

// alasJSON is the shared ALAS record, read without this package's code.
type alasJSON struct {
	ID     string `json:"id"`
	Issued struct {
		Date string `json:"date"`
	} `json:"issued"`
	Updated struct {
		Date string `json:"date"`
	} `json:"updated"`
	Severity string   `json:"severity"`
	CVEIDs   []string `json:"cveids"`
	Packages []struct {
		Name, Epoch, Version, Release string
	} `json:"packages"`
}

// TestConvertedALAS reads the updateinfo documents converted from the 47
// shared ALAS records and checks each advisory against its JSON record.
func TestConvertedALAS(t *testing.T) {
	for _, rel := range []struct{ dir, file, eco string }{
		{"2", "testdata/amazon/2/updateinfo.xml.gz", "Amazon Linux:2"},
		{"2023", "testdata/amazon/2023/updateinfo.xml", "Amazon Linux:2023"},
	} {
		t.Run(rel.dir, func(t *testing.T) {
			advs, errs := parseFile(t, rel.file, rel.eco)
			if len(errs) > 0 {
				t.Fatalf("record errors: %v", errs)
			}
			files, _ := filepath.Glob(filepath.Join(testenv.Shared(t, "vulndb/amazon/"+rel.dir), "*.json"))
			if len(files) == 0 || len(advs) != len(files) {
				t.Fatalf("%d advisories for %d records", len(advs), len(files))
			}
			byID := map[string]vuln.Advisory{}
			for _, a := range advs {
				byID[a.ID] = a
			}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				var rec alasJSON
				if err := json.Unmarshal(b, &rec); err != nil {
					t.Fatal(err)
				}
				a, ok := byID[rec.ID]
				if !ok {
					t.Errorf("%s missing", rec.ID)
					continue
				}
				issued, _ := time.Parse("2006-01-02 15:04:05", rec.Issued.Date)
				updated, _ := time.Parse("2006-01-02 15:04:05", rec.Updated.Date)
				if !a.Published.Equal(issued) || !a.Modified.Equal(updated) {
					t.Errorf("%s: published %v modified %v, want %v %v", rec.ID, a.Published, a.Modified, issued, updated)
				}
				if !strings.EqualFold(a.VendorSeverity, rec.Severity) || a.VendorSeverity[:1] != strings.ToUpper(rec.Severity[:1]) {
					t.Errorf("%s: severity %q from %q", rec.ID, a.VendorSeverity, rec.Severity)
				}
				cves := slices.Clone(rec.CVEIDs)
				sort.Strings(cves)
				cves = slices.Compact(cves)
				if !slices.Equal(a.Aliases, cves) {
					t.Errorf("%s: aliases %v, want %v", rec.ID, a.Aliases, cves)
				}
				want := map[string]string{}
				for _, p := range rec.Packages {
					evr := p.Version + "-" + p.Release
					if p.Epoch != "0" && p.Epoch != "" {
						evr = p.Epoch + ":" + evr
					}
					want[p.Name] = evr
				}
				got := map[string]string{}
				for _, af := range a.Affected {
					if af.Package.Ecosystem != rel.eco || len(af.Ranges) != 1 {
						t.Errorf("%s: %+v", rec.ID, af)
						continue
					}
					ev := af.Ranges[0].Events
					if len(ev) != 2 || ev[0].Introduced != "0" {
						t.Errorf("%s: events %+v", rec.ID, ev)
						continue
					}
					got[af.Package.Name] = ev[1].Fixed
				}
				if len(got) != len(want) {
					t.Errorf("%s: %d packages, want %d", rec.ID, len(got), len(want))
				}
				for n, v := range want {
					if got[n] != v {
						t.Errorf("%s: %s fixed %q, want %q", rec.ID, n, got[n], v)
					}
				}
			}
		})
	}
}

// TestCreaterepoFixture reads createrepo_c's own test document: three
// security updates and three enhancements (passed over), one dated with a
// trailing " UTC", packages without an epoch, and module collections.
func TestCreaterepoFixture(t *testing.T) {
	advs, errs := parseFile(t, "testdata/upstream/createrepo_c-updateinfo_03.xml", "Fedora:1")
	// RHEA-2012:0057 is issued "15mangled2": the advisory is kept, dated
	// by its update date, and the bad date is a warning naming it.
	var re *RecordError
	if len(errs) != 1 || !errors.As(errs[0], &re) || !re.Warning || re.ID != "RHEA-2012:0057" || !strings.Contains(re.Error(), "15mangled2") {
		t.Fatalf("record errors %v, want one warning for RHEA-2012:0057's date", errs)
	}
	var ids []string
	for _, a := range advs {
		ids = append(ids, a.ID)
	}
	if want := []string{"RHEA-2012:0055", "RHEA-2012:0056", "RHEA-2012:0057"}; !slices.Equal(ids, want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	bird := advs[1]
	if got := bird.Modified.Format(time.DateTime); got != "2013-02-27 17:00:00" {
		t.Errorf("0056 modified %s", got)
	}
	if got := advs[2].Modified.Format(time.DateTime); got != "2013-01-27 16:08:05" {
		t.Errorf("0057 modified (\"… UTC\") %s", got)
	}
	if !advs[2].Published.IsZero() {
		t.Errorf("0057 published %v from a mangled date", advs[2].Published)
	}
	var stork string
	for _, af := range bird.Affected {
		if af.Package.Name == "stork" {
			stork = af.Ranges[0].Events[1].Fixed
		}
	}
	if len(bird.Affected) != 3 || stork != "0.12-2" {
		t.Errorf("0056 affected %+v", bird.Affected)
	}
	if advs, _ := parseFile(t, "testdata/upstream/createrepo_c-updateinfo_01.xml", "Fedora:1"); len(advs) != 0 {
		t.Errorf("an enhancement was read as an advisory: %+v", advs)
	}
}

func TestParseGzipEqualsPlain(t *testing.T) {
	plain, err := os.ReadFile("testdata/amazon/2023/updateinfo.xml")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	count := func(b []byte) int {
		n := 0
		if _, err := Parse(bytes.NewReader(b), "Amazon Linux:2023", func(*vuln.Advisory) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if a, b := count(plain), count(gz.Bytes()); a != b || a != 27 {
		t.Errorf("plain %d, gzip %d advisories; want 27", a, b)
	}
}

func TestParseBadInput(t *testing.T) {
	good, err := os.ReadFile("testdata/amazon/2023/updateinfo.xml")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(good)
	zw.Close()
	for _, c := range []struct {
		name, in, want string
	}{
		{"not xml", "hello", "no <updates>"},
		{"other root", `<?xml version="1.0"?><repomd></repomd>`, "not <updates>"},
		{"cut short", string(good[:len(good)/2]), "updateinfo:"},
		{"gzip cut short", gz.String()[:gz.Len()/2], "updateinfo:"},
		{"bad gzip", "\x1f\x8bnot gzip", "gzip"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.in), "Amazon Linux:2023", func(*vuln.Advisory) error { return nil })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// Bad records are skipped, named, and the good one still read.
	doc := `<updates>
<update type="security"><id>ALAS-BAD-EPOCH</id><issued date="2024-01-01 00:00:00"/><pkglist><collection><package name="a" epoch="x" version="1" release="1"/></collection></pkglist></update>
<update type="security"><id>ALAS-BAD-DATE</id><issued date="yesterday"/><pkglist><collection><package name="b" version="1" release="1"/></collection></pkglist></update>
<update type="security"><title>no id</title></update>
<update type="security"><id>ALAS-GOOD</id><issued date="2024-01-01"/></update>
</updates>`
	var got []string
	errs, err := Parse(strings.NewReader(doc), "Amazon Linux:2", func(a *vuln.Advisory) error { got = append(got, a.ID); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"ALAS-BAD-DATE", "ALAS-GOOD"}) || len(errs) != 3 {
		t.Fatalf("read %v, errors %v", got, errs)
	}
	var re *RecordError
	if !errors.As(errs[0], &re) || re.ID != "ALAS-BAD-EPOCH" || re.Warning || !strings.Contains(errs[1].Error(), "ALAS-BAD-DATE") || !strings.Contains(errs[2].Error(), "#3") {
		t.Errorf("errors do not name their records: %v", errs)
	}
	// One huge element is refused before it is held in memory.
	huge := "<updates><update><id>X</id><description>" + strings.Repeat("a", maxUpdate+64<<10) + "</description></update></updates>"
	if _, err := Parse(strings.NewReader(huge), "Amazon Linux:2", func(*vuln.Advisory) error { return nil }); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge update: %v", err)
	}
}

// TestKernelChannelIDs: the extras channels' advisories keep their own ids.
func TestKernelChannelIDs(t *testing.T) {
	doc := `<?xml version="1.0" ?><updates>
<update author="linux-security@amazon.com" from="linux-security@amazon.com" status="final" type="security" version="1.4"><id>ALAS2KERNEL-5.10-2024-045</id><title>t</title><issued date="2024-01-19 01:16:00" /><updated date="2024-01-30 20:35:00" /><severity>important</severity><references><reference href="https://example/CVE-2023-6932" id="CVE-2023-6932" title="" type="cve" /></references><pkglist><collection short="amazon-linux-2---kernel-510"><name>Amazon Linux 2 - Kernel 5.10</name><package arch="x86_64" epoch="0" name="kernel" release="205.855.amzn2" version="5.10.205"><filename>Packages/kernel-5.10.205-205.855.amzn2.x86_64.rpm</filename></package></collection></pkglist></update>
</updates>`
	var a *vuln.Advisory
	if _, err := Parse(strings.NewReader(doc), "Amazon Linux:2", func(x *vuln.Advisory) error { a = x; return nil }); err != nil {
		t.Fatal(err)
	}
	if a == nil || a.ID != "ALAS2KERNEL-5.10-2024-045" || a.VendorSeverity != "Important" || !slices.Equal(a.Aliases, []string{"CVE-2023-6932"}) ||
		a.Affected[0].Ranges[0].Events[1].Fixed != "5.10.205-205.855.amzn2" {
		t.Errorf("%+v", a)
	}
}

func TestRepomd(t *testing.T) {
	f, err := os.Open("testdata/upstream/claircore-test_repomd.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	loc, err := ParseRepomd(f)
	if err != nil {
		t.Fatal(err)
	}
	want := Location{Href: "repodata/updateinfo.xml.gz", ChecksumType: "sha256",
		Checksum: "9dd3ce045294b530720d13829817254e3cd67ec1ac36f66069238d9d111d3cc0", Size: 610596}
	if loc != want {
		t.Errorf("%+v, want %+v", loc, want)
	}
	if _, err := ParseRepomd(strings.NewReader(`<repomd><data type="primary"/></repomd>`)); err == nil {
		t.Error("a repomd.xml without updateinfo was accepted")
	}
}

func TestMirrorList(t *testing.T) {
	for file, want := range map[string]string{
		"claircore-mirrors_linux2.txt":    "https://cdn.amazonlinux.com/2/core/2.0/x86_64/221a4af09d96ac4e34202cc7bdfa252410419542548cc685dc86ed1c17ca4204/repodata/repomd.xml",
		"claircore-mirrors_linux2023.txt": "https://cdn.amazonlinux.com/al2023/core/guids/46ff4933b89b948580f3b223b826fee3c1830b85885db3f7f90502c0ac99698c/x86_64/repodata/repomd.xml",
	} {
		f, err := os.Open("testdata/upstream/" + file)
		if err != nil {
			t.Fatal(err)
		}
		base, err := ParseMirrorList(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		u, err := Resolve(base, "repodata/repomd.xml")
		if err != nil || u.String() != want {
			t.Errorf("%s: %v %v, want %s", file, u, err, want)
		}
	}
	base, _ := url.Parse("https://cdn.amazonlinux.com/2/core/")
	for _, href := range []string{"https://evil.example/x.gz", "//evil.example/x.gz", "http://cdn.amazonlinux.com/x"} {
		if _, err := Resolve(base, href); err == nil {
			t.Errorf("%s: left the repository", href)
		}
	}
	for _, in := range []string{"", "# only a comment\n", "file:///etc/passwd\n"} {
		if _, err := ParseMirrorList(strings.NewReader(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/upstream/createrepo_c-updateinfo_03.xml", "testdata/upstream/createrepo_c-updateinfo_01.xml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`<updates><update type="security"><id>A</id><issued date="1700000000"/><pkglist><collection><package name="a" version="1" release="1" epoch="2"/></collection></pkglist></update></updates>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Parse(bytes.NewReader(b), "Amazon Linux:2", func(a *vuln.Advisory) error {
			if a.ID == "" {
				t.Fatal("advisory without an id")
			}
			for _, af := range a.Affected {
				if af.Package.Name == "" || len(af.Ranges) == 0 {
					t.Fatalf("bad affected %+v", af)
				}
			}
			return nil
		})
		_, _ = ParseRepomd(bytes.NewReader(b))
		_, _ = ParseMirrorList(bytes.NewReader(b))
	})
}
