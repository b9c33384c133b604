package main

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/vigilsec/vigil/internal/testenv"
)

const pgServer = "postgres://postgres@127.0.0.1:5432/"

// freshDatabase creates a PostgreSQL database for the test and drops it
// afterwards.
func freshDatabase(t *testing.T) string {
	t.Helper()
	admin, err := sql.Open("pgx", pgServer+"postgres?sslmode=disable")
	if err == nil {
		err = admin.Ping()
	}
	if err != nil {
		if os.Getenv("VIGIL_REQUIRE_TESTDATA") != "" {
			t.Fatalf("PostgreSQL is not reachable: %v", err)
		}
		t.Skipf("PostgreSQL is not reachable: %v", err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	db := "vigil_scaleout_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)")
		admin.Close()
	})
	return pgServer + db + "?sslmode=disable"
}

// TestScaleOut runs the scale-out deployment: two `vigil serve` processes
// without workers and one `vigil worker`, sharing one PostgreSQL store
// and one blob directory. An image pushed to one server is pulled from the
// other, the worker scans it, its findings are read from the other
// server, and a gate request made on one is decided through the other
// processes' buses.
func TestScaleOut(t *testing.T) {
	dsn := freshDatabase(t)
	root := t.TempDir()
	data, dbDir := filepath.Join(root, "data"), filepath.Join(root, "db")
	importFeeds(t, dbDir, "vulndb/alpine-secdb")
	addrA, addrB := freeAddr(t), freeAddr(t)
	startServe(t, data, dbDir, addrA, "--store", dsn, "--workers", "0")
	startServe(t, data, dbDir, addrB, "--store", dsn, "--workers", "0")
	token := adminToken(t, data)
	a, b := apiClient{base: addrA, token: token}, apiClient{base: addrB, token: token}

	img := testenv.LayoutImage(t, "alpine-3.7.3")
	auth := remote.WithAuth(&authn.Basic{Username: "vigil", Password: token})
	ref, _ := name.ParseReference(addrA+"/team/alpine:3.7", name.Insecure)
	if err := remote.Write(ref, img, auth); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	// Pulled through the other server, by tag, byte for byte.
	other, _ := name.ParseReference(addrB+"/team/alpine:3.7", name.Insecure)
	desc, err := remote.Get(other, auth)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	if desc.Digest != want || string(desc.Manifest) != string(raw) {
		t.Fatalf("pulled %s from the other server, pushed %s", desc.Digest, want)
	}
	pulled, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := pulled.Layers()
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}

	// A gate request on B, before any worker runs: pending.
	var req struct {
		Request struct {
			ID, State string
		} `json:"request"`
	}
	b.do(t, "POST", "/api/v1/gate/requests", map[string]any{"image": "team/alpine:3.7", "pipeline": "p", "timeoutSeconds": 300}, &req)
	if req.Request.State != "PENDING" {
		t.Fatalf("request %+v", req)
	}
	// The worker joins and scans.
	w := startVigil(t, nil, "worker", "--store", dsn, "--data", data, "--db-dir", dbDir, "--cache-dir", filepath.Join(root, "cache"), "--workers", "1")
	deadline := time.Now().Add(60 * time.Second)
	var im struct{ ScanStatus string }
	for time.Now().Before(deadline) {
		a.do(t, "GET", "/api/v1/images/detail?repository=team/alpine&digest="+want.String(), nil, &im)
		if im.ScanStatus == "COMPLETE" {
			break
		}
		if w.exited() {
			t.Fatalf("vigil worker exited %d: %s", w.code, w.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if im.ScanStatus != "COMPLETE" {
		t.Fatalf("scan status %s\n%s", im.ScanStatus, w.stderr.String())
	}
	var page struct {
		Findings []struct {
			PackageVulnerabilityDetails struct {
				VulnerabilityID    string                  `json:"vulnerabilityId"`
				VulnerablePackages []struct{ Name string } `json:"vulnerablePackages"`
			} `json:"packageVulnerabilityDetails"`
		} `json:"findings"`
	}
	b.do(t, "POST", "/api/v1/findings/list", map[string]any{}, &page)
	var got []string
	for _, f := range page.Findings {
		got = append(got, f.PackageVulnerabilityDetails.VulnerablePackages[0].Name+" "+f.PackageVulnerabilityDetails.VulnerabilityID)
	}
	if strings.Join(got, ",") != "musl CVE-2019-14697,musl-utils CVE-2019-14697" && strings.Join(got, ",") != "musl-utils CVE-2019-14697,musl CVE-2019-14697" {
		t.Errorf("findings through the other server: %v", got)
	}
	var done struct {
		Request struct{ State, Decision string } `json:"request"`
	}
	deadline = time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && done.Request.State != "DECIDED" {
		a.do(t, "GET", "/api/v1/gate/requests/"+req.Request.ID+"?wait=5", nil, &done)
	}
	if done.Request.State != "DECIDED" || done.Request.Decision != "Approved" {
		t.Errorf("the gate request made on one server, read on the other: %+v", done)
	}
}
