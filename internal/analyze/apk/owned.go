package apk

import (
	"bytes"
	"context"
	"fmt"

	"github.com/vigilsec/vigil/internal/analyze"
)

var _ analyze.Owner = Cataloger{}

// WantsOwned takes the installed database: besides the packages it lists
// every file each installed.
func (c Cataloger) WantsOwned(p string) bool { return c.Wants(p, 0, 0) }

// Owned reads the file lists of the installed database: in each package's
// paragraph, "F:" names a directory (relative to the root) and each "R:"
// after it a file in that directory.
func (Cataloger) Owned(_ context.Context, f *analyze.File) ([]analyze.Ownership, error) {
	data, err := f.Bytes(maxDBSize)
	if err != nil {
		return nil, fmt.Errorf("apk: %w", err)
	}
	var (
		out []analyze.Ownership
		cur = -1 // index in out of the paragraph's package
		dir string
	)
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		if len(bytes.TrimSpace(line)) == 0 {
			cur, dir = -1, ""
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			continue // Catalog reports malformed paragraphs
		}
		value := string(line[2:])
		switch line[0] {
		case 'P':
			out = append(out, analyze.Ownership{Owner: "apk:" + value})
			cur = len(out) - 1
		case 'F':
			dir = value
		case 'R':
			if cur >= 0 {
				if dir != "" {
					value = dir + "/" + value
				}
				out[cur].Files = append(out[cur].Files, value)
			}
		}
	}
	return out, nil
}
