package distro

import (
	"os"
	"testing"
)

// TestAmazonLinux detects Amazon Linux 2 and 2023 from their real
// os-release files (provenance in internal/vulndb/updateinfo/testdata).
func TestAmazonLinux(t *testing.T) {
	for file, want := range map[string]struct{ version, pretty string }{
		"amzn-2":    {"2", "Amazon Linux 2"},
		"amzn-2023": {"2023", "Amazon Linux 2023"},
	} {
		b, err := os.ReadFile("../vulndb/updateinfo/testdata/os-release/" + file)
		if err != nil {
			t.Fatal(err)
		}
		d := Detect(func(p string) ([]byte, bool) { return b, p == etcOSRelease })
		if d == nil || d.ID != "amzn" || d.VersionID != want.version || d.Name != "Amazon Linux" || d.PrettyName != want.pretty || d.Source != "/etc/os-release" {
			t.Errorf("%s: %+v", file, d)
		}
	}
}
