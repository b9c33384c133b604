package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/scan"
)

// TestDBVersionInEveryReport: the version of the database a scan used is
// in the JSON report, SARIF's run properties, CycloneDX's metadata
// properties and the table's last line.
func TestDBVersionInEveryReport(t *testing.T) {
	const version = "20261204T183257Z-3f2a9c1b7e4d"
	r := testReport(t)
	r.Database = &scan.Database{Path: "vulndb.sqlite", Built: time.Date(2026, 12, 4, 18, 32, 57, 0, time.UTC),
		Version: version, Digest: "sha256:3f2a9c1b7e4d" + strings.Repeat("0", 52)}
	opts := Options{Tool: "vigil", Version: "test", Now: r.Time}
	write := func(f func(*bytes.Buffer) error) []byte {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}

	var doc struct {
		Database struct{ Version, Digest string } `json:"database"`
	}
	if err := json.Unmarshal(write(func(b *bytes.Buffer) error { return WriteJSON(b, r, opts) }), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Database.Version != version || doc.Database.Digest != r.Database.Digest {
		t.Errorf("json database = %+v", doc.Database)
	}

	var sarif struct {
		Runs []struct {
			Properties map[string]string `json:"properties"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(write(func(b *bytes.Buffer) error { return WriteSARIF(b, r, opts) }), &sarif); err != nil {
		t.Fatal(err)
	}
	if len(sarif.Runs) != 1 || sarif.Runs[0].Properties["databaseVersion"] != version {
		t.Errorf("sarif run properties = %+v", sarif.Runs)
	}

	var bom struct {
		Metadata struct {
			Properties []struct{ Name, Value string } `json:"properties"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(write(func(b *bytes.Buffer) error { return WriteCycloneDX(b, r, opts) }), &bom); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, p := range bom.Metadata.Properties {
		if p.Name == "vigil:db:version" {
			found++
			if p.Value != version {
				t.Errorf("vigil:db:version = %q", p.Value)
			}
		}
	}
	if found != 1 {
		t.Errorf("cyclonedx has %d vigil:db:version properties: %+v", found, bom.Metadata.Properties)
	}

	table := strings.TrimRight(string(write(func(b *bytes.Buffer) error { return WriteTable(b, r, opts) })), "\n")
	if last := table[strings.LastIndexByte(table, '\n')+1:]; last != "Vulnerability database: "+version {
		t.Errorf("table's last line = %q", last)
	}
}
