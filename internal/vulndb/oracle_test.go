package vulndb

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
)

// TestImportOracleOVAL imports Oracle's ELSA OVAL as Oracle publishes it,
// bzip2-compressed (made here from the real definitions with bzip2
// itself), as the feed oracle/elsa; the feed is in the default set.
func TestImportOracleOVAL(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "com.oracle.elsa-all.xml")
	copyFile(t, "oval/testdata/elsa-per-arch.xml", p)
	if out, err := exec.Command(testenv.Tool(t, "bzip2"), p).CombinedOutput(); err != nil {
		t.Fatalf("bzip2: %v\n%s", err, out)
	}
	d, err := NewDir(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Import(context.Background(), []string{p + ".bz2"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported["oracle/elsa"] != p+".bz2" {
		t.Fatalf("imported %v", rep.Imported)
	}
	db, err := Open(context.Background(), d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	advs, err := db.Affecting(context.Background(), "Oracle Linux:8", "osbuild")
	if err != nil || len(advs) != 1 || advs[0].ID != "ELSA-2024-2961" {
		t.Errorf("%v %+v", err, advs)
	}
	sources, _ := db.Sources(context.Background())
	for _, s := range sources {
		// Its newest ELSA, issued 2025-07-01 (ELSA-2025-10073), is the
		// data's age.
		if s.Name == "oracle/elsa" && (s.Kind != KindOracleOVAL || s.Records != 3 || s.Updated.Format(time.DateOnly) != "2025-07-01") {
			t.Errorf("source %+v", s)
		}
	}
	kinds := map[Kind]int{}
	for _, s := range DefaultUpstream().Sources() {
		kinds[s.Kind]++
	}
	if kinds[KindOracleOVAL] != 1 || kinds[KindPhotonOVAL] != 3 {
		t.Errorf("default update set: %d Oracle ELSA, %d Photon OVAL feeds", kinds[KindOracleOVAL], kinds[KindPhotonOVAL])
	}
	if _, err := os.Stat(p); err == nil {
		t.Error("bzip2 kept the uncompressed file")
	}
}
