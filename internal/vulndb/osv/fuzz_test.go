package osv

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vuln"
)

// FuzzReadZip reads arbitrary bytes as an OSV all.zip under small limits:
// it never panics, delivers at most one advisory per .json entry, names
// the entry of every record it skips, and inflates no more than its
// budget however the zip lies about sizes.
func FuzzReadZip(f *testing.F) {
	for _, eco := range []string{"Ubuntu", "Maven"} {
		data, err := os.ReadFile(testenv.Shared(f, "vulndb/osv/"+eco+"/all.zip"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// A few real Go records, re-zipped: symbol-level data and withdrawn ones.
	goZip, err := zip.OpenReader(testenv.Shared(f, "vulndb/osv/Go/all.zip"))
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i, e := range goZip.File {
		if i%1000 != 0 {
			continue
		}
		rc, err := e.Open()
		if err != nil {
			f.Fatal(err)
		}
		w, _ := zw.Create(e.Name)
		io.Copy(w, rc)
		rc.Close()
	}
	goZip.Close()
	w, _ := zw.Create("not-json.txt")
	w.Write([]byte("{}"))
	w, _ = zw.Create("../../escape.json")
	w.Write([]byte(`{"id":"X-1"}`))
	zw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	lim := limits{record: 1 << 20, entries: 1000, inflateBase: 4 << 20, inflateRatio: 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		var delivered int
		errs, err := readZip(bytes.NewReader(data), int64(len(data)), lim, func(a *vuln.Advisory) error {
			if a.ID == "" {
				t.Fatal("an advisory without an id")
			}
			delivered++
			return nil
		})
		zr, zerr := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if zerr != nil && !errors.Is(zerr, zip.ErrInsecurePath) {
			if err == nil {
				t.Fatalf("read a zip Go's archive/zip cannot open (%v)", zerr)
			}
			return
		}
		entries := 0
		for _, e := range zr.File {
			if strings.HasSuffix(e.Name, ".json") {
				entries++
			}
		}
		if delivered+countSkipped(errs) > entries {
			t.Fatalf("%d delivered and %d skipped of %d .json entries", delivered, countSkipped(errs), entries)
		}
		for _, e := range errs {
			var re *RecordError
			if !errors.As(e, &re) || re.Entry == "" {
				t.Fatalf("a record problem that names no entry: %v", e)
			}
		}
		if err != nil && !strings.HasPrefix(err.Error(), "osv: ") {
			t.Fatalf("error %q has no package prefix", err)
		}
	})
}

func countSkipped(errs []error) int {
	n := 0
	for _, e := range errs {
		var re *RecordError
		if errors.As(e, &re) && !re.Warning {
			n++
		}
	}
	return n
}
