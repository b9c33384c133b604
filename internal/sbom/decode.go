package sbom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/vigilsec/vigil/internal/inventory"
)

// Decode reads a CycloneDX JSON, SPDX JSON or SPDX tag-value document.
// It returns an error for anything else, for documents over MaxSize and
// for documents that are malformed, including a package whose purl does
// not parse.
func Decode(r io.Reader) (Subject, *inventory.Inventory, error) {
	return decode(r, MaxSize)
}

func decode(r io.Reader, max int64) (s Subject, inv *inventory.Inventory, err error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return Subject{}, nil, fmt.Errorf("sbom: read: %w", err)
	}
	if int64(len(data)) > max {
		return Subject{}, nil, ErrTooLarge
	}
	// The format libraries are not written for hostile input; a panic in
	// one of them must become an error, not take the scanner down.
	defer func() {
		if p := recover(); p != nil {
			s, inv, err = Subject{}, nil, fmt.Errorf("sbom: malformed document (decoder panic): %v", p)
		}
	}()
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return Subject{}, nil, errors.New("sbom: empty document")
	case trimmed[0] == '{':
		var probe struct {
			BOMFormat   *string `json:"bomFormat"`
			SPDXVersion *string `json:"spdxVersion"`
		}
		if err := json.Unmarshal(data, &probe); err != nil {
			return Subject{}, nil, fmt.Errorf("sbom: not valid JSON: %w", err)
		}
		switch {
		case probe.BOMFormat != nil:
			if *probe.BOMFormat != "CycloneDX" {
				return Subject{}, nil, fmt.Errorf("sbom: bomFormat %q, want \"CycloneDX\"", *probe.BOMFormat)
			}
			return decodeCycloneDX(data)
		case probe.SPDXVersion != nil:
			return decodeSPDXJSON(data, *probe.SPDXVersion)
		}
		return Subject{}, nil, errors.New("sbom: JSON document is neither CycloneDX (no bomFormat) nor SPDX (no spdxVersion)")
	case trimmed[0] == '<':
		return Subject{}, nil, errors.New("sbom: XML documents are not supported; use CycloneDX JSON or SPDX JSON")
	case bytes.HasPrefix(trimmed, []byte("SPDXVersion:")) || bytes.Contains(firstLines(trimmed), []byte("\nSPDXVersion:")):
		return decodeSPDXTagValue(data)
	}
	return Subject{}, nil, errors.New("sbom: unknown format: want CycloneDX JSON, SPDX JSON or SPDX tag-value")
}

// firstLines returns the start of a document, where a tag-value document
// names its version (after any comment lines).
func firstLines(b []byte) []byte {
	return b[:min(len(b), 4096)]
}
