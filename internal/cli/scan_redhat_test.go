package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// vexStatements reads what Red Hat's VEX documents say, independently of
// the feed's parser: for each (stream CPE, binary RPM name), the fixed
// [epoch:]version-release strings (from the fixed product ids themselves,
// NAME-EPOCH:VERSION-RELEASE.ARCH) and whether the component is known to be
// affected with no fix, and with which remediation.
type vexStatements struct {
	fixed    map[[2]string][]string
	affected map[[2]string]string // remediation category
}

var vexNEVRA = regexp.MustCompile(`^(.+)-(\d+):([^-]+)-([^-]+)\.([^.]+)$`)

func readVEX(t *testing.T, files []string) vexStatements {
	t.Helper()
	st := vexStatements{fixed: map[[2]string][]string{}, affected: map[[2]string]string{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			ProductTree struct {
				Branches      []json.RawMessage
				Relationships []struct {
					FullProductName struct {
						ProductID string `json:"product_id"`
					} `json:"full_product_name"`
					ProductReference string `json:"product_reference"`
					RelatesTo        string `json:"relates_to_product_reference"`
				}
			} `json:"product_tree"`
			Vulnerabilities []struct {
				ProductStatus struct {
					Fixed         []string `json:"fixed"`
					KnownAffected []string `json:"known_affected"`
				} `json:"product_status"`
				Remediations []struct {
					Category   string
					ProductIDs []string `json:"product_ids"`
				}
			}
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		// Every product_name's CPE, wherever it sits in the tree.
		cpes := map[string]string{}
		var walk func(json.RawMessage)
		walk = func(raw json.RawMessage) {
			var br struct {
				Category string
				Branches []json.RawMessage
				Product  struct {
					ProductID string `json:"product_id"`
					Helper    struct {
						CPE string `json:"cpe"`
					} `json:"product_identification_helper"`
				}
			}
			json.Unmarshal(raw, &br)
			if br.Category == "product_name" && strings.HasPrefix(br.Product.Helper.CPE, "cpe:/") {
				cpes[br.Product.ProductID] = br.Product.Helper.CPE
			}
			for _, c := range br.Branches {
				walk(c)
			}
		}
		for _, c := range doc.ProductTree.Branches {
			walk(c)
		}
		rels := map[string][2]string{}
		for _, r := range doc.ProductTree.Relationships {
			if cpe, ok := cpes[r.RelatesTo]; ok {
				rels[r.FullProductName.ProductID] = [2]string{cpe, r.ProductReference}
			}
		}
		for _, v := range doc.Vulnerabilities {
			for _, id := range v.ProductStatus.Fixed {
				r, ok := rels[id]
				m := vexNEVRA.FindStringSubmatch(r[1])
				if !ok || m == nil || m[5] == "src" {
					continue
				}
				evr := m[3] + "-" + m[4]
				if m[2] != "0" {
					evr = m[2] + ":" + evr
				}
				k := [2]string{r[0], m[1]}
				if !slices.Contains(st.fixed[k], evr) {
					st.fixed[k] = append(st.fixed[k], evr) // one per architecture
				}
			}
			rem := map[string]string{}
			for _, r := range v.Remediations {
				for _, id := range r.ProductIDs {
					rem[id] = r.Category
				}
			}
			for _, id := range v.ProductStatus.KnownAffected {
				if r, ok := rels[id]; ok {
					st.affected[[2]string{r[0], r[1]}] = rem[id]
				}
			}
		}
	}
	return st
}

// TestScanRedHat builds RHEL 9, RHEL 9.0 EUS, UBI 8 and RHEL 7 roots with
// rpmbuild and rpm, holding curl and snakeyaml packages versioned around
// the fixes of two real Red Hat VEX documents (CVE-2023-38545: curl,
// fixed in RHEL 9 mainline, 9.2 and 9.0 EUS, not affecting RHEL 8;
// CVE-2022-38752: snakeyaml, RHEL 7 affected and out of support scope),
// with content manifests naming their repositories as Red Hat's builds
// do. Each package must be reported for exactly the CVEs whose fix, in a
// stream the image's content sets name, rpm orders after it, or which Red
// Hat states affects that stream with no fix; "no fix planned" is
// reported as will-not-fix. A package that the mainline fixes would
// report but whose EUS stream is fixed must not be.
func TestScanRedHat(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}
	mirror := filepath.Join(dir, "mirror", "vex")
	os.MkdirAll(mirror, 0o755)
	var vexFiles []string
	for _, name := range []string{"cve-2023-38545.json", "cve-2022-38752.json"} {
		b, err := os.ReadFile("../vulndb/csaf/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(mirror, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		vexFiles = append(vexFiles, p)
	}
	runVigilEnv(t, env, "db", "import", filepath.Dir(mirror))
	status, _ := runVigilEnv(t, env, "db", "status")
	// Two documents, each one advisory; the data is as old as the newer
	// document's current_release_date (2025-11-21, CVE-2023-38545).
	found := false
	for _, line := range strings.Split(status, "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[0] == "redhat/vex" && f[1] == "redhat-csaf-vex" && f[2] == "2" && strings.Contains(line, "2025-11-21 (") {
			found = true
		}
	}
	if !found {
		t.Errorf("db status lacks redhat/vex with 2 records and data as of 2025-11-21:\n%s", status)
	}
	vex := readVEX(t, vexFiles)

	mainline := []string{"rhel-9-for-x86_64-baseos-rpms", "rhel-9-for-x86_64-appstream-rpms"}
	for _, c := range []struct {
		name, osRelease string
		contentSets     []string
		cpes            []string // the streams the content sets map to
		pkgs            []rpmPkg
		notReported     map[string]string // package → why it must not be
		covered         bool
	}{
		{"rhel-9", "rhel-9", mainline,
			[]string{"cpe:/a:redhat:enterprise_linux:9::appstream", "cpe:/o:redhat:enterprise_linux:9::baseos"},
			[]rpmPkg{
				{"curl", "0", "7.76.1", "26.el9_3.1"},            // older than the 9.3 fix
				{"libcurl", "0", "7.76.1", "26.el9_3.2"},         // the fix itself
				{"libcurl-minimal", "0", "7.76.1", "26.el9_3.3"}, // newer
				{"curl-minimal", "0", "7.76.1", "23.el9_2.4"},    // the 9.2 fix, older than 9.3's
				{"vigil-unrelated", "0", "1.0", "1"},
			}, nil, true},
		{"rhel-9.0-eus", "rhel-9", []string{"rhel-9-for-x86_64-baseos-eus-rpms__9_DOT_0", "rhel-9-for-x86_64-appstream-eus-rpms__9_DOT_0"},
			[]string{"cpe:/a:redhat:rhel_eus:9.0::appstream", "cpe:/o:redhat:rhel_eus:9.0::baseos"},
			[]rpmPkg{
				{"curl", "0", "7.76.1", "14.el9_0.9"},    // the 9.0 EUS fix: older than every mainline fix
				{"libcurl", "0", "7.76.1", "14.el9_0.8"}, // older than the EUS fix
			}, map[string]string{"curl": "fixed in its 9.0 EUS stream, though older than the mainline fixes"}, true},
		{"ubi-8", "ubi-8", nil, // no content manifest: BaseOS and AppStream
			[]string{"cpe:/a:redhat:enterprise_linux:8::appstream", "cpe:/o:redhat:enterprise_linux:8::baseos"},
			[]rpmPkg{{"curl", "0", "7.61.1", "30.el8"}, {"libcurl", "0", "7.61.1", "30.el8"}},
			map[string]string{"curl": "RHEL 8 is known not affected", "libcurl": "RHEL 8 is known not affected"}, false},
		{"rhel-7", "rhel-7", []string{"rhel-7-server-rpms"},
			[]string{"cpe:/o:redhat:enterprise_linux:7::server"},
			[]rpmPkg{{"snakeyaml", "0", "1.11", "3.el7"}}, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := buildRPMRoot(t, "../distro/testdata/os-release/"+c.osRelease, c.pkgs)
			// As in UBI minimal and micro, the root holds the rpm
			// database and no rpm binary.
			for _, bin := range []string{"usr/bin/rpm", "bin/rpm"} {
				if _, err := os.Stat(filepath.Join(root, bin)); err == nil {
					t.Fatalf("%s in the root", bin)
				}
			}
			if c.contentSets != nil {
				manifests := filepath.Join(root, "root", "buildinfo", "content_manifests")
				os.MkdirAll(manifests, 0o755)
				b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"icm_version": 1}, "content_sets": c.contentSets})
				if err := os.WriteFile(filepath.Join(manifests, "ubi9-container-9.4-1.json"), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}

			// The expected findings, from the documents and rpm.
			type cand struct{ pkg, cve string }
			var cands []cand
			var pairs [][2]string
			want := map[string]string{} // "pkg CVE" → fix state
			for _, p := range c.pkgs {
				for _, cpe := range c.cpes {
					for k, evrs := range vex.fixed {
						if k[1] != p.name || k[0] != cpe {
							continue
						}
						for _, fixed := range evrs {
							cands = append(cands, cand{p.name, "CVE-2023-38545"})
							pairs = append(pairs, [2]string{p.evr(), fixed})
						}
					}
					// Known affected: named by the stream or its release.
					release := cpe[:strings.Index(cpe, "::")]
					for _, s := range []string{cpe, release} {
						if rem, ok := vex.affected[[2]string{s, p.name}]; ok {
							state := "not-fixed"
							if rem == "no_fix_planned" {
								state = "will-not-fix"
							}
							want[p.name+" CVE-2022-38752"] = state
						}
					}
				}
			}
			for i, r := range rpmVercmp(t, pairs) {
				if r < 0 {
					want[cands[i].pkg+" "+cands[i].cve] = "fixed"
				}
			}

			out, errs := runVigilEnv(t, env, "scan", "dir:"+root, "--format", "json", "--db-max-age", "1000000h")
			var doc struct {
				Distro struct {
					ID          string   `json:"id"`
					ContentSets []string `json:"contentSets"`
					CPEs        []string `json:"cpes"`
				} `json:"distro"`
				Findings []struct {
					ID  string `json:"id"`
					Fix struct {
						State string `json:"state"`
					} `json:"fix"`
					Ecosystem string `json:"ecosystem"`
					Package   struct {
						Name string `json:"name"`
					} `json:"package"`
				} `json:"findings"`
				Coverage struct {
					Reason string   `json:"reason"`
					Gaps   []string `json:"gaps"`
				} `json:"coverage"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("%v\n%s", err, errs)
			}
			if doc.Distro.ID != "rhel" || fmt.Sprint(doc.Distro.CPEs) != fmt.Sprint(c.cpes) ||
				fmt.Sprint(doc.Distro.ContentSets) != fmt.Sprint(sortedCopy(c.contentSets)) {
				t.Errorf("distro %+v, want rhel with streams %v", doc.Distro, c.cpes)
			}
			got := map[string]string{}
			for _, f := range doc.Findings {
				if !strings.HasPrefix(f.Ecosystem, "Red Hat:") {
					t.Errorf("%s %s: ecosystem %s", f.Package.Name, f.ID, f.Ecosystem)
				}
				got[f.Package.Name+" "+f.ID] = f.Fix.State
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("reported %v\nthe documents and rpm say %v", got, want)
			}
			if c.name == "rhel-9.0-eus" {
				// The mainline fixes would report the EUS package:
				// only the stream keeps it out.
				if r := rpmVercmp(t, [][2]string{{"7.76.1-14.el9_0.9", "7.76.1-23.el9_2.4"}}); r[0] >= 0 {
					t.Fatalf("rpm orders the EUS curl at or after the 9.2 fix (%d): the case proves nothing", r[0])
				}
			}
			for pkg, why := range c.notReported {
				for k := range got {
					if strings.HasPrefix(k, pkg+" ") {
						t.Errorf("%s reported (%s), but %s", pkg, k, why)
					}
				}
			}
			if covered := doc.Coverage.Reason != "UNSUPPORTED_OS"; covered != c.covered {
				t.Errorf("coverage %s %v, want covered=%v", doc.Coverage.Reason, doc.Coverage.Gaps, c.covered)
			}
			t.Logf("%d rpm comparisons; reported %v", len(pairs), got)
		})
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
