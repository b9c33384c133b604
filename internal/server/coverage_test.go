package server_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// TestCoverageRescan: an image scanned against a database that lacks its
// release's and its ecosystem's feeds completes as not covered, and
// becomes covered by the rescan that follows the feeds' import.
func TestCoverageRescan(t *testing.T) {
	dbDir := t.TempDir()
	importFeeds(t, dbDir, "vulndb/alpine-secdb")
	ts := startServer(t, dbDir)
	digest := testenv.PushImage(t, ts.Host, "team/deb:1", ts.Token, testenv.DebianImage(t, 0))
	im := ts.waitScan(t, "team/deb", digest)
	if im.ScanStatus != "COMPLETE" || im.ScanReason != "UNSUPPORTED_OS" {
		t.Fatalf("before the feeds: %+v", im)
	}
	var rec struct {
		Coverage struct {
			Full bool `json:"full"`
		} `json:"coverage"`
	}
	var detail struct {
		ScanMessage string `json:"scanMessage"`
	}
	ts.api(t, "GET", "/api/v1/images/detail?repository=team/deb&digest="+url.QueryEscape(digest), nil, &detail)
	if want := "debian 11: no advisory feed (none for Debian); npm: 1 package, no feed"; detail.ScanMessage != want {
		t.Errorf("scan message %q, want %q", detail.ScanMessage, want)
	}

	importFeeds(t, dbDir, "vulndb/alpine-secdb", "vulndb/debian", "vulndb/osv/npm")
	waitFor(t, func() bool { return ts.waitScan(t, "team/deb", digest).ScanReason == "SUCCESSFUL" })
	if code := ts.api(t, "GET", "/api/v1/images/coverage?repository=team/deb&tag=1", nil, &rec); code != 200 || !rec.Coverage.Full {
		t.Errorf("after the feeds: %d %+v", code, rec)
	}
	ts.api(t, "GET", "/api/v1/images/detail?repository=team/deb&digest="+url.QueryEscape(digest), nil, &detail)
	if strings.Contains(detail.ScanMessage, "no advisory feed") || !strings.Contains(detail.ScanMessage, "debian 11: DSA/DLA lists only") {
		t.Errorf("after the feeds, scan message %q", detail.ScanMessage)
	}
	var got []string
	for _, e := range ts.events(t).Events {
		if e.DetailType == "Inspector2 Coverage" && len(e.Resources) == 1 && strings.HasSuffix(e.Resources[0], digest) {
			got = append(got, string(e.Detail))
		}
	}
	if n := len(got); n < 3 || !strings.Contains(got[n-2], `"reason":"UNSUPPORTED_OS"`) || !strings.Contains(got[n-1], `"statusCodeValue":"ACTIVE","reason":"SUCCESSFUL"`) {
		t.Errorf("coverage events:\n%s", strings.Join(got, "\n"))
	}
}
