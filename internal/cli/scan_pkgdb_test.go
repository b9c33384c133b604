package cli

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/vigilsec/vigil/internal/testenv"
)

// An image whose later layer deletes the package database while the
// distribution's files remain (`rm -rf /var/lib/dpkg`, `rm -rf
// /lib/apk/db`) has OS packages no scan can see: the scan must say the
// database is missing rather than call the image clean. The same image
// without the deletion stays fully covered.
func TestScanCoveragePackageDatabaseMissing(t *testing.T) {
	dir := t.TempDir()
	runVigilIn(t, dir, "db", "import", testenv.Shared(t, "vulndb/debian"), testenv.Shared(t, "vulndb/osv/npm"), testenv.Shared(t, "vulndb/alpine-secdb"))
	env := map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}

	for _, c := range []struct {
		name     string
		base     v1.Image
		whiteout string
		gap      string
		// baseFindings are the base's findings (-1: not counted): Alpine
		// 3.7.3's musl and musl-utils have CVE-2019-14697, which the
		// image without its database cannot show.
		baseFindings int
		// more is a further gap: without apk's database nothing owns
		// /bin/busybox, so BusyBox is found from its binary, and this
		// database has no NVD data to match it with.
		more string
	}{
		{"debian", testenv.DebianImage(t, 0), "var/lib/dpkg", "debian 11: package database missing (/var/lib/dpkg/status)", -1, ""},
		{"alpine", testenv.RootfsImage(t, testenv.Shared(t, "images/alpine/alpine-minirootfs-3.7.3-x86_64.tar.gz")),
			"lib/apk/db", "alpine 3.7: package database missing (/lib/apk/db/installed)", 2, "|programs (NVD CPE): 1 package, no feed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := "oci:" + testenv.WriteLayout(t, c.base) + ":latest"
			code, out, errs := runVigilCode(env, "scan", base, "--fail-on", "HIGH", "--format", "json")
			if code != 0 {
				t.Errorf("base: exit %d, want 0\n%s", code, errs)
			}
			doc := coverageOf(t, out)
			if cov := doc.Coverage; !cov.Full || cov.Reason != "SUCCESSFUL" || len(cov.Gaps) != 0 {
				t.Errorf("base: coverage %+v", cov)
			}
			if c.baseFindings >= 0 && len(doc.Findings) != c.baseFindings {
				t.Errorf("base: %d findings, want %d", len(doc.Findings), c.baseFindings)
			}

			img := "oci:" + testenv.WriteLayout(t, testenv.WithWhiteouts(t, c.base, nil, c.whiteout)) + ":latest"
			code, out, errs = runVigilCode(env, "scan", img, "--fail-on", "HIGH")
			if code != ExitPartialCoverage {
				t.Errorf("--fail-on HIGH: exit %d, want %d\n%s", code, ExitPartialCoverage, errs)
			}
			if !strings.Contains(out, c.gap) || !strings.Contains(out, "Coverage: PARTIAL (INCOMPLETE_INVENTORY)") || strings.Contains(out, "No vulnerabilities found.") {
				t.Errorf("the table does not say the database is missing:\n%s", out)
			}
			code, out, errs = runVigilCode(env, "scan", img, "--fail-on", "HIGH", "--allow-partial-coverage", "--format", "json")
			if code != 0 {
				t.Errorf("--allow-partial-coverage: exit %d, want 0\n%s", code, errs)
			}
			doc = coverageOf(t, out)
			cov := doc.Coverage
			if cov.Full || cov.Reason != "INCOMPLETE_INVENTORY" || strings.Join(cov.Gaps, "|") != c.gap+c.more || len(doc.Findings) != 0 {
				t.Errorf("coverage %+v, %d findings", cov, len(doc.Findings))
			}
			if len(cov.Scopes) == 0 || !cov.Scopes[0].OS || cov.Scopes[0].Covered || cov.Scopes[0].Packages != 0 {
				t.Errorf("scopes %+v", cov.Scopes)
			}
		})
	}
}
