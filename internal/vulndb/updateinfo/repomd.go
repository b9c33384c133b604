package updateinfo

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Location is where a repository keeps its updateinfo document, as its
// repomd.xml says: the path relative to the repository's base and the
// document's checksum as published (of the compressed file).
type Location struct {
	Href         string
	ChecksumType string // "sha256", "sha1", …
	Checksum     string // hex
	Size         int64  // 0 when not given
}

// ParseRepomd finds the updateinfo entry of a repomd.xml document.
func ParseRepomd(r io.Reader) (Location, error) {
	var doc struct {
		XMLName xml.Name
		Data    []struct {
			Type     string `xml:"type,attr"`
			Checksum struct {
				Type  string `xml:"type,attr"`
				Value string `xml:",chardata"`
			} `xml:"checksum"`
			Location struct {
				Href string `xml:"href,attr"`
			} `xml:"location"`
			Size int64 `xml:"size"`
		} `xml:"data"`
	}
	if err := xml.NewDecoder(io.LimitReader(r, 16<<20)).Decode(&doc); err != nil {
		return Location{}, fmt.Errorf("updateinfo: repomd.xml: %w", err)
	}
	if doc.XMLName.Local != "repomd" {
		return Location{}, fmt.Errorf("updateinfo: repomd.xml: root element is <%s>, not <repomd>", doc.XMLName.Local)
	}
	for _, d := range doc.Data {
		if d.Type != "updateinfo" {
			continue
		}
		href := strings.TrimSpace(d.Location.Href)
		if href == "" {
			return Location{}, errors.New("updateinfo: repomd.xml: updateinfo entry without a location")
		}
		return Location{Href: href, ChecksumType: strings.ToLower(strings.TrimSpace(d.Checksum.Type)),
			Checksum: strings.ToLower(strings.TrimSpace(d.Checksum.Value)), Size: d.Size}, nil
	}
	return Location{}, errors.New("updateinfo: repomd.xml has no updateinfo entry")
}

// ParseMirrorList returns the first repository base URL of a yum mirror
// list (one URL a line; "#" starts a comment). Amazon Linux 2 lists
// "https://cdn.amazonlinux.com/2/core/2.0/x86_64/<hash>", Amazon Linux
// 2023 the same with a trailing slash: either way the result ends in "/",
// ready for "repodata/repomd.xml" to be resolved against it.
func ParseMirrorList(r io.Reader) (*url.URL, error) {
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		u, err := url.Parse(line)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("updateinfo: mirror list: %q is not an http(s) URL", line)
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		return u, nil
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("updateinfo: mirror list: %w", err)
	}
	return nil, errors.New("updateinfo: mirror list names no repository")
}

// Resolve is the URL of a repository file: href (from repomd.xml)
// relative to base. It must stay on base's host: a repomd.xml pointing
// the download elsewhere is refused.
func Resolve(base *url.URL, href string) (*url.URL, error) {
	ref, err := url.Parse(href)
	if err != nil {
		return nil, fmt.Errorf("updateinfo: location %q: %w", href, err)
	}
	u := base.ResolveReference(ref)
	if u.Host != base.Host || u.Scheme != base.Scheme {
		return nil, fmt.Errorf("updateinfo: location %q leaves the repository %s", href, base.Host)
	}
	return u, nil
}
