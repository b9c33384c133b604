package python

import (
	"context"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
)

func TestWants(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA", true},
		{"usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/RECORD", false},
		{"usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO", true},
		{"usr/lib/python2.7/wsgiref.egg-info", true},
		{"usr/lib/python2.7/site-packages/foo-1.0-py2.7.egg/EGG-INFO/PKG-INFO", true},
		{"src/project/PKG-INFO", false},
		{"METADATA", false},
		{".egg-info", false},
		{"app/requirements.txt", true},
		{"app/requirements-dev.txt", true},
		{"requirements.in", false},
		{"app/dev-requirements.txt", false},
		{"app/poetry.lock", true},
		{"app/Pipfile.lock", true},
		{"app/Pipfile", false},
	} {
		if got := (Cataloger{}).Wants(tc.path, 0o644, 1); got != tc.want {
			t.Errorf("Wants(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestCatalogNamesFile(t *testing.T) {
	const p = "usr/lib/python3/dist-packages/x-1.dist-info/METADATA"
	pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile(p, 0o644, []byte("Name: x\n")))
	if len(pkgs) != 0 || err == nil || !strings.HasPrefix(err.Error(), "python: metadata: missing Version") || !strings.Contains(err.Error(), p) {
		t.Errorf("got %v, %v; want an error naming the file", pkgs, err)
	}
	pkgs, err = Cataloger{}.Catalog(context.Background(), analyze.NewFile("etc/passwd", 0o644, []byte("root:x:0:0")))
	if pkgs != nil || err != nil {
		t.Errorf("a file not wanted gave %v, %v", pkgs, err)
	}
}
