package rpm

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTimingTmp(t *testing.T) {
	header := smallestHeader(t)
	for _, d := range [][]byte{tinyBDB(header), tinyNDB(header), []byte("garbage garbage garbage garbage garbage")} {
		file := filepath.Join(t.TempDir(), "Packages")
		os.WriteFile(file, d, 0o644)
		for i := 0; i < 3; i++ {
			st := time.Now()
			_, err := catalog(t, file, "var/lib/rpm/Packages")
			t.Log(time.Since(st), err)
		}
	}
}

func FuzzTrivialTmp(f *testing.F) {
	f.Add([]byte("abc"))
	f.Fuzz(func(t *testing.T, data []byte) { checkHeader(data) })
}
