package apk

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/testenv"
)

// FuzzOwned reads arbitrary installed databases for their file lists:
// every owner comes from a P: line, every file from an R: line (under the
// F: directory before it, if any), and no more files than R: lines.
func FuzzOwned(f *testing.F) {
	for _, root := range []string{"alpine-3.6.5", "alpine-3.20.3"} {
		data, err := os.ReadFile(filepath.Join(testenv.Shared(f, "os/"+root), "lib/apk/db/installed"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("R:orphan\nP:musl\nF:lib\nR:libc.musl-x86_64.so.1\n\nF:usr\nR:no-package\nP:x\nR:top\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "lib/apk/db/installed"
		got, err := Cataloger{}.Owned(context.Background(), analyze.NewFile(path, 0o644, data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "apk: ") {
				t.Fatalf("error %q has no package prefix", err)
			}
			return
		}
		var ps, rs int
		for _, line := range bytes.Split(data, []byte("\n")) {
			switch {
			case bytes.HasPrefix(line, []byte("P:")):
				ps++
			case bytes.HasPrefix(line, []byte("R:")):
				rs++
			}
		}
		files := 0
		for _, o := range got {
			if !strings.HasPrefix(o.Owner, "apk:") {
				t.Fatalf("owner %q", o.Owner)
			}
			files += len(o.Files)
		}
		if len(got) != ps || files > rs {
			t.Fatalf("%d owners from %d P: lines, %d files from %d R: lines", len(got), ps, files, rs)
		}
	})
}
