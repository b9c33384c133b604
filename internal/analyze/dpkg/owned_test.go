package dpkg

import (
	"context"
	"slices"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
)

func TestOwned(t *testing.T) {
	for _, tc := range []struct {
		path, data, owner string
		files             []string
	}{
		{"var/lib/dpkg/info/python3-requests.list", "/.\n/usr\n/usr/lib/python3/dist-packages/requests-2.25.1.egg-info/PKG-INFO\n",
			"deb:python3-requests", []string{"/usr", "/usr/lib/python3/dist-packages/requests-2.25.1.egg-info/PKG-INFO"}},
		{"var/lib/dpkg/info/libc6:amd64.list", "/lib/x86_64-linux-gnu/libc.so.6\n", "deb:libc6", []string{"/lib/x86_64-linux-gnu/libc.so.6"}},
		{"var/lib/dpkg/status.d/openssl.md5sums", "0123456789abcdef0123456789abcdef  usr/bin/openssl\n", "deb:openssl", []string{"usr/bin/openssl"}},
	} {
		if !(Cataloger{}).WantsOwned(tc.path) {
			t.Errorf("WantsOwned(%q) = false", tc.path)
		}
		got, err := Cataloger{}.Owned(context.Background(), analyze.NewFile(tc.path, 0o644, []byte(tc.data)))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Owner != tc.owner || !slices.Equal(got[0].Files, tc.files) {
			t.Errorf("%s: got %+v", tc.path, got)
		}
	}
	for _, p := range []string{"var/lib/dpkg/info/x.md5sums", "var/lib/dpkg/info/.list", "var/lib/dpkg/status", "usr/share/x.list"} {
		if (Cataloger{}).WantsOwned(p) {
			t.Errorf("WantsOwned(%q) = true", p)
		}
	}
	if _, err := (Cataloger{}).Owned(context.Background(), analyze.NewFile("var/lib/dpkg/status.d/x.md5sums", 0o644, []byte("no two spaces\n"))); err == nil {
		t.Error("malformed md5sums accepted")
	}
}
