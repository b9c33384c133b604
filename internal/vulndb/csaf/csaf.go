// Package csaf reads the CSAF VEX documents of Red Hat and SUSE — one
// per CVE, as Red Hat publishes them under /data/csaf/v2/vex/ and in the
// dated csaf_vex_YYYY-MM-DD.tar.zst archive, and SUSE in csaf-vex.tar.bz2
// — into Vigil's advisory model.
//
// A VEX document says, for every product stream Red Hat ships (a CPE such
// as cpe:/a:redhat:enterprise_linux:9::appstream or
// cpe:/a:redhat:rhel_eus:9.2::appstream), whether each of its RPMs is
// fixed (and by which NEVRA), known to be affected (with a remediation:
// none available, or no fix planned) or known not to be affected. Each
// stream becomes its own ecosystem, "Red Hat:" and the CPE without its
// "cpe:/o:redhat:" or "cpe:/a:redhat:" prefix, so that a package is only
// ever compared with what Red Hat says of the stream it came from. Known
// not-affected entries add nothing: absence is what not affected means.
//
// SUSE names its products rather than their CPEs: "SUSE Linux Enterprise
// Server 15 SP5" is the ecosystem "SUSE:Linux Enterprise Server 15 SP5" and
// "openSUSE Leap 15.5" is "openSUSE:Leap 15.5", as osv.dev names SUSE's
// ecosystems, and SUSE lists fixed versions as "recommended".
//
// It does no I/O of its own beyond the reader it is given.
package csaf

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/vigilsec/vigil/internal/vuln"
)

// MaxDocument bounds one VEX document. The largest real ones (kernel,
// OpenShift CVEs naming thousands of products) are a few tens of MiB.
const MaxDocument = 256 << 20

// maxArchive bounds the uncompressed bytes read from one archive.
const maxArchive = 64 << 30

// IDPrefix starts the id of every advisory read from a Red Hat VEX
// document: the document is Red Hat's statement about one CVE, not the
// CVE itself, so it gets an id of its own ("REDHAT-CVE-2023-38545") and
// names the CVE as its upstream, as distributions' per-CVE records do.
// SUSE's are "SUSE-CVE-…".
const IDPrefix = "REDHAT-"

// SUSEIDPrefix starts the id of every advisory read from a SUSE VEX
// document.
const SUSEIDPrefix = "SUSE-"

// Vendors, as Vendor names them.
const (
	RedHat = "redhat"
	SUSE   = "suse"
)

// Vendor says whose document starts with head: SUSE's publisher
// namespace is https://www.suse.com/, Red Hat's https://www.redhat.com;
// "" for another publisher's, whose products Vigil does not know.
func Vendor(head []byte) string {
	switch {
	case bytes.Contains(head, []byte(`"https://www.suse.com/"`)) || bytes.Contains(head, []byte(`"pkg:rpm/suse/`)):
		return SUSE
	case bytes.Contains(head, []byte(`"https://www.redhat.com"`)) || bytes.Contains(head, []byte(`"pkg:rpm/redhat/`)):
		return RedHat
	}
	return ""
}

// RecordError is a document that could not be read: it was skipped and
// the others read.
type RecordError struct {
	Name string // the archive entry or file
	Err  error
}

func (e *RecordError) Error() string { return fmt.Sprintf("csaf: %s: %v", e.Name, e.Err) }
func (e *RecordError) Unwrap() error { return e.Err }

// document is the part of a CSAF 2.0 document Vigil reads.
type document struct {
	Document struct {
		Category  string `json:"category"`
		Publisher struct {
			Namespace string `json:"namespace"`
		} `json:"publisher"`
		Tracking struct {
			ID                 string `json:"id"`
			InitialReleaseDate string `json:"initial_release_date"`
			CurrentReleaseDate string `json:"current_release_date"`
		} `json:"tracking"`
	} `json:"document"`
	ProductTree struct {
		Branches      []branch `json:"branches"`
		Relationships []struct {
			Category        string `json:"category"`
			FullProductName struct {
				ProductID string `json:"product_id"`
			} `json:"full_product_name"`
			ProductReference          string `json:"product_reference"`
			RelatesToProductReference string `json:"relates_to_product_reference"`
		} `json:"relationships"`
	} `json:"product_tree"`
	Vulnerabilities []struct {
		CVE           string `json:"cve"`
		Title         string `json:"title"`
		ReleaseDate   string `json:"release_date"`
		ProductStatus struct {
			Fixed            []string `json:"fixed"`
			Recommended      []string `json:"recommended"`
			KnownAffected    []string `json:"known_affected"`
			KnownNotAffected []string `json:"known_not_affected"`
		} `json:"product_status"`
		Remediations []struct {
			Category   string   `json:"category"`
			Details    string   `json:"details"`
			URL        string   `json:"url"`
			ProductIDs []string `json:"product_ids"`
		} `json:"remediations"`
		Scores []struct {
			CVSSv3 *struct {
				VectorString string `json:"vectorString"`
			} `json:"cvss_v3"`
		} `json:"scores"`
		Threats []struct {
			Category string `json:"category"`
			Details  string `json:"details"`
		} `json:"threats"`
		Notes []struct {
			Category string `json:"category"`
			Text     string `json:"text"`
		} `json:"notes"`
		References []struct {
			Category string `json:"category"`
			URL      string `json:"url"`
		} `json:"references"`
	} `json:"vulnerabilities"`
}

type branch struct {
	Category string   `json:"category"`
	Name     string   `json:"name"`
	Branches []branch `json:"branches"`
	Product  *struct {
		ProductID string `json:"product_id"`
		Helper    struct {
			CPE  string `json:"cpe"`
			PURL string `json:"purl"`
		} `json:"product_identification_helper"`
	} `json:"product"`
}

// rpm is a product_version that is an RPM: its name and, when the entry
// names a build, its [epoch:]version-release.
type rpm struct {
	name, evr string
	src       bool
}

// Parse reads one VEX document and calls fn with the advisory of each of
// its vulnerabilities that affects an RPM of a Red Hat product. A document
// that is not CSAF, or names no CVE, is an error.
func Parse(r io.Reader, fn func(*vuln.Advisory) error) error {
	_, err := parse(r, fn)
	return err
}

// parse is Parse, also returning the document's current_release_date.
func parse(r io.Reader, fn func(*vuln.Advisory) error) (time.Time, error) {
	var doc document
	lr := io.LimitReader(r, MaxDocument+1)
	data, err := io.ReadAll(lr)
	if err != nil {
		return time.Time{}, err
	}
	if len(data) > MaxDocument {
		return time.Time{}, fmt.Errorf("document larger than %d bytes", MaxDocument)
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return time.Time{}, err
	}
	if doc.Document.Category == "" || len(doc.Vulnerabilities) == 0 && doc.Document.Tracking.ID == "" {
		return time.Time{}, errors.New("not a CSAF document")
	}
	suse := strings.Contains(doc.Document.Publisher.Namespace, "suse.com")
	streams := map[string]string{} // product id → ecosystem
	rpms := map[string]rpm{}
	var walk func([]branch)
	walk = func(bs []branch) {
		for i := range bs {
			b := &bs[i]
			if p := b.Product; p != nil && p.ProductID != "" {
				switch b.Category {
				case "product_name":
					eco := vuln.RedHatEcosystem(p.Helper.CPE)
					if suse {
						eco = suseEcosystem(p.ProductID, p.Helper.CPE)
					}
					if eco != "" {
						streams[p.ProductID] = eco
					}
				case "product_version":
					if r, ok := rpmOf(p.Helper.PURL); ok {
						rpms[p.ProductID] = r
					} else if p.Helper.PURL == "" && isComponentName(b.Name) && b.Name == p.ProductID {
						// Older documents name a known
						// affected component by its name
						// alone, without a purl.
						rpms[p.ProductID] = rpm{name: b.Name}
					}
				}
			}
			walk(b.Branches)
		}
	}
	walk(doc.ProductTree.Branches)
	type component struct {
		eco string
		rpm rpm
	}
	components := map[string]component{}
	for _, rel := range doc.ProductTree.Relationships {
		eco, ok := streams[rel.RelatesToProductReference]
		if !ok {
			continue
		}
		r, ok := rpms[rel.ProductReference]
		if !ok || r.src {
			// Red Hat lists every binary RPM; a source RPM's
			// name is no installed package's.
			continue
		}
		components[rel.FullProductName.ProductID] = component{eco, r}
	}
	modified := parseTime(doc.Document.Tracking.CurrentReleaseDate)
	published := parseTime(doc.Document.Tracking.InitialReleaseDate)
	for _, v := range doc.Vulnerabilities {
		if !strings.HasPrefix(v.CVE, "CVE-") {
			continue
		}
		status := map[string]vuln.Status{}
		var related []string
		for _, rem := range v.Remediations {
			for _, id := range rem.ProductIDs {
				switch rem.Category {
				case "no_fix_planned":
					status[id] = vuln.WillNotFix
				case "none_available":
					if status[id] == "" {
						status[id] = vuln.NotFixed
					}
				}
			}
			if rem.Category == "vendor_fix" {
				if id := erratum(rem.URL); id != "" {
					related = append(related, id)
				}
			}
		}
		type key struct{ eco, name string }
		fixed := map[key][]string{}
		unfixed := map[key]vuln.Status{}
		for _, id := range append(v.ProductStatus.Fixed, v.ProductStatus.Recommended...) {
			c, ok := components[id]
			if !ok || c.rpm.evr == "" {
				continue
			}
			k := key{c.eco, c.rpm.name}
			if !contains(fixed[k], c.rpm.evr) {
				fixed[k] = append(fixed[k], c.rpm.evr)
			}
		}
		for _, id := range v.ProductStatus.KnownAffected {
			c, ok := components[id]
			if !ok {
				continue
			}
			k := key{c.eco, c.rpm.name}
			st := status[id]
			if st == "" {
				st = vuln.NotFixed
			}
			if unfixed[k] != vuln.WillNotFix {
				unfixed[k] = st
			}
		}
		prefix, purlBase, page := IDPrefix, "pkg:rpm/redhat/", "https://access.redhat.com/security/cve/"+strings.ToLower(v.CVE)
		if suse {
			prefix, purlBase, page = SUSEIDPrefix, "pkg:rpm/suse/", "https://www.suse.com/security/cve/"+v.CVE
		}
		a := &vuln.Advisory{
			ID:        prefix + v.CVE,
			Upstream:  []string{v.CVE},
			Modified:  modified,
			Published: published,
			Summary:   v.Title,
		}
		if a.Published.IsZero() {
			a.Published = parseTime(v.ReleaseDate)
		}
		for _, n := range v.Notes {
			if n.Category == "description" {
				a.Details = n.Text
				break
			}
		}
		for _, s := range v.Scores {
			if s.CVSSv3 != nil && s.CVSSv3.VectorString != "" {
				a.Severity = []vuln.Severity{{Type: vuln.CVSSv3, Score: s.CVSSv3.VectorString}}
				break
			}
		}
		for _, t := range v.Threats {
			if t.Category == "impact" {
				a.VendorSeverity = t.Details
			}
		}
		sort.Strings(related)
		a.Related = compact(related)
		a.References = append(a.References, vuln.Reference{Type: "ADVISORY", URL: page})
		for _, ref := range v.References {
			if ref.URL != "" && ref.URL != page && ref.Category != "self" {
				a.References = append(a.References, vuln.Reference{Type: "WEB", URL: ref.URL})
			}
		}
		var keys []key
		for k := range fixed {
			keys = append(keys, k)
		}
		for k := range unfixed {
			if _, ok := fixed[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].eco != keys[j].eco {
				return keys[i].eco < keys[j].eco
			}
			return keys[i].name < keys[j].name
		})
		for _, k := range keys {
			af := vuln.Affected{Package: vuln.Package{Ecosystem: k.eco, Name: k.name, PURL: purlBase + k.name}}
			if evrs := fixed[k]; len(evrs) > 0 {
				// A stream can carry more than one fix: an EUS
				// minor release and the mainline share a CPE in
				// some documents. Each is a range of its own, so
				// a package older than either is reported, the
				// way OSV reads several ranges.
				sort.Strings(evrs)
				for _, evr := range evrs {
					af.Ranges = append(af.Ranges, vuln.Range{Type: vuln.RangeEcosystem,
						Events: []vuln.Event{{Introduced: "0"}, {Fixed: evr}}})
				}
			} else {
				af.Ranges = []vuln.Range{{Type: vuln.RangeEcosystem, Events: []vuln.Event{{Introduced: "0"}}}}
				af.Status = unfixed[k]
			}
			a.Affected = append(a.Affected, af)
		}
		if len(a.Affected) == 0 {
			continue
		}
		if err := fn(a); err != nil {
			return modified, err
		}
	}
	return modified, nil
}

// rpmOf reads a product_version's purl: pkg:rpm/redhat/NAME[@VERSION-RELEASE]
// with arch and epoch qualifiers, or SUSE's pkg:rpm/suse/NAME@[VERSION-RELEASE].
func rpmOf(purl string) (rpm, bool) {
	rest, ok := strings.CutPrefix(purl, "pkg:rpm/redhat/")
	if !ok {
		if rest, ok = strings.CutPrefix(purl, "pkg:rpm/suse/"); !ok {
			return rpm{}, false
		}
	}
	rest, query, _ := strings.Cut(rest, "?")
	name, version, _ := strings.Cut(rest, "@")
	if n, err := url.PathUnescape(name); err == nil {
		name = n
	}
	if name == "" {
		return rpm{}, false
	}
	q, _ := url.ParseQuery(query)
	r := rpm{name: name, src: q.Get("arch") == "src"}
	if version != "" {
		if v, err := url.PathUnescape(version); err == nil {
			version = v
		}
		if e := q.Get("epoch"); e != "" && e != "0" {
			version = e + ":" + version
		}
		r.evr = version
	}
	return r, true
}

// isComponentName accepts the names of RPM components: no path, version
// or image reference ("openshift3/metrics-cassandra" is an image).
func isComponentName(s string) bool {
	return s != "" && !strings.ContainsAny(s, "/@: ")
}

// suseEcosystem names a SUSE product's ecosystem as osv.dev does: the
// product name with its vendor as the ecosystem's first part. Products
// whose CPE is not SUSE's or openSUSE's are left out.
func suseEcosystem(product, cpe string) string {
	switch {
	case strings.HasPrefix(cpe, "cpe:/o:suse:") || strings.HasPrefix(cpe, "cpe:/a:suse:"):
		if rest, ok := strings.CutPrefix(product, "SUSE "); ok && rest != "" {
			return "SUSE:" + rest
		}
	case strings.HasPrefix(cpe, "cpe:/o:opensuse:") || strings.HasPrefix(cpe, "cpe:/a:opensuse:"):
		if rest, ok := strings.CutPrefix(product, "openSUSE "); ok && rest != "" {
			return "openSUSE:" + rest
		}
	}
	return ""
}

var erratumRE = regexp.MustCompile(`(RH[SBE]A-\d{4}:\d+)`)

// erratum is the RHSA, RHBA or RHEA id a vendor_fix's URL names.
func erratum(u string) string {
	return erratumRE.FindString(u)
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func compact(ss []string) []string {
	var out []string
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// decompress undoes the archive's zstd or gzip compression, if any.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(4)
	switch {
	case bytes.Equal(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, nil, fmt.Errorf("csaf: zstd: %w", err)
		}
		return zr, zr.Close, nil
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("csaf: gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(head, []byte("BZh")):
		// SUSE's csaf-vex.tar.bz2.
		return bzip2.NewReader(br), func() {}, nil
	}
	return br, func() {}, nil
}

// IsArchive reports whether r is a tar, compressed or not, whose first
// JSON entry is a CSAF document.
func IsArchive(r io.Reader) bool {
	_, ok := ArchiveVendor(r)
	return ok
}

// ArchiveVendor is IsArchive that also says whose documents the archive
// holds (see Vendor).
func ArchiveVendor(r io.Reader) (string, bool) {
	in, done, err := decompress(r)
	if err != nil {
		return "", false
	}
	defer done()
	tr := tar.NewReader(in)
	for range 64 {
		hdr, err := tr.Next()
		if err != nil {
			return "", false
		}
		if hdr.Typeflag != tar.TypeReg || !strings.HasSuffix(hdr.Name, ".json") {
			continue
		}
		head := make([]byte, 64<<10)
		n, _ := io.ReadFull(tr, head)
		if !IsDocument(head[:min(n, 2048)]) {
			return "", false
		}
		v := Vendor(head[:n])
		return v, v != ""
	}
	return "", false
}

// Archive is what ReadArchive says of an archive as a whole.
type Archive struct {
	// Documents counts the VEX documents read.
	Documents int
	// Newest is the newest current_release_date of any document, whether
	// or not it named an RPM: how recent the archive's data is.
	Newest time.Time
}

// ReadArchive reads a tar of VEX documents — Red Hat's
// csaf_vex_YYYY-MM-DD.tar.zst, or the same compressed with gzip or not at
// all — calling fn for every advisory. A document that cannot be read is
// returned among the record errors and the others are read; an archive
// that cannot be read at all is the error.
func ReadArchive(r io.Reader, fn func(*vuln.Advisory) error) (Archive, []error, error) {
	var arch Archive
	in, done, err := decompress(r)
	if err != nil {
		return arch, nil, err
	}
	defer done()
	tr := tar.NewReader(io.LimitReader(in, maxArchive))
	var errs []error
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return arch, errs, fmt.Errorf("csaf: archive: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg || !strings.HasSuffix(hdr.Name, ".json") {
			continue
		}
		arch.Documents++
		var cbErr error
		released, err := parse(tr, func(a *vuln.Advisory) error {
			cbErr = fn(a)
			return cbErr
		})
		if cbErr != nil {
			return arch, errs, cbErr
		}
		if err != nil {
			errs = append(errs, &RecordError{Name: hdr.Name, Err: err})
		}
		if released.After(arch.Newest) {
			arch.Newest = released
		}
	}
	if arch.Documents == 0 {
		return arch, errs, errors.New("csaf: archive holds no VEX document")
	}
	return arch, errs, nil
}

// IsDocument reports whether the start of a JSON file is a CSAF document.
func IsDocument(head []byte) bool {
	return bytes.HasPrefix(bytes.TrimSpace(head), []byte("{")) && bytes.Contains(head, []byte(`"csaf_version"`))
}
