// Command feedgen writes vulnerability feeds at the scale of today's real
// ones, in their real formats, for measuring `vigil db import` and
// matching against a full-size database:
//
//   - OSV: one all.zip per ecosystem, as osv.dev publishes them, each
//     record a real record of ../shared/testdata (the same ecosystem's
//     all.zip) with a new id and, for most records, a new package name;
//   - NVD: API 2.0 pages of 2,000 records, each a real record of the shared
//     NVD data with a new CVE id;
//   - Debian: the security tracker's JSON export, with the given number of
//     source packages, each with CVE entries shaped like the tracker's.
//
// The first two copies of each real record keep its package names, so
// that the packages of the real test images meet twice the advisories
// they meet in the shared data; every other copy names a package of its
// own (one for ten records). In the tracker, the real source packages'
// generated entries are nine in ten fixed before any version Debian ships
// (resolved long ago) and one in ten open, as most of the real tracker's
// entries of a stable release are.
//
// Usage: feedgen -testdata DIR -out DIR [-osv N] [-nvd N] [-debian N]
package main

import (
	"archive/zip"
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// osvShare is each ecosystem's share of the OSV records, roughly as on
// osv.dev: npm (with its malicious-package records) the largest, the
// distributions next.
var osvShare = map[string]float64{
	"npm": 0.38, "Ubuntu": 0.22, "AlmaLinux": 0.10, "PyPI": 0.10,
	"Maven": 0.08, "Go": 0.06, "crates.io": 0.06,
}

func main() {
	testdata := flag.String("testdata", "../shared/testdata", "the shared test data")
	out := flag.String("out", "", "directory to write the feeds to")
	nOSV := flag.Int("osv", 600000, "OSV records in all")
	nNVD := flag.Int("nvd", 300000, "NVD records")
	nDebian := flag.Int("debian", 40000, "Debian source packages in the tracker JSON")
	seed := flag.Uint64("seed", 1, "random seed (the same seed writes the same feeds)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "feedgen: -out is required")
		os.Exit(2)
	}
	rng := rand.New(rand.NewPCG(*seed, *seed))
	vulndb := filepath.Join(*testdata, "vulndb")
	total := 0
	ecos := make([]string, 0, len(osvShare))
	for eco := range osvShare {
		ecos = append(ecos, eco)
	}
	sort.Strings(ecos)
	for _, eco := range ecos {
		n := int(float64(*nOSV) * osvShare[eco])
		if err := writeOSV(filepath.Join(vulndb, "osv", eco, "all.zip"), filepath.Join(*out, "osv", eco, "all.zip"), eco, n, rng); err != nil {
			fail(err)
		}
		total += n
	}
	fmt.Printf("osv: %d records in %d ecosystems\n", total, len(ecos))
	pages, err := writeNVD(filepath.Join(vulndb, "nvd", "cve"), filepath.Join(*out, "nvd"), *nNVD)
	if err != nil {
		fail(err)
	}
	fmt.Printf("nvd: %d records in %d pages\n", *nNVD, pages)
	cves, err := writeTracker(filepath.Join(vulndb, "debian", "DSA", "list"), filepath.Join(*out, "debian", "tracker.json"), *nDebian, rng)
	if err != nil {
		fail(err)
	}
	fmt.Printf("debian tracker: %d source packages, %d CVE entries\n", *nDebian, cves)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "feedgen:", err)
	os.Exit(1)
}

// readTemplates reads every record of a real OSV all.zip.
func readTemplates(path string) ([]map[string]any, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	var out []map[string]any
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		var rec map[string]any
		err = json.NewDecoder(io.LimitReader(rc, 16<<20)).Decode(&rec)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, f.Name, err)
		}
		out = append(out, rec)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no records", path)
	}
	return out, nil
}

// writeOSV writes n records made from the real records of one ecosystem.
func writeOSV(template, out, eco string, n int, rng *rand.Rand) error {
	recs, err := readTemplates(template)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(bufio.NewWriterSize(f, 1<<20))
	prefix := strings.NewReplacer(".", "", " ", "").Replace(strings.ToUpper(eco))
	for i := 0; i < n; i++ {
		rec := recs[i%len(recs)]
		id := fmt.Sprintf("GEN-%s-%07d", prefix, i)
		keep := i < 2*len(recs)
		data, err := json.Marshal(rewrite(rec, id, i, keep))
		if err != nil {
			return err
		}
		w, err := zw.Create(id + ".json")
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// rewrite returns a copy of a record with a new id, without aliases (so
// that generated records never merge with each other or real ones) and,
// unless keep, new package names: a tenth as many names as records.
func rewrite(rec map[string]any, id string, i int, keep bool) map[string]any {
	out := make(map[string]any, len(rec))
	for k, v := range rec {
		out[k] = v
	}
	out["id"] = id
	delete(out, "aliases")
	delete(out, "related")
	if keep {
		return out
	}
	aff, _ := rec["affected"].([]any)
	next := make([]any, len(aff))
	for j, a := range aff {
		am, ok := a.(map[string]any)
		if !ok {
			next[j] = a
			continue
		}
		c := make(map[string]any, len(am))
		for k, v := range am {
			c[k] = v
		}
		if p, ok := am["package"].(map[string]any); ok {
			pc := make(map[string]any, len(p))
			for k, v := range p {
				pc[k] = v
			}
			if name, ok := p["name"].(string); ok {
				pc["name"] = fmt.Sprintf("%s-gen%d", name, i/10)
			}
			delete(pc, "purl")
			c["package"] = pc
		}
		next[j] = c
	}
	out["affected"] = next
	return out
}

// writeNVD writes n NVD records in API 2.0 pages of 2,000.
func writeNVD(templates, out string, n int) (int, error) {
	names, err := filepath.Glob(filepath.Join(templates, "*.json"))
	if err != nil || len(names) == 0 {
		return 0, fmt.Errorf("%s: no NVD records (%v)", templates, err)
	}
	var recs []map[string]any
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			return 0, err
		}
		var r map[string]any
		if err := json.Unmarshal(b, &r); err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		if c, ok := r["cve"].(map[string]any); ok {
			r = c
		}
		recs = append(recs, r)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	const per = 2000
	pages := 0
	for start := 0; start < n; start += per {
		var vulns []any
		for i := start; i < min(start+per, n); i++ {
			c := make(map[string]any, len(recs[i%len(recs)]))
			for k, v := range recs[i%len(recs)] {
				c[k] = v
			}
			c["id"] = fmt.Sprintf("CVE-%d-%d", 1999+i%28, 100000+i)
			vulns = append(vulns, map[string]any{"cve": c})
		}
		page := map[string]any{
			"resultsPerPage": len(vulns), "startIndex": start, "totalResults": n,
			"format": "NVD_CVE", "version": "2.0", "timestamp": "2026-12-01T00:00:00.000",
			"vulnerabilities": vulns,
		}
		b, err := json.Marshal(page)
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(out, fmt.Sprintf("cves-page-%d.json", pages)), b, 0o644); err != nil {
			return 0, err
		}
		pages++
	}
	return pages, nil
}

// writeTracker writes the tracker JSON: n source packages (the real
// source package names of the DSA list first, then generated ones), each
// with one to eight CVE entries over Debian's releases.
func writeTracker(dsaList, out string, n int, rng *rand.Rand) (int, error) {
	names, err := dsaPackages(dsaList)
	if err != nil {
		return 0, err
	}
	realNames := make(map[string]bool, len(names))
	for _, name := range names {
		realNames[name] = true
	}
	for i := len(names); i < n; i++ {
		names = append(names, fmt.Sprintf("%s-gen%d", names[i%len(names)], i))
	}
	names = names[:n]
	sort.Strings(names)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	releases := []struct{ name, suffix string }{
		{"bullseye", "+deb11u1"}, {"bookworm", "+deb12u1"}, {"trixie", ""}, {"sid", ""},
	}
	urgencies := []string{"low", "medium", "high", "not yet assigned", "unimportant"}
	cves := 0
	w.WriteString("{")
	for pi, pkg := range names {
		if pi > 0 {
			w.WriteString(",")
		}
		key, _ := json.Marshal(pkg)
		w.Write(key)
		w.WriteString(":{")
		k := 1 + rng.IntN(8)
		for j := 0; j < k; j++ {
			if j > 0 {
				w.WriteString(",")
			}
			id := fmt.Sprintf("CVE-%d-%d", 2015+rng.IntN(12), 10000+cves)
			cves++
			rel := map[string]any{}
			major := 1 + rng.IntN(9)
			real := realNames[pkg]
			for _, r := range releases {
				urg := urgencies[rng.IntN(len(urgencies))]
				if real {
					if rng.IntN(10) == 0 {
						rel[r.name] = map[string]any{"status": "open", "repositories": map[string]string{r.name: "1.0-1"}, "urgency": urg}
						continue
					}
					fixed := fmt.Sprintf("0~gen%d-1", j)
					rel[r.name] = map[string]any{"status": "resolved", "repositories": map[string]string{r.name: "1.0-1"},
						"fixed_version": fixed, "urgency": urg}
					continue
				}
				if rng.IntN(4) == 0 {
					rel[r.name] = map[string]any{"status": "open", "repositories": map[string]string{r.name: fmt.Sprintf("%d.%d-1", major, j)}, "urgency": urg}
					continue
				}
				fixed := fmt.Sprintf("%d.%d-2%s", major, j, r.suffix)
				rel[r.name] = map[string]any{"status": "resolved", "repositories": map[string]string{r.name: fixed},
					"fixed_version": fixed, "urgency": urg}
			}
			entry := map[string]any{"description": "Generated entry " + id + " of " + pkg + ".", "scope": "remote", "releases": rel}
			b, err := json.Marshal(entry)
			if err != nil {
				return 0, err
			}
			fmt.Fprintf(w, "%q:", id)
			w.Write(b)
		}
		w.WriteString("}")
	}
	w.WriteString("}\n")
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return cves, f.Close()
}

// sourceName is what Debian allows as a source package's name.
var sourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

// dsaPackages lists the source packages the DSA list names, each once.
func dsaPackages(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "[") {
			continue
		}
		// [29 Mar 2023] DSA-5380-1 xorg-server - security update
		fields := strings.Fields(line[strings.Index(line, "]")+1:])
		if len(fields) < 2 {
			continue
		}
		name := strings.TrimRight(fields[1], ",")
		if sourceName.MatchString(name) && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no packages", path)
	}
	return out, sc.Err()
}
