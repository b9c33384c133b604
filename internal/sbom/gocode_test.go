package sbom

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
)

// TestGoCodeRoundTrip writes a Go module's code in the binary into both
// formats and reads it back unchanged, empty function lists included;
// a malformed vigil:go:code is refused, naming the package.
func TestGoCodeRoundTrip(t *testing.T) {
	code := &inventory.GoCode{GOOS: "linux", GOARCH: "amd64", Packages: map[string][]string{
		"golang.org/x/text/language": {"Parse", "Tag.String"},
		"golang.org/x/text/internal": {},
	}}
	inv := &inventory.Inventory{Packages: []inventory.Package{{
		Name: "golang.org/x/text", Version: "v0.3.5", Type: inventory.Go, PURL: "pkg:golang/golang.org/x/text@v0.3.5",
		Path: "/usr/local/bin/app", Cataloger: "gobin", Evidence: inventory.Installed, GoCode: code,
	}}}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for name, enc := range map[string]func(io.Writer, Subject, *inventory.Inventory, Tool, time.Time) error{"cyclonedx": EncodeCycloneDX, "spdx": EncodeSPDX} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := enc(&buf, Subject{Name: "app"}, inv, Tool{Name: "vigil"}, now); err != nil {
				t.Fatal(err)
			}
			_, got, err := Decode(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Packages) != 1 || !reflect.DeepEqual(got.Packages[0].GoCode, code) {
				t.Fatalf("read back %+v, want %+v", got.Packages[0].GoCode, code)
			}
			bad := strings.Replace(buf.String(), `{\"packages\"`, `{\"packages\":`, 1)
			if bad == buf.String() {
				t.Fatalf("no vigil:go:code in the document:\n%s", buf.String())
			}
			if _, _, err := Decode(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "golang.org/x/text") || !strings.Contains(err.Error(), "vigil:go:code") {
				t.Errorf("malformed vigil:go:code: %v", err)
			}
		})
	}
}
