package vulndb

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
)

func TestVersionForm(t *testing.T) {
	built := time.Date(2026, 12, 4, 18, 32, 57, 123456789, time.FixedZone("CET", 3600))
	digest := "sha256:3f2a9c1b7e4d0000000000000000000000000000000000000000000000000000"
	for _, c := range []struct {
		digest, want string
	}{
		{digest, "20261204T173257Z-3f2a9c1b7e4d"},
		{"", "20261204T173257Z"},
		{"md5:abc", "20261204T173257Z"},
	} {
		got := MakeVersion(built, c.digest)
		if got != c.want {
			t.Errorf("MakeVersion(%q) = %q, want %q", c.digest, got, c.want)
		}
		if !ValidVersion(got) {
			t.Errorf("ValidVersion(%q) = false", got)
		}
	}
	for _, bad := range []string{"", "latest", "20261204T173257Z-3F2A9C1B7E4D", "../20261204T173257Z", "20261204T173257Z-3f2a9c1b7e4", "20261204T173257Z-3f2a9c1b7e4d/x"} {
		if ValidVersion(bad) {
			t.Errorf("ValidVersion(%q) = true", bad)
		}
	}
}

// importDigest imports the shared feeds at rels into a new directory and
// returns the database's build report and opened version.
func importDigest(t *testing.T, rels ...string) (*BuildReport, string) {
	t.Helper()
	var paths []string
	for _, r := range rels {
		paths = append(paths, testenv.Shared(t, r))
	}
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Import(context.Background(), paths, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Version() != rep.Build.Version || db.Digest() != rep.Build.Digest {
		t.Errorf("opened database says version %s digest %s, its build %s %s", db.Version(), db.Digest(), rep.Build.Version, rep.Build.Digest)
	}
	return rep.Build, db.Version()
}

// TestVersionDigestIsContent: the same feeds imported twice, at other
// times and into other directories, have the same digest; a feed more
// changes it, and the version carries the digest's first digits.
func TestVersionDigestIsContent(t *testing.T) {
	a, va := importDigest(t, "vulndb/osv/npm/all.zip", "vulndb/kev/known_exploited_vulnerabilities.json")
	b, _ := importDigest(t, "vulndb/osv/npm/all.zip", "vulndb/kev/known_exploited_vulnerabilities.json")
	c, vc := importDigest(t, "vulndb/osv/npm/all.zip", "vulndb/kev/known_exploited_vulnerabilities.json", "vulndb/osv/Ubuntu/all.zip")
	if !strings.HasPrefix(a.Digest, "sha256:") || len(a.Digest) != len("sha256:")+64 {
		t.Fatalf("digest %q is not a SHA-256", a.Digest)
	}
	if a.Digest != b.Digest {
		t.Errorf("the same feeds built twice: digests %s and %s", a.Digest, b.Digest)
	}
	if a.Digest == c.Digest {
		t.Errorf("adding osv/Ubuntu left the digest %s", a.Digest)
	}
	for _, v := range []string{va, vc} {
		if !ValidVersion(v) {
			t.Errorf("version %q is not of the documented form", v)
		}
	}
	if !strings.HasSuffix(va, "-"+strings.TrimPrefix(a.Digest, "sha256:")[:12]) {
		t.Errorf("version %s does not end in the digest's first 12 digits (%s)", va, a.Digest)
	}
}
