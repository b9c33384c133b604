package cli

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/image"
)

// sourceSchemes are the prefixes that name a source's kind outright.
var sourceSchemes = []string{"oci:", "archive:", "dir:", "rootfs:", "registry:", "docker://", "sbom:"}

// pathHelp is the help text on bare paths, shared by scan and sbom.
const pathHelp = `A bare PATH is read as what it is: a directory holding an oci-layout file is an
OCI layout, any other directory a root filesystem; a file is a docker save tarball or
an OCI archive (also gzip- or zstd-compressed), else a root filesystem tarball; for
vigil scan, a JSON file is an SBOM. A layout or archive may be followed by :TAG. An
argument is a path when it starts with ./, ../ or /, or when it exists; only
otherwise is it looked up in a registry. Write registry:NAME for an image whose name
is also an existing file or directory.`

// resolveSource gives a bare path its scheme (oci:, archive:, dir:,
// rootfs:, or sbom: when sbomOK), leaving references that name their
// kind, and names that are not paths, as they are. An argument is a
// path when it starts with ./, ../ or / or when it exists: a file
// named like an image ("alpine" in the working directory) is read,
// never pulled in its stead.
func resolveSource(ref string, sbomOK bool) (string, error) {
	for _, s := range sourceSchemes {
		if strings.HasPrefix(ref, s) {
			return ref, nil
		}
	}
	explicit := ref == "." || ref == ".." || strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../") || strings.HasPrefix(ref, "/")
	fi, err := os.Stat(ref)
	if err != nil {
		// PATH:TAG, for a layout or an archive, which hold tags.
		if i := strings.LastIndex(ref, ":"); i > 0 && i < len(ref)-1 {
			if p, err := resolveSource(ref[:i], false); err == nil && (strings.HasPrefix(p, "oci:") || strings.HasPrefix(p, "archive:")) {
				return p + ref[i:], nil
			}
		}
		if explicit {
			return "", fmt.Errorf("source %s: %w", ref, err)
		}
		return ref, nil
	}
	if fi.IsDir() {
		if lf, err := os.Stat(ref + "/oci-layout"); err == nil && lf.Mode().IsRegular() {
			return "oci:" + ref, nil
		}
		return "dir:" + ref, nil
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("source %s: neither a directory nor a regular file", ref)
	}
	kind, err := fileKind(ref)
	if err != nil {
		return "", fmt.Errorf("source %s: %w", ref, err)
	}
	if kind == "sbom" && !sbomOK {
		return "", fmt.Errorf("source %s: a JSON document, not an image (scan an SBOM with vigil scan)", ref)
	}
	return kind + ":" + ref, nil
}

// maxDetectEntries bounds the tar entries read to tell an image archive
// from a root filesystem: the first entry that belongs only to one of
// them decides, and a root filesystem shows one at once (etc/, usr/).
const maxDetectEntries = 10000

// fileKind tells what a file holds: "archive" (a docker save tarball or
// an OCI archive), "rootfs" (any other tar), or "sbom" (a JSON document).
func fileKind(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(512)
	if t := bytes.TrimLeft(head, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
		return "sbom", nil
	}
	rc, err := image.Decompress(br)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for range maxDetectEntries {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("read tar: %w", err)
		}
		switch archiveEntry(hdr.Name) {
		case "image":
			return "archive", nil
		case "other":
			return "rootfs", nil
		}
	}
	return "rootfs", nil
}

// archiveEntry says whether a tar entry marks an image archive
// ("image": manifest.json, index.json), may belong to one ("maybe": a
// blob, a docker save layer directory), or cannot ("other").
func archiveEntry(name string) string {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	switch name {
	case "manifest.json", "index.json":
		return "image"
	case "", "oci-layout", "repositories", "blobs":
		return "maybe"
	}
	first, rest, _ := strings.Cut(name, "/")
	if first == "blobs" {
		return "maybe"
	}
	// docker save before Docker 25: <id>/layer.tar, <id>/json,
	// <id>/VERSION and <id>.json; skopeo's docker-archive also <id>.tar;
	// the ids hexadecimal.
	id := strings.TrimSuffix(strings.TrimSuffix(first, ".json"), ".tar")
	if len(id) == 64 && strings.Trim(id, "0123456789abcdef") == "" {
		switch rest {
		case "", "layer.tar", "json", "VERSION":
			return "maybe"
		}
	}
	return "other"
}
