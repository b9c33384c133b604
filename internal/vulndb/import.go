package vulndb

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ImportReport says what Import did.
type ImportReport struct {
	// Imported maps each feed name to the file it was read from.
	Imported map[string]string `json:"imported"`
	Build    *BuildReport      `json:"build"`
	// Warnings name the imported feeds whose data was more than
	// OldMirrorAge old at import, or of unknown age.
	Warnings []string `json:"warnings,omitempty"`
}

// Import reads feed files from local paths — for sites without network
// access — and rebuilds the database. Each path is a feed file or a
// directory, searched recursively; the kind of each file is recognised
// from its content:
//
//   - an osv.dev all.zip (named after its ecosystem directory, as in the
//     osv.dev bucket: <Ecosystem>/all.zip), or a directory of OSV *.json
//     records (any directory holding OSV records and nothing else Vigil
//     knows);
//   - Alpine secdb JSON (v3.X/main.json);
//   - the Debian security tracker's DSA/list, DLA/list and JSON export;
//   - NVD CVE API 2.0 responses; EPSS CSV (gzipped or not); the CISA KEV
//     catalog;
//   - yum/dnf updateinfo.xml, gzipped or not, in a directory naming its
//     release: amazon/2/updateinfo.xml.gz, amazon/2023/updateinfo.xml,
//     amazon/2/kernel-5.10/updateinfo.xml.gz;
//   - Red Hat's CSAF VEX archive (csaf_vex_YYYY-MM-DD.tar.zst) and
//     SUSE's (csaf-vex.tar.bz2), or VEX documents (cve-YYYY-NNNN.json)
//     anywhere under a directory: each vendor's make one feed,
//     redhat/vex or suse/vex;
//   - Oracle Linux's ELSA OVAL (com.oracle.elsa-all.xml, bzip2-compressed
//     or not), as the feed oracle/elsa; Photon OS's OVAL
//     (com.vmware.phsa-photon3.xml) as photon/3.
//
// Feeds already present that are not among the imported ones stay. As with
// Update, nothing changes unless every file is read and the database built.
func (d *Dir) Import(ctx context.Context, paths []string, now time.Time) (*ImportReport, error) {
	var found []candidate
	for _, p := range paths {
		c, err := classifyPath(p)
		if err != nil {
			return nil, err
		}
		if len(c) == 0 {
			return nil, fmt.Errorf("vulndb: import %s: no vulnerability feed found there", p)
		}
		found = append(found, c...)
	}
	report := &ImportReport{Imported: map[string]string{}}
	var staged []*staged
	discardAll := func() {
		for _, s := range staged {
			s.discard()
		}
	}
	for _, c := range found {
		if prev, dup := report.Imported[c.source.Name]; dup {
			discardAll()
			return nil, fmt.Errorf("vulndb: import: %s and %s are both feed %s", prev, c.path, c.source.Name)
		}
		s, err := c.stage(d)
		if err != nil {
			discardAll()
			return nil, fmt.Errorf("vulndb: import %s: %w", c.path, err)
		}
		s.meta.Fetched, s.meta.Checked = now.UTC(), now.UTC()
		staged = append(staged, s)
		report.Imported[c.source.Name] = c.path
	}
	present, err := d.feeds()
	if err != nil {
		discardAll()
		return nil, err
	}
	byName := map[string]*feed{}
	for _, f := range present {
		byName[f.Source.Name] = f
	}
	for _, s := range staged {
		byName[s.meta.Source.Name] = s.meta
	}
	var all []*feed
	for _, f := range byName {
		all = append(all, f)
	}
	build, err := d.build(ctx, all)
	if err != nil {
		discardAll()
		return nil, err
	}
	report.Build = build
	if err := d.commit(staged); err != nil {
		discardAll()
		return nil, err
	}
	var names []string
	for name := range report.Imported {
		names = append(names, name)
	}
	report.Warnings = AgeWarnings(build.Sources, names, now)
	return report, nil
}

// candidate is a local file (or directory of OSV records) recognised as a
// feed.
type candidate struct {
	source Source
	path   string
	osvDir bool // path is a directory of OSV JSON records
	// csafFiles, when set, are CSAF documents kept as one tar.
	csafFiles []string
}

func (c candidate) stage(d *Dir) (*staged, error) {
	if c.csafFiles != nil {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(tarFiles(pw, c.csafFiles)) }()
		s, err := d.stage(c.source, pr)
		pr.Close()
		return s, err
	}
	if !c.osvDir {
		f, err := os.Open(c.path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return d.stage(c.source, f)
	}
	// A directory of records is kept as a zip, the form osv.dev
	// publishes, so that every OSV feed is read the same way.
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(zipDir(pw, c.path)) }()
	s, err := d.stage(c.source, pr)
	pr.Close()
	return s, err
}

func zipDir(w io.Writer, dir string) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	zw := zip.NewWriter(w)
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		fw, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(fw, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return zw.Close()
}

// classifyPath finds the feeds at p.
func classifyPath(p string) ([]candidate, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("vulndb: import: %w", err)
	}
	if !info.IsDir() {
		if v := csafVendor(p); strings.HasSuffix(p, ".json") && v != "" {
			return []candidate{{source: vexSource(v), path: p, csafFiles: []string{p}}}, nil
		}
		c, ok, err := classifyFile(p)
		if err != nil {
			return nil, fmt.Errorf("vulndb: import %s: %w", p, err)
		}
		if !ok {
			return nil, fmt.Errorf("vulndb: import %s: not a vulnerability feed Vigil knows", p)
		}
		return []candidate{c}, nil
	}
	var out []candidate
	osvDirs := map[string]bool{}
	csafFiles := map[string][]string{} // vendor → documents
	err = filepath.WalkDir(p, func(fp string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			return nil
		}
		if strings.HasSuffix(fp, ".json") {
			if v := csafVendor(fp); v != "" {
				csafFiles[v] = append(csafFiles[v], fp)
				return nil
			}
		}
		if strings.HasSuffix(fp, ".json") && isOSVRecord(fp) {
			osvDirs[filepath.Dir(fp)] = true
			return nil
		}
		c, ok, err := classifyFile(fp)
		if err != nil {
			return fmt.Errorf("vulndb: import %s: %w", fp, err)
		}
		if ok {
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for dir := range osvDirs {
		eco, err := osvDirEcosystem(dir)
		if err != nil {
			return nil, err
		}
		out = append(out, candidate{source: Source{Name: "osv/" + eco, Kind: KindOSV}, path: dir, osvDir: true})
	}
	for v, files := range csafFiles {
		out = append(out, candidate{source: vexSource(v), path: p, csafFiles: files})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].source.Name < out[j].source.Name })
	return out, nil
}

// classifyFile recognises one file by its content.
func classifyFile(p string) (candidate, bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return candidate{}, false, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(4096)
	if c, ok, err := classifyUpdateInfo(p, head); ok || err != nil {
		return c, ok, err
	}
	if src, ok := vexArchiveSource(p, head); ok {
		return candidate{path: p, source: src}, true, nil
	}
	if isOracleOVAL(p, head) {
		return candidate{path: p, source: Source{Name: oracleOVALName, Kind: KindOracleOVAL}}, true, nil
	}
	if src, ok := photonOVALSource(head); ok {
		return candidate{path: p, source: src}, true, nil
	}
	c := candidate{path: p}
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		eco, err := zipEcosystem(p)
		if err != nil {
			return c, false, err
		}
		c.source = Source{Name: "osv/" + eco, Kind: KindOSV}
		return c, true, nil
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return c, false, err
		}
		inner := make([]byte, 256)
		n, _ := io.ReadFull(zr, inner)
		if isEPSS(inner[:n]) {
			c.source = Source{Name: "epss", Kind: KindEPSS}
			return c, true, nil
		}
		return c, false, nil
	case isEPSS(head):
		c.source = Source{Name: "epss", Kind: KindEPSS}
		return c, true, nil
	case bytes.HasPrefix(head, []byte("[")) && bytes.Contains(head[:min(len(head), 200)], []byte("] DSA-")):
		c.source = Source{Name: "debian/dsa", Kind: KindDSA}
		return c, true, nil
	case bytes.HasPrefix(head, []byte("[")) && bytes.Contains(head[:min(len(head), 200)], []byte("] DLA-")):
		c.source = Source{Name: "debian/dla", Kind: KindDLA}
		return c, true, nil
	}
	trimmed := bytes.TrimSpace(head)
	if !bytes.HasPrefix(trimmed, []byte("{")) {
		return c, false, nil
	}
	switch {
	case bytes.Contains(head, []byte(`"apkurl"`)) || bytes.Contains(head, []byte(`"distroversion"`)):
		var hdr struct {
			DistroVersion string `json:"distroversion"`
			RepoName      string `json:"reponame"`
		}
		if err := json.NewDecoder(br).Decode(&hdr); err != nil {
			return c, false, fmt.Errorf("alpine secdb: %w", err)
		}
		name := "alpine/" + hdr.DistroVersion + "/" + hdr.RepoName
		if err := validName(name); err != nil || hdr.DistroVersion == "" || hdr.RepoName == "" {
			return c, false, fmt.Errorf("alpine secdb without a valid distroversion/reponame (%q, %q)", hdr.DistroVersion, hdr.RepoName)
		}
		c.source = Source{Name: name, Kind: KindAlpine}
	case bytes.Contains(head, []byte(`"catalogVersion"`)):
		c.source = Source{Name: "kev", Kind: KindKEV}
	case bytes.Contains(head, []byte(`"NVD_CVE"`)):
		stem := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		c.source = Source{Name: "nvd/" + sanitize(stem), Kind: KindNVD}
	case isTrackerJSON(head):
		c.source = Source{Name: "debian/tracker", Kind: KindDebianTracker}
	default:
		return c, false, nil
	}
	return c, true, nil
}

func isEPSS(b []byte) bool {
	return bytes.HasPrefix(b, []byte("#model_version")) || bytes.HasPrefix(b, []byte("cve,epss,percentile"))
}

// isTrackerJSON recognises the tracker export: {"pkg": {"CVE-…": {…}}}.
func isTrackerJSON(head []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(head))
	for i := 0; i < 4; i++ {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		if i == 3 {
			s, ok := t.(string)
			return ok && (strings.HasPrefix(s, "CVE-") || strings.HasPrefix(s, "TEMP-"))
		}
	}
	return false
}

// isOSVRecord reports whether a JSON file looks like one OSV record.
func isOSVRecord(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 2048)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	// An NVD page, or one NVD CVE object, has an id and often the word
	// "affected" in its description; OSV records have neither of these
	// NVD keys.
	if bytes.Contains(head, []byte(`"NVD_CVE"`)) || bytes.Contains(head, []byte(`"vulnStatus"`)) || bytes.Contains(head, []byte(`"sourceIdentifier"`)) {
		return false
	}
	return bytes.HasPrefix(bytes.TrimSpace(head), []byte("{")) && bytes.Contains(head, []byte(`"id"`)) &&
		(bytes.Contains(head, []byte(`"modified"`)) || bytes.Contains(head, []byte(`"affected"`)))
}

// zipEcosystem names an OSV zip by the ecosystem of its records.
func zipEcosystem(p string) (string, error) {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return "", fmt.Errorf("osv zip: %w", err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return "", err
		}
		eco, err := recordEcosystem(io.LimitReader(rc, 16<<20))
		rc.Close()
		if err != nil {
			return "", fmt.Errorf("osv zip entry %s: %w", f.Name, err)
		}
		if eco != "" {
			return eco, nil
		}
	}
	// A zip of only withdrawn or empty records: fall back to its name.
	if base := filepath.Base(filepath.Dir(p)); filepath.Base(p) == "all.zip" && validName(base) == nil {
		return base, nil
	}
	return sanitize(strings.TrimSuffix(filepath.Base(p), ".zip")), nil
}

func osvDirEcosystem(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		eco, err := recordEcosystem(io.LimitReader(f, 16<<20))
		f.Close()
		if err == nil && eco != "" {
			return eco, nil
		}
	}
	return sanitize(path.Base(filepath.ToSlash(dir))), nil
}

// recordEcosystem is the ecosystem of a record's first affected package,
// without its release ("Debian:12" → "Debian").
func recordEcosystem(r io.Reader) (string, error) {
	var rec struct {
		Affected []struct {
			Package struct {
				Ecosystem string `json:"ecosystem"`
			} `json:"package"`
		} `json:"affected"`
	}
	if err := json.NewDecoder(r).Decode(&rec); err != nil {
		return "", err
	}
	for _, a := range rec.Affected {
		if e := ecosystemBase(a.Package.Ecosystem); e != "" {
			return sanitize(e), nil
		}
	}
	return "", nil
}

// sanitize makes s usable as part of a source name.
func sanitize(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c == '-' || c == '_' || c == '.' || c == ' ' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	out := strings.TrimLeft(b.String(), ".")
	if out == "" {
		return "feed"
	}
	return out
}
