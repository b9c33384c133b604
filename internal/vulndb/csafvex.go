package vulndb

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vigilsec/vigil/internal/vulndb/csaf"
	"github.com/vigilsec/vigil/internal/vulndb/oval"
)

// The feeds of Red Hat's and SUSE's CSAF VEX documents.
const (
	redHatVEXName = "redhat/vex"
	suseVEXName   = "suse/vex"
	// oracleOVALName is the feed of Oracle Linux's ELSA OVAL.
	oracleOVALName = "oracle/elsa"
)

// fetchRedHatVEX follows Red Hat's VEX directory as its own tooling does:
// archive_latest.txt names the newest dated archive of every document
// (csaf_vex_YYYY-MM-DD.tar.zst), which is then fetched like any feed
// file, conditionally, so that an unchanged archive is not downloaded
// again.
func (d *Dir) fetchRedHatVEX(ctx context.Context, src Source, opts UpdateOptions) (*staged, error) {
	base := strings.TrimRight(src.URL, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/archive_latest.txt", nil)
	if err != nil {
		return nil, err
	}
	if opts.UserAgent != "" {
		req.Header.Set("User-Agent", opts.UserAgent)
	}
	resp, err := opts.Client.Do(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/archive_latest.txt: %w", base, &statusError{code: resp.StatusCode, status: resp.Status, retryAfter: resp.Header.Get("Retry-After")})
	}
	name := strings.TrimSpace(string(b))
	if name == "" || strings.ContainsAny(name, "/\\ \n") || !strings.HasPrefix(name, "csaf_vex_") {
		return nil, fmt.Errorf("%s/archive_latest.txt: %q names no archive", base, name)
	}
	archive := src
	archive.URL = base + "/" + name
	return d.fetch(ctx, archive, opts)
}

// vexArchiveSource recognises a (compressed) tar whose first document is
// CSAF, and names its feed by the document's vendor.
func vexArchiveSource(p string, head []byte) (Source, bool) {
	if len(head) < 4 {
		return Source{}, false
	}
	zstdMagic := head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd
	bzip2Magic := bytes.HasPrefix(head, []byte("BZh"))
	if !zstdMagic && !bzip2Magic && !strings.HasSuffix(p, ".tar") && !strings.HasSuffix(p, ".tar.gz") {
		return Source{}, false
	}
	f, err := os.Open(p)
	if err != nil {
		return Source{}, false
	}
	defer f.Close()
	vendor, ok := csaf.ArchiveVendor(f)
	if !ok {
		return Source{}, false
	}
	return vexSource(vendor), true
}

// vexSource is the feed of a vendor's VEX documents.
func vexSource(vendor string) Source {
	if vendor == csaf.SUSE {
		return Source{Name: suseVEXName, Kind: KindSUSEVEX}
	}
	return Source{Name: redHatVEXName, Kind: KindRedHatVEX}
}

// tarFiles writes the files as one tar, the form Red Hat's archive takes,
// so that every VEX feed is read the same way.
func tarFiles(w io.Writer, files []string) error {
	sort.Strings(files)
	tw := tar.NewWriter(w)
	for i, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		info, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		hdr := &tar.Header{Name: fmt.Sprintf("%06d-%s", i, filepath.Base(p)), Mode: 0o644, Size: info.Size(), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			f.Close()
			return err
		}
		_, err = io.Copy(tw, bufio.NewReader(f))
		f.Close()
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

// csafVendor says whose CSAF document a JSON file is, or "" when it is
// none, or another publisher's.
func csafVendor(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, head)
	if !csaf.IsDocument(head[:min(n, 2048)]) {
		return ""
	}
	return csaf.Vendor(head[:n])
}

// isOracleOVAL recognises Oracle's ELSA OVAL document, bzip2-compressed or
// not.
func isOracleOVAL(p string, head []byte) bool {
	if bytes.HasPrefix(head, []byte("BZh")) {
		f, err := os.Open(p)
		if err != nil {
			return false
		}
		defer f.Close()
		inner := make([]byte, 4096)
		n, _ := io.ReadFull(bzip2.NewReader(f), inner)
		head = inner[:n]
	}
	return oval.IsOracle(head)
}

// photonOVALSource recognises a Photon OS OVAL document and names its
// feed by its release: photon/3.
func photonOVALSource(head []byte) (Source, bool) {
	rel, ok := oval.IsPhoton(head)
	if !ok || validName("photon/"+rel) != nil {
		return Source{}, false
	}
	return Source{Name: "photon/" + rel, Kind: KindPhotonOVAL}, true
}
