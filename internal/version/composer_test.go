package version

import (
	"errors"
	"testing"
)

// TestComposerNormalize checks normalization against composer/semver's
// VersionParserTest (successfulNormalizedVersions and
// failingNormalizedVersions), leaving out aliases, stability flags and
// branch names, which are no versions here.
func TestComposerNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"1.0.0", "1.0.0.0"},
		{"1.2.3.4", "1.2.3.4"},
		{"1.0.0RC1dev", "1.0.0.0-RC1-dev"},
		{"1.0.0-rC15-dev", "1.0.0.0-RC15-dev"},
		{"1.0.0.RC.15-dev", "1.0.0.0-RC15-dev"},
		{"1.0.0-rc1", "1.0.0.0-RC1"},
		{"1.0.0.pl3-dev", "1.0.0.0-patch3-dev"},
		{"1.0-dev", "1.0.0.0-dev"},
		{"0", "0.0.0.0"},
		{"10.4.13-beta", "10.4.13.0-beta"},
		{"10.4.13beta2", "10.4.13.0-beta2"},
		{"10.4.13beta.2", "10.4.13.0-beta2"},
		{"v1.13.11-beta.0", "1.13.11.0-beta0"},
		{"1.13.11.0-beta0", "1.13.11.0-beta0"},
		{"10.4.13-b", "10.4.13.0-beta"},
		{"10.4.13-b5", "10.4.13.0-beta5"},
		{"v1.0.0", "1.0.0.0"},
		{"2010.01", "2010.01.0.0"},
		{"2010.01.02", "2010.01.02.0"},
		{"2010.1.555", "2010.1.555.0"},
		{"2010.10.200", "2010.10.200.0"},
		{"v20100102", "20100102"},
		{"2010-01-02", "2010.01.02"},
		{"2012.06.07", "2012.06.07.0"},
		{"2010-01-02.5", "2010.01.02.5"},
		{"20100102-203040", "20100102.203040"},
		{"20100102203040-10", "20100102203040.10"},
		{"20100102-203040-p1", "20100102.203040-patch1"},
		{"201903.0", "201903.0"},
		{"201903.0-p2", "201903.0-patch2"},
		{"1.0.0+sha.1234", "1.0.0.0"},
		{"1.0.0-beta+sha.1234", "1.0.0.0-beta"},
		{"1.0.0-RC1+sha.1234", "1.0.0.0-RC1"},
		{"1.0.0-rc1+sha.1234", "1.0.0.0-RC1"},
		{"00.01.03.04", "00.01.03.04"},
		{"000.001.003.004", "000.001.003.004"},
		{"0.000.103.204", "0.000.103.204"},
		{"0700", "0700.0.0.0"},
		{"041.x-dev", "041.9999999.9999999.9999999-dev"},
		{" 1.0.0", "1.0.0.0"},
		{"1.0.0 ", "1.0.0.0"},
		// From the normalizeBranch tests.
		{"v1.x-dev", "1.9999999.9999999.9999999-dev"},
		{"v1.2.x-dev", "1.2.9999999.9999999-dev"},
		{"v1.*-dev", "1.9999999.9999999.9999999-dev"},
		{"1.X-dev", "1.9999999.9999999.9999999-dev"},
		// normalize keeps "STABLE" (only a lower-case "stable" is
		// dropped).
		{"1.0-stable", "1.0.0.0"},
		{"1.0-STABLE", "1.0.0.0-stable"},
	} {
		got, err := normalizeComposer(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"", "a", "1.0.0-meh", "1.0.0.0.0", "feature-foo", "1.0.0+foo bar",
		"1.0.1-SNAPSHOT", "1.0.0<1.0.5-dev", "1.0.0-dev<1.0.5-dev", "foo bar-dev",
		"1.0 .2", " as ", " as 1.2", "^", "^8 || ^", "~", "~1 ~", "~1", "^1", "1.*",
		"20100102.0.3.4", "dev-master", "master", "1.0.0+",
	} {
		if got, err := normalizeComposer(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("normalize(%q) = %q, %v; want an error", in, got, err)
		}
	}
}

func TestPHPVersionCompare(t *testing.T) {
	// The rules of php_version_compare (ext/standard/versioning.c),
	// worked by hand.
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1", "1", 0},
		{"1", "1.0", -1},
		{"1.0", "1.0.0", -1},
		{"1.0-dev", "1.0", -1},
		{"1.0alpha", "1.0", -1},
		{"1.0a1", "1.0b1", -1},
		{"1.0RC1", "1.0rc1", 0},
		{"1.0RC1", "1.0", -1},
		{"1.0pl1", "1.0", 1},
		// A word against a number compares with "#": pl > # but
		// RC < #. (Composer's four-part forms never meet this.)
		{"1.0-pl1", "1.0.1", 1},
		{"1.0-RC1", "1.0.1", -1},
		{"1.0#1", "1.0", 1},
		{"1.0foo", "1.0dev", -1},
		{"1.0", "1.0foo", 1},
		{"1.0.0", "1_0_0", 0},
		{"1.0.0", "1-0+0", 0},
		{"1..0", "1.0", 0},
		{"", "", 0},
		{"", "1", -1},
	} {
		if got := phpVersionCompare(tc.a, tc.b); got != tc.want {
			t.Errorf("version_compare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := phpVersionCompare(tc.b, tc.a); got != -tc.want {
			t.Errorf("version_compare(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}
