package web_test

import (
	"context"
	"encoding/json"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/store"
)

// TestImageCoverage: an image page says what the scan could not assess
// and lists the analysis' per-file warnings.
func TestImageCoverage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := "sha256:" + strings.Repeat("c0", 32)
	if err := e.st.RecordPush(ctx, store.Push{Repository: "team/partial", Digest: d, Tag: "1", At: time.Now().UTC(),
		MediaType: "application/vnd.oci.image.manifest.v1+json"}); err != nil {
		t.Fatal(err)
	}
	cov := coverage.New([]coverage.Scope{{Name: "debian 11", Ecosystem: "Debian:11", OS: true, Packages: 96, Covered: true,
		Sources: []string{"debian-dsa"}, Note: "DSA/DLA lists only"}},
		[]coverage.File{{Layer: 0, Path: "var/lib/dpkg/status", WantedBy: "dpkg", Message: "dpkg: status is larger than 67108864 bytes"}})
	data, _ := json.Marshal(cov)
	warnings := `[{"layer":0,"path":"var/lib/dpkg/status","message":"dpkg: status is larger than 67108864 bytes","incomplete":"dpkg"},{"layer":0,"message":"entry \"../x\" climbs out of the layer root: skipped"}]`
	if err := e.st.UpdateImage(ctx, store.ImageUpdate{Repository: "team/partial", Digest: d, ScanStatus: store.ScanComplete,
		ScanReason: cov.Reason, ScanMessage: cov.Summary(2000)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutImageCoverage(ctx, store.ImageCoverage{Repository: "team/partial", Digest: d, Reason: cov.Reason,
		Coverage: data, Warnings: json.RawMessage(warnings)}); err != nil {
		t.Fatal(err)
	}
	body := html.UnescapeString(e.signIn(store.RoleReadOnly).page("/images/team/partial@" + d))
	for _, want := range []string{
		"INCOMPLETE_INVENTORY", "Not assessed:", "layer 0: /var/lib/dpkg/status: not read (dpkg): dpkg: status is larger than 67108864 bytes",
		"Coverage limited:", "debian 11: DSA/DLA lists only", `entry "../x" climbs out of the layer root: skipped`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the image page does not show %q", want)
		}
	}

	// A fully covered image without warnings has no coverage panel.
	app := e.imageOf("team/app", "1.0")
	if body := e.signIn(store.RoleReadOnly).page("/images/team/app@" + app.Digest); strings.Contains(body, `id="coverage"`) {
		t.Errorf("a fully covered image shows a coverage panel")
	}
}
