package dbartifact

import (
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/vulndb"
)

func validManifest(t testing.TB) []byte {
	t.Helper()
	raw, err := manifestFor(vulndb.Snapshot{Schema: 2, Built: "2026-12-04T18:32:57Z", Version: "20261204T183257Z-3f2a9c1b7e4d"},
		[]byte(`{"schema":2}`), []vulndb.Partition{
			{Name: "advisories/osv/Go", Rows: 3, Digest: "sha256:" + strings.Repeat("a", 64), Size: 10},
			{Name: "kev", Rows: 1, Digest: "sha256:" + strings.Repeat("b", 64), Size: 5},
		}, "20261203T000000Z-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestDBPullManifest: the manifest made is read back as made, and one
// that is not a Vigil database, or is malformed, is refused saying what
// is wrong.
func TestDBPullManifest(t *testing.T) {
	raw := validManifest(t)
	a, err := parseManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.parts) != 2 || a.parts[0].Name != "advisories/osv/Go" || a.parts[0].Rows != 3 || a.parts[1].Size != 5 ||
		a.manifest.Annotations[AnnotationPrevious] != "20261203T000000Z-000000000000" || a.manifest.ArtifactType != ArtifactType {
		t.Errorf("read back: %+v", a)
	}
	for _, c := range []struct{ from, to, want string }{
		{`"artifactType":"application/vnd.vigil.db.v1"`, `"artifactType":"application/vnd.example"`, "not a Vigil database"},
		{`"mediaType":"application/vnd.oci.image.manifest.v1+json"`, `"mediaType":"application/vnd.oci.image.index.v1+json"`, "not a Vigil database"},
		{`"vnd.vigil.db.partition":"kev"`, `"vnd.vigil.db.partition":"advisories/osv/Go"`, "named twice"},
		{`"vnd.vigil.db.rows":"1"`, `"vnd.vigil.db.rows":"-1"`, "records"},
		{"sha256:" + strings.Repeat("b", 64), "sha512:" + strings.Repeat("b", 128), "not sha256"},
		{`"application/vnd.vigil.db.partition.v1.jsonl+zstd","digest":"sha256:` + strings.Repeat("a", 64), `"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:` + strings.Repeat("a", 64), "media type"},
		{`{`, `[`, "does not parse"},
	} {
		bad := strings.Replace(string(raw), c.from, c.to, 1)
		if bad == string(raw) {
			t.Fatalf("%q is not in the manifest %s", c.from, raw)
		}
		if _, err := parseManifest([]byte(bad)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("with %s: %v, want an error saying %q", c.to, err, c.want)
		}
	}
}

func FuzzDBPullManifest(f *testing.F) {
	f.Add(validManifest(f))
	f.Add([]byte(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.vigil.db.v1","layers":[{}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := parseManifest(raw)
		if err != nil {
			return
		}
		if len(a.parts) == 0 {
			t.Fatal("accepted without partitions")
		}
		for _, p := range a.parts {
			if p.Name == "" || p.Size <= 0 || p.Rows < 0 || !strings.HasPrefix(p.Digest, "sha256:") {
				t.Fatalf("accepted %+v", p)
			}
		}
	})
}
