package main

import (
	"archive/tar"
	"archive/zip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
)

// TestServeMalicious pushes to a real `vigil serve` an image holding a
// package that the real OpenSSF record MAL-2022-9 names as malware (npm
// 0-dns; only its package.json, as the registry removed the package):
// the finding is of type MALICIOUS_PACKAGE, and the default gate policy,
// which would approve the image's lone untriaged finding, rejects it —
// still after an admin suppresses the finding.
func TestServeMalicious(t *testing.T) {
	root := t.TempDir()
	data, dbDir := filepath.Join(root, "data"), filepath.Join(root, "db")

	// The shared npm records with MAL-2022-9 added to their zip, as
	// osv.dev's npm/all.zip holds the MAL- records.
	feeds := filepath.Join(root, "feeds", "npm")
	os.MkdirAll(feeds, 0o755)
	zr, err := zip.OpenReader(testenv.Shared(t, "vulndb/osv/npm/all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	zf, err := os.Create(filepath.Join(feeds, "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	for _, f := range zr.File {
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	mal, err := os.ReadFile("../../internal/vulndb/osv/testdata/malicious/MAL-2022-9.json")
	if err != nil {
		t.Fatal(err)
	}
	w, _ := zw.Create("MAL-2022-9.json")
	w.Write(mal)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zf.Close()
	imp := exec.Command(os.Args[0], "db", "import", "--db-dir", dbDir, filepath.Dir(feeds))
	imp.Env = append(os.Environ(), "VIGIL_TEST_MAIN=1", "HOME="+root)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("vigil db import: %v\n%s", err, out)
	}

	// A one-layer image: /app/node_modules/0-dns/package.json.
	layer := filepath.Join(root, "layer.tar")
	lf, err := os.Create(layer)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(lf)
	body := `{"name": "0-dns", "version": "1.0.0"}` + "\n"
	for _, d := range []string{"app/", "app/node_modules/", "app/node_modules/0-dns/"} {
		tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755})
	}
	tw.WriteHeader(&tar.Header{Name: "app/node_modules/0-dns/package.json", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
	tw.Write([]byte(body))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	lf.Close()

	addr := freeAddr(t)
	startServe(t, data, dbDir, addr)
	token := adminToken(t, data)
	c := apiClient{base: addr, token: token}
	digest := testenv.PushImage(t, addr, "team/mal:1", token, testenv.RootfsImage(t, layer))
	var im struct{ ScanStatus, ScanReason string }
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		c.do(t, "GET", "/api/v1/images/detail?repository=team/mal&digest="+url.QueryEscape(digest), nil, &im)
		if im.ScanStatus != "PENDING" && im.ScanStatus != "SCANNING" {
			break
		}
	}
	if im.ScanStatus != "COMPLETE" {
		t.Fatalf("scan: %+v", im)
	}
	type inspectorFinding struct {
		Type, Status string
		Details      struct {
			VulnerabilityID string `json:"vulnerabilityId"`
		} `json:"packageVulnerabilityDetails"`
	}
	var list struct{ Findings []inspectorFinding }
	listFindings := func() {
		t.Helper()
		list.Findings = nil
		c.do(t, "POST", "/api/v1/findings/list", map[string]any{"maxResults": 100, "filterCriteria": map[string]any{
			"ecrImageHash": []map[string]string{{"comparison": "EQUALS", "value": digest}},
		}}, &list)
	}
	listFindings()
	if len(list.Findings) != 1 || list.Findings[0].Details.VulnerabilityID != "MAL-2022-9" || list.Findings[0].Type != "MALICIOUS_PACKAGE" {
		t.Fatalf("findings %+v, want MAL-2022-9 of type MALICIOUS_PACKAGE", list.Findings)
	}

	decide := func() (string, string) {
		t.Helper()
		var resp struct {
			Decision *struct{ Decision, Reason string } `json:"decision"`
		}
		c.do(t, "POST", "/api/v1/gate/requests", map[string]any{"image": addr + "/team/mal:1", "pipeline": "deploy"}, &resp)
		if resp.Decision == nil {
			t.Fatal("no decision at once")
		}
		return resp.Decision.Decision, resp.Decision.Reason
	}
	if d, reason := decide(); d != "Rejected" || !strings.Contains(reason, "MAL-2022-9 (0-dns 1.0.0)") {
		t.Errorf("gate: %s: %s", d, reason)
	}
	c.do(t, "POST", "/api/v1/suppressions", map[string]any{
		"name": "trusted", "reason": "we trust it",
		"filterCriteria": map[string]any{"vulnerabilityId": []map[string]string{{"comparison": "EQUALS", "value": "MAL-2022-9"}}},
	}, nil)
	listFindings()
	if len(list.Findings) != 1 || list.Findings[0].Status != "SUPPRESSED" {
		t.Fatalf("after the suppression: %+v", list.Findings)
	}
	if d, reason := decide(); d != "Rejected" || !strings.Contains(reason, "suppressed or not") {
		t.Errorf("gate after the suppression: %s: %s", d, reason)
	}
}
