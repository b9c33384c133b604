package rust

import (
	"bytes"
	"compress/zlib"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/vigilsec/vigil/internal/inventory"
)

// depSection is the ELF section cargo-auditable writes its zlib-compressed
// JSON dependency list into.
const depSection = ".dep-v0"

// maxDepJSON bounds the decompressed dependency list: real ones are tens
// of KiB, and a small section could otherwise inflate without limit.
const maxDepJSON = 8 << 20

// readAuditable returns the crates listed in the .dep-v0 section of an ELF
// executable, and nothing for files that are not ELF or have no such
// section. Sections are read through the ReaderAt, never the whole file.
func readAuditable(r io.ReaderAt) ([]inventory.Package, error) {
	var magic [4]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	if string(magic[:]) != elf.ELFMAG {
		return nil, nil
	}
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("read ELF headers: %w", err)
	}
	sec := ef.Section(depSection)
	if sec == nil {
		return nil, nil
	}
	if sec.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf("%s section holds no data", depSection)
	}
	pkgs, err := DecodeDepV0(sec.Open())
	if err != nil {
		return nil, fmt.Errorf("%s section: %w", depSection, err)
	}
	return pkgs, nil
}

// DecodeDepV0 returns the crates of a cargo-auditable dependency list:
// zlib-compressed JSON of the form {"packages": [{"name", "version",
// "source", "kind", "root", "dependencies"}]}. Each crate's Metadata has
// "cargo.source" ("crates.io", "registry", "git", "local" or another
// source cargo-auditable names), "cargo.kind" ("runtime", or "build" for
// crates only used by build scripts and procedural macros, which are not
// in the executable) and "cargo.root" = "true" for the executable's own
// crate.
func DecodeDepV0(compressed io.Reader) ([]inventory.Package, error) {
	zr, err := zlib.NewReader(compressed)
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	defer zr.Close()
	data, err := io.ReadAll(io.LimitReader(zr, maxDepJSON+1))
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	if len(data) > maxDepJSON {
		return nil, fmt.Errorf("dependency list inflates beyond %d bytes", maxDepJSON)
	}
	return parseDepJSON(data)
}

type depInfo struct {
	Packages *[]depPackage `json:"packages"`
}

type depPackage struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	Source  json.RawMessage `json:"source"`
	Kind    string          `json:"kind"`
	Root    bool            `json:"root"`
}

// parseDepJSON reads the JSON of a dependency list. Crates without a name
// or version are reported in the error; the others are still returned.
func parseDepJSON(data []byte) ([]inventory.Package, error) {
	var info depInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("dependency list: %w", err)
	}
	if info.Packages == nil {
		return nil, errors.New("dependency list: no \"packages\" array")
	}
	var (
		pkgs []inventory.Package
		errs []error
	)
	for i, p := range *info.Packages {
		src, err := depSource(p.Source)
		switch {
		case p.Name == "" || p.Version == "":
			err = errors.New("missing name or version")
		case err != nil:
			err = fmt.Errorf("source %s is neither a string nor {\"Other\": string}", truncate(p.Source))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("package %d (%q): %w", i, p.Name, err))
			continue
		}
		kind := p.Kind
		if kind == "" {
			kind = "runtime" // omitted when it is the default
		}
		md := map[string]string{"cargo.kind": kind}
		if src != "" {
			md["cargo.source"] = src
		}
		if p.Root {
			md["cargo.root"] = "true"
		}
		pkgs = append(pkgs, pkg(p.Name, p.Version, inventory.Installed, md))
	}
	if err := errors.Join(errs...); err != nil {
		return pkgs, fmt.Errorf("dependency list: %w", err)
	}
	return pkgs, nil
}

// depSource reads a crate's source: a string ("crates.io", "git",
// "local", "registry", or any other name), or {"Other": name} as the
// format's JSON schema also allows. An absent source is left empty.
func depSource(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var other struct{ Other *string }
	if err := json.Unmarshal(raw, &other); err != nil || other.Other == nil {
		return "", errors.New("not a source")
	}
	return *other.Other, nil
}

func truncate(b []byte) string {
	if len(b) > 60 {
		return string(bytes.ToValidUTF8(b[:60], nil)) + "…"
	}
	return string(b)
}
