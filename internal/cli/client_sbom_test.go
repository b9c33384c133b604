package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/apiclient"
	"github.com/vigilsec/vigil/internal/server"

	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/testenv"
)

// inspectorFindings reads ScanSbom's INSPECTOR answer as key → value.
func inspectorFindings(t *testing.T, body []byte) map[string]string {
	t.Helper()
	var doc struct {
		SBOM struct {
			Vulnerabilities []struct {
				ID         string `json:"id"`
				Severity   string `json:"severity"`
				Properties struct {
					InspectorScore *float64 `json:"inspector_score"`
				} `json:"properties"`
				Affects []struct {
					InstalledVersion string `json:"installed_version"`
					Path             string `json:"path"`
				} `json:"affects"`
			} `json:"vulnerabilities"`
		} `json:"sbom"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("ScanSbom answer: %v\n%.2000s", err, body)
	}
	m := map[string]string{}
	for _, v := range doc.SBOM.Vulnerabilities {
		if len(v.Affects) != 1 {
			t.Fatalf("%s: %d affects, want one per entry", v.ID, len(v.Affects))
		}
		score := 0.0
		if v.Properties.InspectorScore != nil {
			score = *v.Properties.InspectorScore
		}
		m[findingKey(v.ID, v.Affects[0].InstalledVersion, v.Affects[0].Path)] = findingValue(score, strings.ToUpper(v.Severity))
	}
	return m
}

// TestClientScanSbomSameFindings sends `vigil sbom`'s CycloneDX and SPDX
// documents of each real test image to ScanSbom and holds the answer to
// the local scan of the image: the same findings, scores and
// severities.
func TestClientScanSbomSameFindings(t *testing.T) {
	cs := newClientServer(t)
	for _, name := range clientImages {
		t.Run(name, func(t *testing.T) {
			src := "oci:" + testenv.Image(t, name) + ":latest"
			code, localOut, errs := cs.local("scan", src, "--format", "json", "--no-layer-cache")
			if code != 0 {
				t.Fatalf("local scan: exit %d\n%s", code, errs)
			}
			want := jsonFindings(t, localOut)
			for _, format := range []string{"cyclonedx", "spdx"} {
				code, doc, errs := cs.local("sbom", src, "--format", format)
				if code != 0 {
					t.Fatalf("vigil sbom --format %s: exit %d\n%s", format, code, errs)
				}
				body, _ := json.Marshal(map[string]any{"sbom": json.RawMessage(doc), "outputFormat": "INSPECTOR"})
				status, answer := cs.scanSBOM(t, store.RolePipeline, body)
				if status != http.StatusOK {
					t.Fatalf("ScanSbom of %s: %d %s", format, status, answer)
				}
				sameFindings(t, "ScanSbom of "+format, inspectorFindings(t, answer), want)
			}
		})
	}
}

// TestClientScanSbomCycloneDX15 checks ScanSbom's default answer on the
// app image: CycloneDX 1.5, Inspector's severity counts in metadata, and
// each vulnerability as `vigil scan --format cyclonedx` has it locally
// (id, affected components, Vigil's rating).
func TestClientScanSbomCycloneDX15(t *testing.T) {
	cs := newClientServer(t)
	src := "oci:" + testenv.Image(t, "debian-bullseye-app") + ":latest"
	code, local, errs := cs.local("scan", src, "--format", "cyclonedx", "--no-layer-cache")
	if code != 0 {
		t.Fatalf("local scan: exit %d\n%s", code, errs)
	}
	code, doc, errs := cs.local("sbom", src, "--format", "cyclonedx")
	if code != 0 {
		t.Fatalf("vigil sbom: exit %d\n%s", code, errs)
	}
	body, _ := json.Marshal(map[string]any{"sbom": json.RawMessage(doc)})
	status, answer := cs.scanSBOM(t, store.RolePipeline, body)
	if status != http.StatusOK {
		t.Fatalf("ScanSbom: %d %s", status, answer)
	}
	var resp struct {
		SBOM json.RawMessage `json:"sbom"`
	}
	if err := json.Unmarshal(answer, &resp); err != nil {
		t.Fatal(err)
	}
	type bom struct {
		SpecVersion string `json:"specVersion"`
		Metadata    struct {
			Properties []struct{ Name, Value string } `json:"properties"`
		} `json:"metadata"`
		Components []struct {
			Ref     string `json:"bom-ref"`
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"components"`
		Vulnerabilities []struct {
			ID         string                         `json:"id"`
			Properties []struct{ Name, Value string } `json:"properties"`
			Ratings    []struct {
				Source   struct{ Name string } `json:"source"`
				Score    *float64              `json:"score"`
				Severity string                `json:"severity"`
			} `json:"ratings"`
			Affects []struct {
				Ref   string `json:"ref"`
				Range []struct {
					Version, Status string
				} `json:"versions"`
			} `json:"affects"`
		} `json:"vulnerabilities"`
	}
	// Each vulnerability as "id: name@version…; vigil score severity".
	entries := func(b bom) (map[string]string, map[string]int) {
		names := map[string]string{}
		for _, c := range b.Components {
			names[c.Ref] = c.Name + "@" + c.Version
		}
		out, bands := map[string]string{}, map[string]int{}
		for _, v := range b.Vulnerabilities {
			var pkgs []string
			for _, a := range v.Affects {
				pkgs = append(pkgs, names[a.Ref])
			}
			sort.Strings(pkgs)
			val := strings.Join(pkgs, ",")
			for _, r := range v.Ratings {
				if r.Source.Name == "vigil" {
					s := 0.0
					if r.Score != nil {
						s = *r.Score
					}
					val += "; " + findingValue(s, r.Severity)
					bands[r.Severity]++
				}
			}
			out[v.ID] = val
		}
		return out, bands
	}
	var got, want bom
	if err := json.Unmarshal(resp.SBOM, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(local), &want); err != nil {
		t.Fatal(err)
	}
	if got.SpecVersion != "1.5" {
		t.Errorf("specVersion %q, want 1.5", got.SpecVersion)
	}
	g, bands := entries(got)
	w, _ := entries(want)
	if len(w) == 0 {
		t.Fatal("no vulnerabilities locally: the comparison proves nothing")
	}
	sameFindings(t, "ScanSbom CYCLONE_DX_1_5", g, w)
	// Inspector's fixed_version:<bom-ref> for every fixed version.
	fixed := 0
	for _, v := range got.Vulnerabilities {
		has := map[string]string{}
		for _, p := range v.Properties {
			has[p.Name] = p.Value
		}
		for _, a := range v.Affects {
			for _, r := range a.Range {
				if r.Status != "unaffected" {
					continue
				}
				fixed++
				if has["amazon:inspector:sbom_scanner:fixed_version:"+a.Ref] != r.Version {
					t.Errorf("%s: fixed in %s for %s, but fixed_version:%s is %q", v.ID, r.Version, a.Ref, a.Ref, has["amazon:inspector:sbom_scanner:fixed_version:"+a.Ref])
				}
			}
		}
	}
	if fixed == 0 {
		t.Error("no vulnerability of the app image has a fixed version")
	}
	props := map[string]string{}
	for _, p := range got.Metadata.Properties {
		props[p.Name] = p.Value
	}
	for _, band := range []string{"critical", "high", "medium", "low"} {
		if v := props["amazon:inspector:sbom_scanner:"+band+"_vulnerabilities"]; v != fmt.Sprint(bands[band]) {
			t.Errorf("%s_vulnerabilities %q, the document has %d", band, v, bands[band])
		}
	}
}

// TestClientScanSbomRefusals: no token 401, a read-only token 403; a
// document ScanSbom does not take, or a malformed one, 400 saying what is
// wrong; a body over 64 MiB 413.
func TestClientScanSbomRefusals(t *testing.T) {
	cs := newClientServer(t)
	cdx := `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library","name":"log4j-core","purl":"pkg:maven/org.apache.logging.log4j/log4j-core@2.12.1"}]}`
	ok := `{"sbom":` + cdx + `}`
	for _, c := range []struct {
		role, body string
		status     int
		says       string
	}{
		{"", ok, http.StatusUnauthorized, "token"},
		{store.RoleReadOnly, ok, http.StatusForbidden, "read-only"},
		{store.RolePipeline, ok, http.StatusOK, ""},
		{store.RolePipeline, strings.Replace(ok, `"1.5"`, `"1.4"`, 1), http.StatusOK, ""},
		{store.RolePipeline, strings.Replace(ok, `"1.5"`, `"1.6"`, 1), http.StatusOK, ""},
		{store.RoleAdmin, `{"sbom":` + cdx + `,"outputFormat":"INSPECTOR"}`, http.StatusOK, ""},
		{store.RolePipeline, `{"sbom":{"bomFormat":"CycloneDX","specVersion":"1.3","components":[]}}`, http.StatusBadRequest, `specVersion \"1.3\" is not supported`},
		{store.RolePipeline, `{"sbom":{"spdxVersion":"SPDX-2.2","packages":[]}}`, http.StatusBadRequest, `spdxVersion \"SPDX-2.2\" is not supported`},
		{store.RolePipeline, `{"sbom":{"packages":[]}}`, http.StatusBadRequest, "neither CycloneDX"},
		{store.RolePipeline, `{"sbom":"text"}`, http.StatusBadRequest, "JSON object"},
		{store.RolePipeline, `{}`, http.StatusBadRequest, "sbom is required"},
		{store.RolePipeline, `{"sbom":` + cdx + `,"outputFormat":"CSV"}`, http.StatusBadRequest, "outputFormat"},
		{store.RolePipeline, `{"sbom":` + cdx + `,"extra":1}`, http.StatusBadRequest, "extra"},
		{store.RolePipeline, `{"sbom":{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"x","purl":"pkg:"}]}}`, http.StatusBadRequest, "purl"},
		{store.RolePipeline, `{"sbom":{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library"`, http.StatusBadRequest, "JSON"},
	} {
		status, answer := cs.scanSBOM(t, c.role, []byte(c.body))
		if status != c.status || !strings.Contains(string(answer), c.says) {
			t.Errorf("%s %.80s: %d %s, want %d saying %q", clientRole(c.role), c.body, status, answer, c.status, c.says)
		}
	}
	big := append(append([]byte(`{"sbom":`+cdx+`,"outputFormat":"`), bytes.Repeat([]byte("A"), 64<<20)...), `"}`...)
	if status, answer := cs.scanSBOM(t, store.RolePipeline, big); status != http.StatusRequestEntityTooLarge || !strings.Contains(string(answer), "PAYLOAD_TOO_LARGE") {
		t.Errorf("a %d-byte body: %d %s, want 413", len(big), status, answer)
	}
}

// TestClientModeRefusals: `vigil scan --server` without a token, or with
// a read-only one, fails saying why, and never scans locally instead.
func TestClientModeRefusals(t *testing.T) {
	cs := newClientServer(t)
	src := "oci:" + testenv.Image(t, "alpine-3.7.3") + ":latest"
	for role, says := range map[string]string{"": "401", store.RoleReadOnly: "403"} {
		code, out, errs := cs.client(t, role, "scan", src, "--format", "json")
		if code != 1 || out != "" || !strings.Contains(errs, says) {
			t.Errorf("%s: exit %d, stdout %.200q, stderr %s; want exit 1 naming %s", clientRole(role), code, out, errs, says)
		}
	}
}

// TestClientModeServerSuppressions: the server's suppression rules apply
// to a client-mode scan as to a pushed image's findings, judged as the
// repository --repository names: the finding a rule matches is listed as
// ignored, naming the rule, and no longer counts for thresholds; a rule
// of another repository leaves it be.
func TestClientModeServerSuppressions(t *testing.T) {
	cs := newClientServer(t)
	src := "oci:" + testenv.Image(t, "alpine-3.7.3") + ":latest"
	c, err := apiclient.New(cs.url, cs.tokens[store.RoleAdmin], nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateSuppression(context.Background(), apiclient.SuppressionRequest{Name: "musl-accepted", Reason: "no untrusted input reaches musl's iconv here",
		FilterCriteria: store.FilterCriteria{
			VulnerabilityID:        []store.StringFilter{{Comparison: "EQUALS", Value: "CVE-2019-14697"}},
			EcrImageRepositoryName: []store.StringFilter{{Comparison: "EQUALS", Value: "team/app"}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	code, _, errs := cs.client(t, store.RolePipeline, "scan", src, "--fail-on", "critical", "--repository", "team/other")
	if code != ExitVulnerable {
		t.Fatalf("another repository's rule: exit %d, want %d (CVE-2019-14697 in musl is critical)\n%s", code, ExitVulnerable, errs)
	}
	code, out, errs := cs.client(t, store.RolePipeline, "scan", src, "--format", "json", "--fail-on", "critical", "--repository", "team/app")
	if code != 0 {
		t.Fatalf("the repository's rule: exit %d\n%s", code, errs)
	}
	var doc struct {
		Findings []struct{ ID string }
		Ignored  []struct {
			ID             string
			IgnoredBecause string `json:"ignoredBecause"`
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for _, f := range doc.Findings {
		if f.ID == "CVE-2019-14697" {
			t.Errorf("CVE-2019-14697 still a finding")
		}
	}
	n := 0
	for _, f := range doc.Ignored {
		if f.ID == "CVE-2019-14697" {
			n++
			if !strings.Contains(f.IgnoredBecause, "musl-accepted") || !strings.Contains(f.IgnoredBecause, "iconv") {
				t.Errorf("ignored because %q", f.IgnoredBecause)
			}
		}
	}
	if n == 0 {
		t.Errorf("CVE-2019-14697 is not listed as ignored: %+v", doc.Ignored)
	}

	// ScanSbom names no repository: a rule without one applies to it.
	_, sbomDoc, _ := cs.local("sbom", src, "--format", "cyclonedx")
	body, _ := json.Marshal(map[string]any{"sbom": json.RawMessage(sbomDoc), "outputFormat": "INSPECTOR"})
	before := inspectorFindings(t, func() []byte { _, b := cs.scanSBOM(t, store.RolePipeline, body); return b }())
	_, err = c.CreateSuppression(context.Background(), apiclient.SuppressionRequest{Name: "musl-everywhere", Reason: "accepted for every repository",
		FilterCriteria: store.FilterCriteria{VulnerabilityID: []store.StringFilter{{Comparison: "EQUALS", Value: "CVE-2019-14697"}}}})
	if err != nil {
		t.Fatal(err)
	}
	after := inspectorFindings(t, func() []byte { _, b := cs.scanSBOM(t, store.RolePipeline, body); return b }())
	count := func(m map[string]string) int {
		n := 0
		for k := range m {
			if strings.HasPrefix(k, "CVE-2019-14697 ") {
				n++
			}
		}
		return n
	}
	if count(before) == 0 || count(after) != 0 {
		t.Errorf("ScanSbom: CVE-2019-14697 in %d packages before the rule, %d after; want some, then none", count(before), count(after))
	}
}

// TestClientModeServerWithoutDatabase: a server with no vulnerability
// database answers the scan routes 503 NO_DATABASE, and client mode
// exits 4, as a local scan without a database does.
func TestClientModeServerWithoutDatabase(t *testing.T) {
	ctx := context.Background()
	srv, err := server.New(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DBDir: t.TempDir(),
		TempDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	file, err := srv.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	cs := &clientServer{url: hs.URL, tokens: map[string]string{store.RoleAdmin: strings.TrimSpace(string(admin))}}
	status, answer := cs.scanSBOM(t, store.RoleAdmin, []byte(`{"sbom":{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}}`))
	if status != http.StatusServiceUnavailable || !strings.Contains(string(answer), "NO_DATABASE") {
		t.Errorf("ScanSbom: %d %s, want 503 NO_DATABASE", status, answer)
	}
	code, _, errs := cs.client(t, store.RoleAdmin, "scan", "oci:"+testenv.Image(t, "alpine-3.7.3")+":latest")
	if code != ExitStaleDB || !strings.Contains(errs, "no vulnerability database") {
		t.Errorf("client mode: exit %d, want %d\n%s", code, ExitStaleDB, errs)
	}
}

// TestClientRepositoryOf: the repository suppression rules judge a
// client-mode scan as, by default: a registry reference's, none for
// other sources.
func TestClientRepositoryOf(t *testing.T) {
	for ref, want := range map[string]string{
		"vigil.example:5000/team/app:1.4":                                   "team/app",
		"registry:vigil.example/team/app@sha256:" + strings.Repeat("a", 64): "team/app",
		"oci:./layout:latest":                                               "",
		"archive:app.tar":                                                   "",
		"sbom:app.cdx.json":                                                 "",
		".":                                                                 "",
	} {
		if got := repositoryOf(ref); got != want {
			t.Errorf("repositoryOf(%q) = %q, want %q", ref, got, want)
		}
	}
}

func clientRole(role string) string {
	if role == "" {
		return "no token"
	}
	return role
}

// TestClientScanSbomThirdParty sends real Syft and Trivy documents (SPDX
// 2.3 and CycloneDX 1.6, internal/sbom/testdata/thirdparty) to ScanSbom:
// each is accepted, gives the findings `vigil scan sbom:FILE` gives, and
// says what it could not assess (the shared Alpine secdb stops at
// v3.11, the Debian lists know no bookworm packages' fixes).
func TestClientScanSbomThirdParty(t *testing.T) {
	cs := newClientServer(t)
	for _, name := range []string{"syft-alpine-3.20.3.spdx.json", "trivy-alpine-3.20.3.spdx.json", "syft-debian-bookworm.cdx.json", "trivy-alpine-3.20.3.cdx.json"} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join("..", "sbom", "testdata", "thirdparty", name)
			doc, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			code, localOut, errs := cs.local("scan", "sbom:"+file, "--format", "json")
			if code != 0 {
				t.Fatalf("local scan: exit %d\n%s", code, errs)
			}
			body, _ := json.Marshal(map[string]any{"sbom": json.RawMessage(doc), "outputFormat": "INSPECTOR"})
			status, answer := cs.scanSBOM(t, store.RolePipeline, body)
			if status != http.StatusOK {
				t.Fatalf("ScanSbom: %d %s", status, answer)
			}
			sameFindings(t, "ScanSbom of "+name, inspectorFindings(t, answer), jsonFindings(t, localOut))
			var gaps struct {
				Coverage struct {
					Gaps []string `json:"gaps"`
				} `json:"coverage"`
			}
			json.Unmarshal([]byte(localOut), &gaps)
			for _, g := range gaps.Coverage.Gaps {
				if !strings.Contains(string(answer), `"Not assessed: `+g+`"`) {
					t.Errorf("ScanSbom does not say %q is not assessed", g)
				}
			}
			if len(gaps.Coverage.Gaps) == 0 {
				t.Errorf("no coverage gap locally; the shared feeds do not cover this release")
			}
		})
	}
}

// TestClientInventoryBadInput: inventories no scan of an image would
// send are answered 200 or 400, never a server error.
func TestClientInventoryBadInput(t *testing.T) {
	cs := newClientServer(t)
	for _, body := range []string{
		`{"packages":[]}`,
		`{"packages":[{"name":"x","type":"bogus","version":"1"}]}`,
		`{"packages":[{"name":"golang.org/x/text","type":"golang","version":"not-a-version","goCode":{"packages":null}}]}`,
		`{"distro":{"id":"debian","versionId":"99"},"packages":[{"name":"openssl","type":"deb","version":"::::","source":{"name":""}}]}`,
		`{"distro":{"id":"alpine","versionId":"3.7.3"},"packages":[{"name":"musl","type":"apk","version":"` + strings.Repeat("9", 10000) + `"}]}`,
		`{"packages":[{"name":"lodash","type":"npm","version":"4.17.15"}],"warnings":[{"layer":-5,"path":"../../etc","message":"x","incomplete":"npm"}]}`,
		`{"packages":[{"name":"x","type":"npm"}],"unknown":1}`,
		`[]`,
		`{"packages":[{"name":"x","type":"npm"}]} {}`,
	} {
		req, _ := http.NewRequest("POST", cs.url+"/api/v1/scan/inventory", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+cs.tokens[store.RolePipeline])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%.100s: %d %s", body, resp.StatusCode, answer)
		}
	}
}
