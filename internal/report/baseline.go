package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vigilsec/vigil/internal/scan"
)

// maxBaselineSize bounds the earlier report ReadBaseline reads.
const maxBaselineSize = 256 << 20

// ReadBaseline reads an earlier `vigil scan --format json` report for
// scan.CompareBaseline: its findings, ignored ones included, and what it
// says of its image and database.
func ReadBaseline(path string) (*scan.Baseline, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxBaselineSize+1))
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	if len(data) > maxBaselineSize {
		return nil, fmt.Errorf("baseline %s: larger than %d MiB; not a Vigil report", path, maxBaselineSize>>20)
	}
	var doc struct {
		Schema    string       `json:"schema"`
		ScannedAt time.Time    `json:"scannedAt"`
		Subject   scan.Subject `json:"subject"`
		Database  *Database    `json:"database"`
		Findings  []Finding    `json:"findings"`
		Ignored   []Finding    `json:"ignored"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("baseline %s: not a Vigil JSON report (vigil scan --format json): %w", path, err)
	}
	if doc.Schema != SchemaJSON {
		if doc.Schema == "" {
			return nil, fmt.Errorf("baseline %s: not a Vigil JSON report (vigil scan --format json): no \"schema\"", path)
		}
		return nil, fmt.Errorf("baseline %s: schema %q, this Vigil reads %q", path, doc.Schema, SchemaJSON)
	}
	b := &scan.Baseline{Path: path, Subject: doc.Subject.Name, Digest: doc.Subject.Digest, ScannedAt: doc.ScannedAt}
	if doc.Database != nil {
		b.DatabaseVersion = doc.Database.Version
	}
	for i, list := range [][]Finding{doc.Findings, doc.Ignored} {
		for j, f := range list {
			if f.ID == "" || f.Package == nil || f.Package.Name == "" {
				where := "findings"
				if i == 1 {
					where = "ignored"
				}
				return nil, fmt.Errorf("baseline %s: %s[%d]: %w", path, where, j, errors.New("a finding needs an id and a package name"))
			}
			b.Findings = append(b.Findings, scan.Prior{
				ID: f.ID, Aliases: f.Aliases, Package: f.Package.Name, PackageType: string(f.Package.Type),
				Version: f.Package.Version, Severity: f.Severity,
			})
		}
	}
	return b, nil
}
