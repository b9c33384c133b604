package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/catalog"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testenv"
)

// TestEncodeInventory checks that encodeInventory writes what
// json.Marshal writes, byte for byte (the stored inventory's hash is that
// of its bytes), for the inventories of real images and for the empty
// ones.
func TestEncodeInventory(t *testing.T) {
	a, err := analyze.New(catalog.Default(), analyze.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	invs := []*inventory.Inventory{{}, {Packages: []inventory.Package{}}, {Distro: &inventory.Distro{ID: "debian", VersionID: "12"}}}
	for _, name := range []string{"debian-bookworm-minbase", "alpine-3.20.3", "debian-bullseye-app"} {
		img, err := image.Open(context.Background(), "oci:"+testenv.Image(t, name)+":latest")
		if err != nil {
			t.Fatal(err)
		}
		res, err := a.Analyze(context.Background(), img)
		img.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Inventory.Packages) == 0 {
			t.Fatalf("%s: no packages", name)
		}
		invs = append(invs, &res.Inventory)
	}
	for i, inv := range invs {
		want, err := json.Marshal(inv)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeInventory(inv)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("inventory %d (%d packages): encoded differently from json.Marshal:\n%.300s\n%.300s", i, len(inv.Packages), got, want)
		}
		if len(inv.Packages) > 0 && cap(got) != len(got) {
			t.Errorf("inventory %d: a buffer of %d bytes for %d", i, cap(got), len(got))
		}
	}
}

// BenchmarkEncodeInventory encodes an inventory of 25,000 npm packages,
// the most an image is taken to hold; B/op is what encoding it allocates
// (json.Marshal: about four times the text's size).
func BenchmarkEncodeInventory(b *testing.B) {
	inv := &inventory.Inventory{}
	for i := range 25000 {
		p := inventory.Package{Name: fmt.Sprintf("p%06d", i), Version: "1.0.0", Type: inventory.NPM,
			Path: fmt.Sprintf("/app/node_modules/p%06d/package.json", i), Cataloger: "npm", Evidence: inventory.Installed,
			Layer: inventory.LayerRef{DiffID: "sha256:be9e02f4a4e87063f3715b5508fb98c3259feb06f5b5b343a22462bb9e0bab89"}}
		p.PURL = inventory.PURL(&p, nil)
		inv.Packages = append(inv.Packages, p)
	}
	for _, enc := range []struct {
		name string
		fn   func(*inventory.Inventory) ([]byte, error)
	}{
		{"json.Marshal", func(inv *inventory.Inventory) ([]byte, error) { return json.Marshal(inv) }},
		{"encodeInventory", encodeInventory},
	} {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enc.fn(inv); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
