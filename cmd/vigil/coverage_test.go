package main

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/vigilsec/vigil/internal/testenv"
)

type coverageRecord struct {
	Reason   string `json:"reason"`
	Coverage *struct {
		Full   bool   `json:"full"`
		Reason string `json:"reason"`
		Files  []struct {
			Path, WantedBy string
		} `json:"files"`
	} `json:"coverage"`
	Warnings []struct {
		Path, Message, Incomplete string
	} `json:"warnings"`
}

type coverageDetail struct {
	ScanStatus   struct{ StatusCodeValue, Reason string } `json:"scanStatus"`
	CoverageGaps []string                                 `json:"coverage-gaps"`
	Warnings     []string                                 `json:"warnings"`
}

// TestServeCoverage pushes to a real `vigil serve` an image whose release
// the database has no advisories for, and an image whose dpkg status was
// padded past the cataloger's limit: each scan completes with its reason,
// its Coverage event and the API say what was not assessed, and the gate
// rejects it unless the policy allows partial coverage. The same Debian
// image unpadded is approved, as before.
func TestServeCoverage(t *testing.T) {
	root := t.TempDir()
	data, dbDir := filepath.Join(root, "data"), filepath.Join(root, "db")
	// The database is built by `vigil db import` in a process of its own:
	// building it here would leave this test process larger, and later
	// tests charge children with what their parent holds.
	args := []string{"db", "import", "--db-dir", dbDir}
	for _, f := range []string{"vulndb/alpine-secdb", "vulndb/debian", "vulndb/osv/npm"} {
		args = append(args, testenv.Shared(t, f))
	}
	imp := exec.Command(os.Args[0], args...)
	imp.Env = append(os.Environ(), "VIGIL_TEST_MAIN=1", "HOME="+root)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("vigil db import: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	startServe(t, data, dbDir, addr)
	token := adminToken(t, data)
	c := apiClient{base: addr, token: token}
	push := func(img v1.Image, ref string) string {
		t.Helper()
		r, err := name.ParseReference(addr+"/"+ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: "vigil", Password: token})); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		d, _ := img.Digest()
		return d.String()
	}
	type image struct {
		ScanStatus, ScanReason, ScanMessage string
	}
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
	lastCoverage := func(digest string) coverageDetail {
		t.Helper()
		var d coverageDetail
		var page struct {
			Events []struct {
				DetailType string          `json:"detail-type"`
				Resources  []string        `json:"resources"`
				Detail     json.RawMessage `json:"detail"`
			} `json:"events"`
		}
		c.get(t, "/api/v1/events?maxResults=1000", &page)
		for _, e := range page.Events {
			if e.DetailType == "Inspector2 Coverage" && len(e.Resources) == 1 && strings.HasSuffix(e.Resources[0], "/"+digest) {
				d = coverageDetail{}
				if err := json.Unmarshal(e.Detail, &d); err != nil {
					t.Fatal(err)
				}
			}
		}
		return d
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

	// Alpine 3.20 against a secdb of v3.3–v3.11.
	alpine := push(testenv.LayoutImage(t, "alpine-3.20.3"), "team/alpine:3.20")
	im := scanned("team/alpine", alpine)
	const gap = "alpine 3.20: no advisory feed (have v3.3–v3.11)"
	if im.ScanStatus != "COMPLETE" || im.ScanReason != "UNSUPPORTED_OS" || !strings.Contains(im.ScanMessage, gap) {
		t.Errorf("alpine 3.20 scan: %+v", im)
	}
	if d := lastCoverage(alpine); d.ScanStatus.StatusCodeValue != "INACTIVE" || d.ScanStatus.Reason != "UNSUPPORTED_OS" || strings.Join(d.CoverageGaps, "|") != gap {
		t.Errorf("alpine 3.20 coverage event: %+v", d)
	}
	var rec coverageRecord
	c.get(t, "/api/v1/images/coverage?repository=team/alpine&digest="+url.QueryEscape(alpine), &rec)
	if rec.Reason != "UNSUPPORTED_OS" || rec.Coverage == nil || rec.Coverage.Full || rec.Warnings == nil {
		t.Errorf("alpine 3.20 coverage: %+v", rec)
	}
	if dec, why := decide("team/alpine:3.20"); dec != "Rejected" || !strings.Contains(why, "UNSUPPORTED_OS") || !strings.Contains(why, gap) {
		t.Errorf("default policy on alpine 3.20: %s: %s", dec, why)
	}
	c.do(t, "PUT", "/api/v1/gate/policies/lenient", map[string]any{"repository": "team/alpine", "maxCritical": 0, "maxHigh": 0, "allowPartialCoverage": true}, nil)
	if dec, why := decide("team/alpine:3.20"); dec != "Approved" || !strings.Contains(why, "UNSUPPORTED_OS") {
		t.Errorf("a policy allowing partial coverage on alpine 3.20: %s: %s", dec, why)
	}

	// The Debian image, plain and with its dpkg status padded past 64 MiB.
	plain := push(testenv.DebianImage(t, 0), "team/deb:plain")
	padded := push(testenv.DebianImage(t, 65<<20), "team/deb:padded")
	if im := scanned("team/deb", plain); im.ScanStatus != "COMPLETE" || im.ScanReason != "SUCCESSFUL" {
		t.Errorf("plain status: %+v", im)
	}
	if dec, why := decide("team/deb:plain"); dec != "Approved" {
		t.Errorf("plain status: %s: %s", dec, why)
	}
	im = scanned("team/deb", padded)
	if im.ScanStatus != "COMPLETE" || im.ScanReason != "INCOMPLETE_INVENTORY" || !strings.Contains(im.ScanMessage, "/var/lib/dpkg/status: not read (dpkg)") {
		t.Errorf("padded status scan: %+v", im)
	}
	d := lastCoverage(padded)
	if d.ScanStatus.StatusCodeValue != "ACTIVE" || d.ScanStatus.Reason != "INCOMPLETE_INVENTORY" || len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "var/lib/dpkg/status") {
		t.Errorf("padded status coverage event: %+v", d)
	}
	rec = coverageRecord{}
	c.get(t, "/api/v1/images/coverage?repository=team/deb&tag=padded", &rec)
	if rec.Reason != "INCOMPLETE_INVENTORY" || rec.Coverage == nil || len(rec.Coverage.Files) != 1 || rec.Coverage.Files[0].Path != "var/lib/dpkg/status" ||
		len(rec.Warnings) != 1 || rec.Warnings[0].Incomplete != "dpkg" {
		t.Errorf("padded status coverage: %+v", rec)
	}
	if dec, why := decide("team/deb:padded"); dec != "Rejected" || !strings.Contains(why, "INCOMPLETE_INVENTORY") {
		t.Errorf("padded status: %s: %s", dec, why)
	}

	// `vigil images list` gives the reason of a scan that is not full.
	list := startVigil(t, []string{"VIGIL_SERVER=http://" + addr, "VIGIL_TOKEN=" + token}, "images", "list", "--repository", "team/alpine")
	if code := list.wait(t, 30*time.Second); code != 0 || !strings.Contains(list.stdout.String(), "UNSUPPORTED_OS: "+gap) {
		t.Errorf("images list: %d\n%s%s", code, list.stdout.String(), list.stderr.String())
	}
}
