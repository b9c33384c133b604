package vulndb

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/vigilsec/vigil/internal/vulndb/updateinfo"
)

// UpdateInfoEcosystem is the ecosystem of an updateinfo feed's packages,
// from the feed's name: "amazon/2" and "amazon/2/kernel-5.10" are
// "Amazon Linux:2", "amazon/2023" is "Amazon Linux:2023". It is "" for a
// name that says no release Vigil knows.
func UpdateInfoEcosystem(name string) string {
	parts := strings.Split(name, "/")
	if len(parts) < 2 || parts[0] != "amazon" {
		return ""
	}
	switch parts[1] {
	case "2", "2023":
		return "Amazon Linux:" + parts[1]
	}
	return ""
}

// updateInfoName names an imported updateinfo file by the directories
// that hold it: …/amazon/2/updateinfo.xml.gz is feed "amazon/2",
// …/amazon/2/kernel-5.10/updateinfo.xml is "amazon/2/kernel-5.10".
func updateInfoName(p string) (string, error) {
	parts := strings.Split(filepath.ToSlash(filepath.Dir(p)), "/")
	for i := len(parts) - 2; i >= 0; i-- {
		if parts[i] != "amazon" {
			continue
		}
		name := strings.Join(parts[i:], "/")
		if UpdateInfoEcosystem(name) != "" && validName(name) == nil {
			return name, nil
		}
	}
	return "", fmt.Errorf("updateinfo.xml outside a directory naming its release (amazon/2/ or amazon/2023/)")
}

// isUpdateInfo recognises an updateinfo document by its first element.
func isUpdateInfo(head []byte) bool {
	i := 0
	for i < len(head) {
		j := bytes.IndexByte(head[i:], '<')
		if j < 0 {
			return false
		}
		i += j
		rest := head[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<?")), bytes.HasPrefix(rest, []byte("<!")):
			k := bytes.IndexByte(rest, '>')
			if k < 0 {
				return false
			}
			i += k + 1
		default:
			return bytes.HasPrefix(rest, []byte("<updates>")) || bytes.HasPrefix(rest, []byte("<updates ")) ||
				bytes.HasPrefix(rest, []byte("<updates\n")) || bytes.HasPrefix(rest, []byte("<updates/>"))
		}
	}
	return false
}

// classifyUpdateInfo recognises an updateinfo document, plain or gzipped.
func classifyUpdateInfo(p string, head []byte) (candidate, bool, error) {
	inner := head
	if bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(head))
		if err != nil {
			return candidate{}, false, nil
		}
		buf := make([]byte, 512)
		n, _ := io.ReadFull(zr, buf)
		inner = buf[:n]
	}
	if !isUpdateInfo(inner) {
		return candidate{}, false, nil
	}
	name, err := updateInfoName(p)
	if err != nil {
		return candidate{}, false, err
	}
	return candidate{path: p, source: Source{Name: name, Kind: KindUpdateInfo}}, true, nil
}

// fetchUpdateInfo follows a repository the way yum does: the mirror list
// gives the repository, its repodata/repomd.xml the updateinfo document's
// place and checksum. The document is downloaded only when its published
// checksum differs from the copy we have, and is verified against it.
func (d *Dir) fetchUpdateInfo(ctx context.Context, src Source, opts UpdateOptions) (*staged, error) {
	get := func(u string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
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
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("%s: %w", u, &statusError{code: resp.StatusCode, status: resp.Status, retryAfter: resp.Header.Get("Retry-After")})
		}
		return resp, nil
	}
	resp, err := get(src.URL)
	if err != nil {
		return nil, err
	}
	base, err := updateinfo.ParseMirrorList(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	repomdURL, err := updateinfo.Resolve(base, "repodata/repomd.xml")
	if err != nil {
		return nil, err
	}
	if resp, err = get(repomdURL.String()); err != nil {
		return nil, err
	}
	loc, err := updateinfo.ParseRepomd(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", repomdURL, err)
	}
	docURL, err := updateinfo.Resolve(base, loc.Href)
	if err != nil {
		return nil, err
	}
	var h hash.Hash
	switch loc.ChecksumType {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	case "sha", "sha1":
		h = sha1.New()
	}
	now := opts.Now().UTC()
	old := d.feed(src.Name)
	// Our feed files keep their SHA-256, so a repository publishing
	// SHA-256 tells us whether ours is current without a download.
	if old != nil && old.Source.URL == src.URL && loc.ChecksumType == "sha256" && old.SHA256 == loc.Checksum {
		m := *old
		m.Source, m.Checked = src, now
		if opts.Progress != nil {
			opts.Progress(FetchProgress{Source: src.Name, Done: true, NotModified: true})
		}
		return &staged{meta: &m}, nil
	}
	if resp, err = get(docURL.String()); err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body := io.Reader(io.LimitReader(resp.Body, maxFeedSize+1))
	if opts.Progress != nil {
		body = &progressReader{r: body, p: FetchProgress{Source: src.Name, Total: resp.ContentLength}, fn: opts.Progress}
	}
	if h != nil {
		body = io.TeeReader(body, h)
	}
	s, err := d.stage(src, bufio.NewReader(body))
	if err != nil {
		return nil, err
	}
	if s.meta.Size > maxFeedSize {
		s.discard()
		return nil, fmt.Errorf("%s: larger than %d bytes", docURL, int64(maxFeedSize))
	}
	if loc.Size > 0 && s.meta.Size != loc.Size {
		s.discard()
		return nil, fmt.Errorf("%s: %d bytes, repomd.xml says %d", docURL, s.meta.Size, loc.Size)
	}
	if h != nil {
		if got := hex.EncodeToString(h.Sum(nil)); got != loc.Checksum {
			s.discard()
			return nil, fmt.Errorf("%s: %s %s, repomd.xml says %s", docURL, loc.ChecksumType, got, loc.Checksum)
		}
	}
	s.meta.LastModified = resp.Header.Get("Last-Modified")
	s.meta.Fetched, s.meta.Checked = now, now
	if opts.Progress != nil {
		opts.Progress(FetchProgress{Source: src.Name, Bytes: s.meta.Size, Total: s.meta.Size, Done: true})
	}
	return s, nil
}
