package vulndb

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
)

// alasNewest is the newest issued or updated date of the shared ALAS
// records of one release, read from the JSON without Vigil's parser.
func alasNewest(t *testing.T, release string) (time.Time, int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(testenv.Shared(t, "vulndb/amazon/"+release), "*.json"))
	var newest time.Time
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct{ Issued, Updated struct{ Date string } }
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{rec.Issued.Date, rec.Updated.Date} {
			if ts, err := time.Parse("2006-01-02 15:04:05", d); err == nil && ts.After(newest) {
				newest = ts
			}
		}
	}
	return newest, len(files)
}

func copyFile(t *testing.T, from, to string) []byte {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func checkAmazonSources(t *testing.T, d *Dir) {
	t.Helper()
	db, err := Open(context.Background(), d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sources, err := db.Sources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, s := range sources {
		release := strings.TrimPrefix(s.Name, "amazon/")
		if release == s.Name {
			continue
		}
		seen++
		newest, n := alasNewest(t, release)
		if s.Kind != KindUpdateInfo || s.Records != n || !s.Updated.Equal(newest) || s.UpdatedFrom != AgeRecords {
			t.Errorf("%s: %+v; want %d records, data of %v from the newest record", s.Name, s, n, newest)
		}
		if want := "Amazon Linux:" + release; len(s.Ecosystems) != 1 || s.Ecosystems[0] != want {
			t.Errorf("%s: ecosystems %v, want %s", s.Name, s.Ecosystems, want)
		}
	}
	if seen != 2 {
		t.Errorf("%d Amazon Linux sources in %+v", seen, sources)
	}
	// The openssl advisory of Amazon Linux 2 is found by package, with
	// its epoch, and by its CVE.
	advs, err := db.Affecting(context.Background(), "Amazon Linux:2", "openssl-libs")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range advs {
		if a.ID == "ALAS2-2018-1102" {
			found = true
			for _, af := range a.Affected {
				if af.Package.Name == "openssl-libs" && af.Ranges[0].Events[1].Fixed != "1:1.0.2k-16.amzn2.0.1" {
					t.Errorf("openssl-libs fixed in %q", af.Ranges[0].Events[1].Fixed)
				}
			}
		}
	}
	if !found {
		t.Errorf("ALAS2-2018-1102 not indexed for openssl-libs: %d advisories", len(advs))
	}
	ids, err := db.Aliased(context.Background(), "CVE-2018-0739")
	if err != nil || !strings.Contains(fmt.Sprint(ids), "ALAS2-2018-1102") {
		t.Errorf("CVE-2018-0739 aliases %v %v", ids, err)
	}
}

func TestImportUpdateInfo(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "updateinfo/testdata/amazon/2/updateinfo.xml.gz", filepath.Join(dir, "mirror", "amazon", "2", "updateinfo.xml.gz"))
	copyFile(t, "updateinfo/testdata/amazon/2023/updateinfo.xml", filepath.Join(dir, "mirror", "amazon", "2023", "updateinfo.xml"))
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Import(context.Background(), []string{filepath.Join(dir, "mirror")}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Imported) != 2 || rep.Imported["amazon/2"] == "" || rep.Imported["amazon/2023"] == "" {
		t.Fatalf("imported %v", rep.Imported)
	}
	if len(rep.Build.Errors) > 0 {
		t.Errorf("build errors: %v", rep.Build.Errors)
	}
	checkAmazonSources(t, d)

	// A document whose directories name no release is refused, naming it.
	stray := filepath.Join(dir, "stray", "updateinfo.xml")
	copyFile(t, "updateinfo/testdata/amazon/2023/updateinfo.xml", stray)
	if _, err := d.Import(context.Background(), []string{stray}, time.Now()); err == nil || !strings.Contains(err.Error(), stray) || !strings.Contains(err.Error(), "release") {
		t.Errorf("stray updateinfo: %v", err)
	}
}

// repoServer serves Amazon Linux's repository layout: a mirror list
// naming the repository, its repodata/repomd.xml, and the updateinfo
// document repomd.xml points to with its SHA-256.
type repoServer struct {
	srv      *httptest.Server
	docs     map[string][]byte // release → updateinfo.xml.gz
	bad      atomic.Bool       // serve a document that does not match repomd.xml
	docGets  atomic.Int64
	requests atomic.Int64
}

func (s *repoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	release := parts[0]
	doc, ok := s.docs[release]
	if !ok {
		http.NotFound(w, r)
		return
	}
	guid := fmt.Sprintf("%x", sha256.Sum256([]byte(release)))
	switch rest := strings.Join(parts[1:], "/"); rest {
	case "mirrors/latest/x86_64/mirror.list":
		fmt.Fprintf(w, "%s/%s/core/guids/%s/x86_64/\n", s.srv.URL, release, guid)
	case "core/guids/" + guid + "/x86_64/repodata/repomd.xml":
		sum := sha256.Sum256(doc)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
 <revision>1</revision>
<data type="updateinfo">
  <checksum type="sha256">%s</checksum>
  <location href="repodata/%s-updateinfo.xml.gz"/>
  <size>%d</size>
</data>
</repomd>`, hex.EncodeToString(sum[:]), hex.EncodeToString(sum[:8]), len(doc))
	default:
		if strings.HasPrefix(rest, "core/guids/"+guid+"/x86_64/repodata/") && strings.HasSuffix(rest, "-updateinfo.xml.gz") {
			s.docGets.Add(1)
			if s.bad.Load() {
				b := append([]byte(nil), doc...)
				b[len(b)/2] ^= 0xff
				doc = b
			}
			w.Write(doc)
			return
		}
		http.NotFound(w, r)
	}
}

func gzipFile(t *testing.T, path string) []byte {
	t.Helper()
	var buf bytes.Buffer
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestUpdateUpdateInfo(t *testing.T) {
	rs := &repoServer{docs: map[string][]byte{}}
	rs.srv = httptest.NewServer(rs)
	defer rs.srv.Close()
	gz2, err := os.ReadFile("updateinfo/testdata/amazon/2/updateinfo.xml.gz")
	if err != nil {
		t.Fatal(err)
	}
	rs.docs["2"] = gz2
	rs.docs["2023"] = gzipFile(t, "updateinfo/testdata/amazon/2023/updateinfo.xml")
	up := Upstream{UpdateInfo: []UpdateInfoRepo{
		{Name: "amazon/2", MirrorList: rs.srv.URL + "/2/mirrors/latest/x86_64/mirror.list"},
		{Name: "amazon/2023", MirrorList: rs.srv.URL + "/2023/mirrors/latest/x86_64/mirror.list"},
	}}
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rep, err := d.Update(ctx, up.Sources(), UpdateOptions{Client: rs.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Fetched) != 2 || rs.docGets.Load() != 2 {
		t.Fatalf("fetched %v, %d document downloads", rep.Fetched, rs.docGets.Load())
	}
	checkAmazonSources(t, d)

	// Unchanged upstream: repomd.xml's checksum is ours, nothing is
	// downloaded again.
	rep, err = d.Update(ctx, up.Sources(), UpdateOptions{Client: rs.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Unchanged) != 2 || rs.docGets.Load() != 2 {
		t.Errorf("second update: unchanged %v, %d document downloads", rep.Unchanged, rs.docGets.Load())
	}

	// A changed document that does not match its published checksum
	// fails the update, naming the feed, and leaves the database as it was.
	before, err := os.ReadFile(d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	rs.docs["2023"] = gzipFile(t, "updateinfo/testdata/upstream/createrepo_c-updateinfo_03.xml")
	rs.bad.Store(true)
	_, err = d.Update(ctx, up.Sources(), UpdateOptions{Client: rs.srv.Client()})
	if err == nil || !strings.Contains(err.Error(), "amazon/2023") || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("corrupt document: %v", err)
	}
	after, _ := os.ReadFile(d.DatabasePath())
	if string(before) != string(after) {
		t.Error("a failed update changed the database")
	}

	// The default set holds both releases' real mirror lists.
	var names []string
	for _, s := range DefaultUpstream().Sources() {
		if s.Kind == KindUpdateInfo {
			names = append(names, s.Name+" "+s.URL)
		}
	}
	want := []string{
		"amazon/2 http://amazonlinux.default.amazonaws.com/2/core/latest/x86_64/mirror.list",
		"amazon/2023 https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x86_64/mirror.list",
	}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("default updateinfo sources %v, want %v", names, want)
	}
}

// TestImportKernelChannel: an extras channel's document, in a directory
// under its release, is its own feed with its release's ecosystem.
func TestImportKernelChannel(t *testing.T) {
	doc := `<?xml version="1.0" ?><updates>
<update author="linux-security@amazon.com" from="linux-security@amazon.com" status="final" type="security" version="1.4"><id>ALAS2KERNEL-5.10-2024-045</id><title>t</title><issued date="2024-01-19 01:16:00" /><updated date="2024-01-30 20:35:00" /><severity>important</severity><references><reference href="https://example/CVE-2023-6932" id="CVE-2023-6932" title="" type="cve" /></references><pkglist><collection short="amazon-linux-2---kernel-510"><name>Amazon Linux 2 - Kernel 5.10</name><package arch="x86_64" epoch="0" name="kernel" release="205.855.amzn2" version="5.10.205"><filename>Packages/kernel-5.10.205-205.855.amzn2.x86_64.rpm</filename></package></collection></pkglist></update>
</updates>`
	dir := filepath.Join(t.TempDir(), "amazon", "2", "kernel-5.10")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "updateinfo.xml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Import(context.Background(), []string{filepath.Dir(filepath.Dir(dir))}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rep.Imported["amazon/2/kernel-5.10"]; !ok || len(rep.Imported) != 1 {
		t.Fatalf("imported %v", rep.Imported)
	}
	db, err := Open(context.Background(), d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	advs, err := db.Affecting(context.Background(), "Amazon Linux:2", "kernel")
	if err != nil || len(advs) != 1 || advs[0].ID != "ALAS2KERNEL-5.10-2024-045" {
		t.Errorf("kernel advisories %v %v", advs, err)
	}
}
