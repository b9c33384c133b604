package main

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
)

// TestServePackageDatabaseMissing pushes to a real `vigil serve` the
// Debian image and the same image with a layer deleting /var/lib/dpkg:
// the first is approved, the second completes its scan as
// INCOMPLETE_INVENTORY with the missing database named, in the scan
// message and the coverage API, and the default gate policy rejects it.
func TestServePackageDatabaseMissing(t *testing.T) {
	root := t.TempDir()
	data, dbDir := filepath.Join(root, "data"), filepath.Join(root, "db")
	imp := exec.Command(os.Args[0], "db", "import", "--db-dir", dbDir, testenv.Shared(t, "vulndb/debian"), testenv.Shared(t, "vulndb/osv/npm"))
	imp.Env = append(os.Environ(), "VIGIL_TEST_MAIN=1", "HOME="+root)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("vigil db import: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	startServe(t, data, dbDir, addr)
	token := adminToken(t, data)
	c := apiClient{base: addr, token: token}
	type image struct{ ScanStatus, ScanReason, ScanMessage string }
	scanned := func(repo, digest string) image {
		t.Helper()
		var im image
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			c.do(t, "GET", "/api/v1/images/detail?repository="+repo+"&digest="+digest, nil, &im)
			if im.ScanStatus != "PENDING" && im.ScanStatus != "SCANNING" {
				return im
			}
		}
		t.Fatalf("%s@%s is not scanned: %+v", repo, digest, im)
		return im
	}
	decide := func(ref string) (decision, reason string) {
		t.Helper()
		var resp struct {
			Decision *struct{ Decision, Reason string } `json:"decision"`
		}
		c.do(t, "POST", "/api/v1/gate/requests", map[string]any{"image": ref, "pipeline": "deploy"}, &resp)
		if resp.Decision == nil {
			t.Fatalf("%s: no decision at once", ref)
		}
		return resp.Decision.Decision, resp.Decision.Reason
	}

	base := testenv.DebianImage(t, 0)
	plain := testenv.PushImage(t, addr, "team/deb:plain", token, base)
	gone := testenv.PushImage(t, addr, "team/deb:nodb", token, testenv.WithWhiteouts(t, base, nil, "var/lib/dpkg"))
	if im := scanned("team/deb", plain); im.ScanStatus != "COMPLETE" || im.ScanReason != "SUCCESSFUL" {
		t.Errorf("plain: %+v", im)
	}
	if dec, why := decide("team/deb:plain"); dec != "Approved" {
		t.Errorf("plain: %s: %s", dec, why)
	}
	const gap = "debian 11: package database missing (/var/lib/dpkg/status)"
	if im := scanned("team/deb", gone); im.ScanStatus != "COMPLETE" || im.ScanReason != "INCOMPLETE_INVENTORY" || !strings.Contains(im.ScanMessage, gap) {
		t.Errorf("without dpkg's database: %+v", im)
	}
	var rec struct {
		Reason   string `json:"reason"`
		Coverage *struct {
			Full   bool `json:"full"`
			Scopes []struct {
				Name, Note, MissingDatabase string
			} `json:"scopes"`
		} `json:"coverage"`
	}
	c.get(t, "/api/v1/images/coverage?repository=team/deb&digest="+url.QueryEscape(gone), &rec)
	if rec.Reason != "INCOMPLETE_INVENTORY" || rec.Coverage == nil || rec.Coverage.Full || len(rec.Coverage.Scopes) == 0 ||
		rec.Coverage.Scopes[0].MissingDatabase != "/var/lib/dpkg/status" {
		t.Errorf("coverage without dpkg's database: %+v", rec)
	}
	if dec, why := decide("team/deb:nodb"); dec != "Rejected" || !strings.Contains(why, "INCOMPLETE_INVENTORY") || !strings.Contains(why, gap) {
		t.Errorf("default policy without dpkg's database: %s: %s", dec, why)
	}
}
