package npm

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testenv"
)

// TestImage runs the cataloger through the real analyzer on the
// debian-bullseye-app image, whose /app is `npm ci` of the npm-app
// fixture: the 55 installed packages npm ls lists, each also declared by
// /app/package-lock.json, and nothing for the project itself.
func TestImage(t *testing.T) {
	app := testenv.Shared(t, "lang/npm-app")
	want := golden(t, "npm-app", filepath.Join(app, "package.json"), filepath.Join(app, "package-lock.json"),
		filepath.Join("testdata", "npm-app", "package-lock.v1.json"))
	layout := testenv.Image(t, "debian-bullseye-app")

	ctx := context.Background()
	img, err := image.Open(ctx, "oci:"+layout)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	a, err := analyze.New([]analyze.Cataloger{Cataloger{}}, analyze.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Analyze(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		t.Errorf("warning: %s", w)
	}
	var got []inventory.Package
	for _, p := range res.Inventory.Packages {
		if p.Evidence != inventory.Installed || !strings.HasPrefix(p.Path, "/app/node_modules/") ||
			!strings.HasSuffix(p.Path, "/package.json") || !slices.Contains(p.Locations, "/app/package-lock.json") {
			t.Errorf("%s@%s: %s %s, locations %v", p.Name, p.Version, p.Evidence, p.Path, p.Locations)
		}
		if !strings.HasPrefix(p.PURL, "pkg:npm/") {
			t.Errorf("%s@%s: purl %s", p.Name, p.Version, p.PURL)
		}
		got = append(got, p)
	}
	if g := render(got); g != want {
		t.Errorf("packages in the image differ from npm ls:\n%s", diff(want, g))
	}
}
