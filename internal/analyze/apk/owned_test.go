package apk

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/testenv"
)

// TestOwnedReal checks the file lists read from the real databases against
// an independent awk reading of the same F:/R: lines.
func TestOwnedReal(t *testing.T) {
	for _, v := range []string{"3.6.5", "3.20.3"} {
		t.Run(v, func(t *testing.T) {
			db := testenv.Shared(t, "os/alpine-"+v+"/lib/apk/db/installed")
			out, err := exec.Command(testenv.Tool(t, "awk"), `
				/^P:/ { pkg = substr($0, 3) }
				/^F:/ { dir = substr($0, 3) }
				/^$/  { dir = "" }
				/^R:/ { f = substr($0, 3); if (dir != "") f = dir "/" f; print pkg "\t" f }`, db).Output()
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Split(strings.TrimSpace(string(out)), "\n")
			data, err := os.ReadFile(db)
			if err != nil {
				t.Fatal(err)
			}
			owned, err := Cataloger{}.Owned(context.Background(), analyze.NewFile("lib/apk/db/installed", 0o644, data))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range owned {
				for _, f := range o.Files {
					got = append(got, strings.TrimPrefix(o.Owner, "apk:")+"\t"+f)
				}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got %d owned files, awk says %d", len(got), len(want))
			}
			if len(got) < 50 {
				t.Errorf("only %d owned files", len(got))
			}
		})
	}
}
