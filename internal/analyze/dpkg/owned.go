package dpkg

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/analyze"
)

var _ analyze.Owner = Cataloger{}

// maxListSize bounds one file list; the largest real ones (kernel image
// packages) are a few MiB.
const maxListSize = 32 << 20

// WantsOwned takes dpkg's per-package file lists, var/lib/dpkg/info/*.list
// ("curl.list", or "libc6:amd64.list" for multi-arch packages), and the
// checksum lists distroless images keep in status.d (*.md5sums).
func (Cataloger) WantsOwned(p string) bool {
	dir, base := path.Split(p)
	switch dir {
	case "var/lib/dpkg/info/":
		return strings.HasSuffix(base, ".list") && len(base) > len(".list")
	case "var/lib/dpkg/status.d/":
		return strings.HasSuffix(base, ".md5sums") && len(base) > len(".md5sums")
	}
	return false
}

// Owned reads one file list: a .list file holds one absolute path per
// line; a .md5sums file "<md5>  <path relative to the root>" lines.
func (Cataloger) Owned(_ context.Context, f *analyze.File) ([]analyze.Ownership, error) {
	data, err := f.Bytes(maxListSize)
	if err != nil {
		return nil, fmt.Errorf("dpkg: %w", err)
	}
	base := path.Base(f.Path)
	md5sums := strings.HasSuffix(base, ".md5sums")
	name := strings.TrimSuffix(strings.TrimSuffix(base, ".list"), ".md5sums")
	name, _, _ = strings.Cut(name, ":") // libc6:amd64 → libc6
	o := analyze.Ownership{Owner: "deb:" + name}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if md5sums {
			_, p, ok := strings.Cut(line, "  ")
			if !ok {
				return nil, fmt.Errorf("dpkg: %s: line %d: not \"<md5>  <path>\"", f.Path, n)
			}
			line = p
		}
		if line = strings.TrimSpace(line); line != "" && line != "/." {
			o.Files = append(o.Files, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dpkg: %s: %w", f.Path, err)
	}
	return []analyze.Ownership{o}, nil
}
