package server_test

import (
	"archive/zip"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// npmWithout copies the shared npm OSV zip to dir/npm/all.zip without the
// record named skip (a real GitHub advisory).
func npmWithout(t *testing.T, dir, skip string) string {
	t.Helper()
	zr, err := zip.OpenReader(testenv.Shared(t, "vulndb/osv/npm/all.zip"))
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
	found := false
	for _, f := range zr.File {
		if f.Name == skip {
			found = true
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: f.Modified})
		if err == nil {
			_, err = io.Copy(w, rc)
		}
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("the npm feed has no %s", skip)
	}
	return out
}

func importPaths(t *testing.T, dbDir string, paths ...string) string {
	t.Helper()
	d, err := vulndb.NewDir(dbDir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Import(t.Context(), paths, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return rep.Build.Version
}

type gateFindingJSON struct {
	VulnerabilityID string `json:"vulnerabilityId"`
	PackageName     string `json:"packageName"`
	Severity        string `json:"severity"`
	Rule            string `json:"rule"`
}

type decisionJSON struct {
	ID             string            `json:"id"`
	Decision       string            `json:"decision"`
	Reason         string            `json:"reason"`
	Trigger        string            `json:"trigger"`
	Findings       []gateFindingJSON `json:"findings"`
	Counts         map[string]int    `json:"counts"`
	DBVersion      string            `json:"dbVersion"`
	BaselineDigest string            `json:"baselineDigest"`
}

// decide asks the gate about an image for a stage and waits for its
// decision.
func (ts *testServer) decide(t *testing.T, image, stage string) decisionJSON {
	t.Helper()
	return ts.decisionOf(t, ts.request(t, image, stage), "")
}

// request registers a gate request and returns its id.
func (ts *testServer) request(t *testing.T, image, stage string) string {
	t.Helper()
	var resp struct {
		Request struct {
			ID string `json:"id"`
		} `json:"request"`
	}
	if code := ts.api(t, "POST", "/api/v1/gate/requests", map[string]any{"image": image, "pipeline": "deploy", "stage": stage}, &resp); code != 201 || resp.Request.ID == "" {
		t.Fatalf("gate request for %s: %d", image, code)
	}
	return resp.Request.ID
}

// decisionOf waits until request id has a decision other than notID.
func (ts *testServer) decisionOf(t *testing.T, id, notID string) decisionJSON {
	t.Helper()
	var d decisionJSON
	waitFor(t, func() bool {
		var r struct {
			Decision *decisionJSON `json:"decision"`
		}
		if ts.api(t, "GET", "/api/v1/gate/requests/"+id, nil, &r) != 200 || r.Decision == nil || r.Decision.ID == notID {
			return false
		}
		d = *r.Decision
		return true
	})
	return d
}

func (ts *testServer) check(t *testing.T, image string, kv ...string) (int, decisionJSON) {
	t.Helper()
	q := url.Values{"image": {image}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	var d decisionJSON
	code := ts.api(t, "GET", "/api/v1/gate/check?"+q.Encode(), nil, &d)
	return code, d
}

func (ts *testServer) putPolicy(t *testing.T, name string, p map[string]any) {
	t.Helper()
	if code := ts.api(t, "PUT", "/api/v1/gate/policies/"+name, p, nil); code != 200 && code != 201 {
		t.Fatalf("put policy %s: %d", name, code)
	}
}

// TestBaselineGateNewFindingsOnly: under newFindingsOnly the gate
// approves an image of the app whose findings its approved predecessor
// for the stage all had, and rejects one whose new findings (minimist's)
// include a critical one, CVE-2021-44906, naming just that finding.
func TestBaselineGateNewFindingsOnly(t *testing.T) {
	dbDir := t.TempDir()
	version := importPaths(t, dbDir, testenv.Shared(t, "vulndb/osv/Go/all.zip"), testenv.Shared(t, "vulndb/osv/npm/all.zip"),
		testenv.Shared(t, "vulndb/nvd/cves-page-0.json"))
	ts := startServer(t, dbDir)
	app := testenv.LayoutImage(t, "debian-bullseye-app")
	// The predecessor lacks minimist (a later layer removes it, and the
	// lock file that names it too); its successor adds only a file
	// beside that.
	pred := testenv.WithWhiteouts(t, app, nil, "app/node_modules/minimist", "app/package-lock.json")
	succ := testenv.WithWhiteouts(t, app, map[string][]byte{"etc/vigil-release": []byte("2\n")}, "app/node_modules/minimist", "app/package-lock.json")
	pd := testenv.PushImage(t, ts.Host, "team/app:1", ts.Token, pred)
	sd := testenv.PushImage(t, ts.Host, "team/app:2", ts.Token, succ)
	ad := testenv.PushImage(t, ts.Host, "team/app:3", ts.Token, app)
	for _, d := range []string{pd, sd, ad} {
		ts.waitScan(t, "team/app", d)
	}
	if p, s := ts.findings(t, "team/app", pd), ts.findings(t, "team/app", sd); len(p) == 0 || strings.Join(p, ",") != strings.Join(s, ",") {
		t.Fatalf("predecessor and successor findings differ:\n%v\n%v", p, s)
	}

	// The predecessor is approved by a policy without limits.
	ts.putPolicy(t, "app", map[string]any{"repository": "team/app", "allowPartialCoverage": true})
	first := ts.decide(t, "team/app@"+pd, "prod")
	if first.Decision != "Approved" || first.DBVersion != version || first.BaselineDigest != "" {
		t.Fatalf("predecessor: %+v", first)
	}

	strict := map[string]any{"repository": "team/app", "maxCritical": 0, "maxHigh": 0, "newFindingsOnly": true,
		"allowPartialCoverage": true} // the image's Debian packages have no feed here
	ts.putPolicy(t, "app", strict)
	var pol struct {
		NewFindingsOnly bool `json:"newFindingsOnly"`
	}
	if ts.api(t, "GET", "/api/v1/gate/policies/app", nil, &pol); !pol.NewFindingsOnly {
		t.Fatal("the policy does not keep newFindingsOnly")
	}
	ok := ts.decide(t, "team/app@"+sd, "prod")
	if ok.Decision != "Approved" || ok.BaselineDigest != pd || ok.DBVersion != version || ok.Counts["TOTAL"] != 0 ||
		!strings.Contains(ok.Reason, "new findings only: 0 of ") || !strings.Contains(ok.Reason, "team/app@"+pd) {
		t.Errorf("successor with the predecessor's findings only: %+v", ok)
	}
	// For another stage nothing was approved: every finding counts.
	if _, qa := ts.check(t, "team/app@"+sd, "stage", "qa"); qa.Decision != "Rejected" || qa.BaselineDigest != "" ||
		!strings.Contains(qa.Reason, `no other image of team/app was approved for stage "qa"`) {
		t.Errorf("for stage qa: %+v", qa)
	}
	// Without newFindingsOnly the successor's HIGH findings reject it.
	strict["newFindingsOnly"] = false
	ts.putPolicy(t, "app", strict)
	if _, all := ts.check(t, "team/app@"+sd, "stage", "prod"); all.Decision != "Rejected" || all.Counts["HIGH"] == 0 {
		t.Errorf("without newFindingsOnly: %+v", all)
	}
	strict["newFindingsOnly"] = true
	ts.putPolicy(t, "app", strict)

	bad := ts.decide(t, "team/app@"+ad, "prod")
	// minimist's two findings are new, its critical one rejects it.
	if bad.Decision != "Rejected" || bad.Counts["TOTAL"] != 2 || bad.Counts["CRITICAL"] != 1 || bad.Counts["MEDIUM"] != 1 || len(bad.Findings) != 1 ||
		bad.Findings[0].VulnerabilityID != "CVE-2021-44906" || bad.Findings[0].PackageName != "minimist" || bad.Findings[0].Rule != "maxCritical" {
		t.Errorf("the image with a new critical: %+v", bad)
	}
	// Its predecessor is the last approved image of the stage: the
	// successor, approved just now.
	if bad.BaselineDigest != sd || !strings.Contains(bad.Reason, "new findings only: 2 of ") {
		t.Errorf("compared with %s (want the successor %s): %s", bad.BaselineDigest, sd, bad.Reason)
	}
}

// TestBaselineGateDBVersion: a decision made with one database is made
// again, identically, by `gate check --db-version` after the database
// changed under the server and the live decision with it.
func TestBaselineGateDBVersion(t *testing.T) {
	dbDir, work := t.TempDir(), t.TempDir()
	goZip, nvd := testenv.Shared(t, "vulndb/osv/Go/all.zip"), testenv.Shared(t, "vulndb/nvd/cves-page-0.json")
	// The first database lacks minimist's CVE-2021-44906 (GHSA-xvch-5gv4-984h).
	v1 := importPaths(t, dbDir, goZip, npmWithout(t, work, "GHSA-xvch-5gv4-984h.json"), nvd)
	ts := startServer(t, dbDir)
	ts.putPolicy(t, "app", map[string]any{"repository": "team/app", "maxCritical": 0, "allowPartialCoverage": true})
	digest := ts.push(t, "debian-bullseye-app", "team/app:1")
	ts.waitScan(t, "team/app", digest)
	id := ts.request(t, "team/app@"+digest, "prod")
	before := ts.decisionOf(t, id, "")
	if before.Decision != "Approved" || before.DBVersion != v1 || before.Counts["CRITICAL"] != 0 {
		t.Fatalf("with the first database: %+v", before)
	}

	time.Sleep(20 * time.Millisecond)
	v2 := importPaths(t, dbDir, testenv.Shared(t, "vulndb/osv/npm/all.zip"))
	after := ts.decisionOf(t, id, before.ID)
	if after.Decision != "Rejected" || after.DBVersion != v2 || after.Trigger != "findings-changed" || after.Counts["CRITICAL"] != 1 {
		t.Fatalf("after the database changed: %+v", after)
	}
	// Each decision's event names the database version too.
	announced := map[string]string{}
	for _, e := range ts.events(t).Events {
		if e.DetailType == "Vigil Gate Decision" {
			var d struct {
				ID        string `json:"decision-id"`
				DBVersion string `json:"db-version"`
			}
			if err := json.Unmarshal(e.Detail, &d); err != nil {
				t.Fatal(err)
			}
			announced[d.ID] = d.DBVersion
		}
	}
	if announced[before.ID] != v1 || announced[after.ID] != v2 {
		t.Errorf("decision events: %v, want %s: %s, %s: %s", announced, before.ID, v1, after.ID, v2)
	}
	if _, now := ts.check(t, "team/app@"+digest); now.Decision != "Rejected" || now.DBVersion != v2 {
		t.Errorf("check now: %+v", now)
	}
	code, pinned := ts.check(t, "team/app@"+digest, "dbVersion", v1)
	if code != 200 || pinned.Decision != before.Decision || pinned.DBVersion != v1 || pinned.Reason != before.Reason ||
		!sameCounts(pinned.Counts, before.Counts) || len(pinned.Findings) != len(before.Findings) {
		t.Errorf("check --db-version %s: %d %+v\nwant as first decided: %+v", v1, code, pinned, before)
	}
	if _, again := ts.check(t, "team/app@"+digest, "dbVersion", v2); again.Decision != after.Decision || !sameCounts(again.Counts, after.Counts) {
		t.Errorf("check --db-version %s: %+v, want as decided after the change: %+v", v2, again, after)
	}
	// Both are kept under the database directory's versions.
	for _, v := range []string{v1, v2} {
		if _, err := os.Stat(filepath.Join(dbDir, "versions", v+".sqlite")); err != nil {
			t.Errorf("version %s is not kept: %v", v, err)
		}
	}
	if code, _ := ts.check(t, "team/app@"+digest, "dbVersion", "latest"); code != 400 {
		t.Errorf("a malformed version: %d, want 400", code)
	}
	if code, _ := ts.check(t, "team/app@"+digest, "dbVersion", "20200101T000000Z-000000000000"); code != 404 {
		t.Errorf("a version not kept: %d, want 404", code)
	}
}

func sameCounts(a, b map[string]int) bool {
	for _, k := range []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNTRIAGED", "TOTAL"} {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}
