package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// oras runs oras in dir (its HOME too) with the server's credentials.
func (ts *testServer) oras(t *testing.T, dir string, args ...string) string {
	t.Helper()
	args = append(args, "--plain-http", "-u", "vigil", "-p", ts.Token)
	cmd := exec.Command(testenv.Tool(t, "oras"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "DOCKER_CONFIG="+filepath.Join(dir, ".docker"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oras %s: %v\n%s%s", args[0], err, out, stderr.String())
	}
	return string(out)
}

type discovered struct {
	Digest       string            `json:"digest"`
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations"`
}

// discover lists an image's referrers with oras discover.
func (ts *testServer) discover(t *testing.T, dir, ref string) map[string][]discovered {
	t.Helper()
	out := ts.oras(t, dir, "discover", "--format", "json", ref)
	var d struct {
		Referrers []discovered `json:"referrers"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("oras discover: %v: %s", err, out)
	}
	byType := map[string][]discovered{}
	for _, r := range d.Referrers {
		byType[r.ArtifactType] = append(byType[r.ArtifactType], r)
	}
	return byType
}

// pullDocument pulls the one file of an artifact with oras pull.
func (ts *testServer) pullDocument(t *testing.T, dir, ref, file string, out any) {
	t.Helper()
	to := t.TempDir()
	ts.oras(t, dir, "pull", "-o", to, ref)
	b, err := os.ReadFile(filepath.Join(to, file))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s from %s: %v", file, ref, err)
	}
}

type openVEX struct {
	Context    string `json:"@context"`
	Statements []struct {
		Vulnerability struct {
			Name string `json:"name"`
		} `json:"vulnerability"`
		Products []struct {
			ID            string `json:"@id"`
			Subcomponents []struct {
				ID string `json:"@id"`
			} `json:"subcomponents"`
		} `json:"products"`
		Status        string `json:"status"`
		Justification string `json:"justification"`
	} `json:"statements"`
}

// TestReferrersAttached: after a scan the server attaches the image's
// CycloneDX SBOM and OpenVEX as referrers, which oras discovers and
// pulls; a suppression with a reason replaces the OpenVEX with one that
// states the vulnerability not_affected, and so does a rescan; an artifact
// a client attaches is listed under its image, not as an image, and is
// not scanned.
func TestReferrersAttached(t *testing.T) {
	ts := startServer(t, "", "vulndb/alpine-secdb")
	digest := ts.push(t, "alpine-3.7.3", "team/alpine:3.7")
	if im := ts.waitScan(t, "team/alpine", digest); im.ScanStatus != "COMPLETE" || im.Counts["TOTAL"] != 2 {
		t.Fatalf("scan %+v", im)
	}
	dir := t.TempDir()
	ref := ts.Host + "/team/alpine@" + digest
	const sbomType, vexType = "application/vnd.cyclonedx+json", "application/vnd.openvex+json"
	var found map[string][]discovered
	waitFor(t, func() bool {
		found = ts.discover(t, dir, ref)
		return len(found[sbomType]) == 1 && len(found[vexType]) == 1
	})

	// The SBOM is the one the API serves for the image.
	var bom, apiBOM struct {
		BOMFormat   string `json:"bomFormat"`
		SpecVersion string `json:"specVersion"`
		Components  []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			PURL    string `json:"purl"`
		} `json:"components"`
	}
	ts.pullDocument(t, dir, ts.Host+"/team/alpine@"+found[sbomType][0].Digest, "sbom.cdx.json", &bom)
	if code := ts.api(t, "GET", "/api/v1/images/sbom?repository=team/alpine&digest="+digest, nil, &apiBOM); code != 200 {
		t.Fatalf("images/sbom: %d", code)
	}
	purls := func(cs []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		PURL    string `json:"purl"`
	}) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.PURL)
		}
		slices.Sort(out)
		return out
	}
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != "1.6" || len(bom.Components) < 10 ||
		!slices.Equal(purls(bom.Components), purls(apiBOM.Components)) {
		t.Errorf("attached SBOM: %s %s, %d components; the API's has %d", bom.BOMFormat, bom.SpecVersion, len(bom.Components), len(apiBOM.Components))
	}
	musl := false
	for _, c := range bom.Components {
		musl = musl || c.Name == "musl" && c.Version == "1.1.18-r3"
	}
	if !musl {
		t.Errorf("attached SBOM has no musl 1.1.18-r3")
	}

	status := func(v openVEX) map[string]string {
		out := map[string]string{}
		for _, s := range v.Statements {
			var subs []string
			for _, p := range s.Products {
				if !strings.HasPrefix(p.ID, "pkg:oci/alpine@sha256%3A") {
					t.Errorf("statement of %s: product %s is not the image", s.Vulnerability.Name, p.ID)
				}
				for _, c := range p.Subcomponents {
					subs = append(subs, c.ID)
				}
			}
			slices.Sort(subs)
			out[s.Vulnerability.Name] = s.Status + " " + s.Justification + " " + strings.Join(subs, ",")
		}
		return out
	}
	var vex openVEX
	ts.pullDocument(t, dir, ts.Host+"/team/alpine@"+found[vexType][0].Digest, "vex.openvex.json", &vex)
	subs := "pkg:apk/alpine/musl-utils@1.1.18-r3?arch=x86_64&distro=alpine-3.7.3&upstream=musl,pkg:apk/alpine/musl@1.1.18-r3?arch=x86_64&distro=alpine-3.7.3"
	if got := status(vex); vex.Context != "https://openvex.dev/ns/v0.2.0" || got["CVE-2019-14697"] != "affected  "+subs || len(got) != 1 {
		t.Errorf("attached OpenVEX: %s %v", vex.Context, got)
	}

	// Triage: a suppression whose reason names an OpenVEX justification.
	rule := map[string]any{"name": "iconv unused", "reason": "vulnerable_code_not_in_execute_path: nothing calls musl's x87 float formatting",
		"filterCriteria": map[string]any{"vulnerabilityId": []map[string]string{{"comparison": "EQUALS", "value": "CVE-2019-14697"}}}}
	if code := ts.api(t, "POST", "/api/v1/suppressions", rule, nil); code != 201 {
		t.Fatalf("suppression: %d", code)
	}
	before := found[vexType][0].Digest
	waitFor(t, func() bool {
		found = ts.discover(t, dir, ref)
		return len(found[vexType]) == 1 && found[vexType][0].Digest != before
	})
	if len(found[sbomType]) != 1 {
		t.Errorf("after triage: %d SBOMs attached, want 1", len(found[sbomType]))
	}
	ts.pullDocument(t, dir, ts.Host+"/team/alpine@"+found[vexType][0].Digest, "vex.openvex.json", &vex)
	if got := status(vex)["CVE-2019-14697"]; got != "not_affected vulnerable_code_not_in_execute_path "+subs {
		t.Errorf("after the suppression, the OpenVEX states %q", got)
	}

	// A rescan attaches them again, replacing the earlier ones.
	before = found[vexType][0].Digest
	if code := ts.api(t, "POST", "/api/v1/images/rescan", map[string]string{"repository": "team/alpine", "digest": digest}, nil); code != 202 {
		t.Fatalf("rescan: %d", code)
	}
	waitFor(t, func() bool {
		found = ts.discover(t, dir, ref)
		return len(found[vexType]) == 1 && found[vexType][0].Digest != before
	})
	if len(found[sbomType]) != 1 {
		t.Errorf("after the rescan: %d SBOMs attached, want 1", len(found[sbomType]))
	}

	// A client's artifact: grouped under the image, not an image.
	os.WriteFile(filepath.Join(dir, "sig.json"), []byte(`{"sig":1}`), 0o600)
	ts.oras(t, dir, "attach", "--artifact-type", "application/vnd.example.signature", ref, "sig.json")
	var page struct {
		Images []struct {
			Digest string `json:"digest"`
		} `json:"images"`
	}
	if code := ts.api(t, "GET", "/api/v1/images?repository=team/alpine", nil, &page); code != 200 || len(page.Images) != 1 || page.Images[0].Digest != digest {
		t.Errorf("images of team/alpine: %d %+v, want the image alone", code, page.Images)
	}
	var list struct {
		Referrers []struct {
			Digest       string `json:"digest"`
			ArtifactType string `json:"artifactType"`
		} `json:"referrers"`
	}
	if code := ts.api(t, "GET", "/api/v1/images/referrers?repository=team/alpine&tag=3.7", nil, &list); code != 200 {
		t.Fatalf("images/referrers: %d", code)
	}
	var types []string
	for _, r := range list.Referrers {
		types = append(types, r.ArtifactType)
		if code := ts.api(t, "GET", "/api/v1/images/detail?repository=team/alpine&digest="+r.Digest, nil, nil); code != 404 {
			t.Errorf("referrer %s (%s) is an image of the API: %d", r.Digest, r.ArtifactType, code)
		}
	}
	slices.Sort(types)
	if want := []string{sbomType, "application/vnd.example.signature", vexType}; !slices.Equal(types, want) {
		t.Errorf("images/referrers lists %v, want %v", types, want)
	}
	if code := ts.api(t, "GET", "/api/v1/images/referrers?repository=team/alpine&tag=3.7&artifactType=application/vnd.example.signature", nil, &list); code != 200 ||
		len(list.Referrers) != 1 || list.Referrers[0].ArtifactType != "application/vnd.example.signature" {
		t.Errorf("images/referrers filtered: %d %+v", code, list.Referrers)
	}
}

// TestReferrersSHA512Scan: an image regctl rewrites to sha512 digests
// (manifest, config, layers) and pushes is recorded under its manifest's
// sha256 digest and scanned like any other: the same findings.
func TestReferrersSHA512Scan(t *testing.T) {
	ts := startServer(t, "", "vulndb/alpine-secdb")
	ts.push(t, "alpine-3.7.3", "team/alpine:3.7")
	dir := t.TempDir()
	regctl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(testenv.Tool(t, "regctl"), append(args, "--host", "reg="+ts.Host+",tls=disabled,user=vigil,pass="+ts.Token)...)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("regctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	regctl("image", "mod", ts.Host+"/team/alpine:3.7", "--digest-algo", "sha512", "--create", "3.7-sha512")
	raw := regctl("manifest", "get", "--format", "raw-body", ts.Host+"/team/alpine:3.7-sha512")
	if !strings.Contains(raw, `"sha512:`) {
		t.Fatalf("regctl did not push sha512 descriptors: %s", raw)
	}
	sum := sha256.Sum256([]byte(raw))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	im := ts.waitScan(t, "team/alpine", digest)
	if im.ScanStatus != "COMPLETE" || im.Counts["TOTAL"] != 2 {
		t.Fatalf("scan of the sha512 image %s: %+v", digest, im)
	}
	want := "musl CVE-2019-14697 ACTIVE,musl-utils CVE-2019-14697 ACTIVE"
	if got := strings.Join(ts.findings(t, "team/alpine", digest), ","); got != want {
		t.Errorf("findings of the sha512 image: %s, want %s", got, want)
	}
}

// TestReferrersTagSchemaServe: a referrer pushed the tag-schema way
// (oras attach --distribution-spec v1.1-referrers-tag, which also pushes
// a "sha256-HEX" index) can be deleted: the index that lists it is the
// image's referrers list, not an image index holding it.
func TestReferrersTagSchemaServe(t *testing.T) {
	ts := startServer(t, "", "vulndb/alpine-secdb")
	digest := ts.push(t, "alpine-3.7.3", "team/alpine:3.7")
	ts.waitScan(t, "team/alpine", digest)
	dir := t.TempDir()
	ref := ts.Host + "/team/alpine@" + digest
	os.WriteFile(filepath.Join(dir, "sig.json"), []byte(`{"sig":1}`), 0o600)
	ts.oras(t, dir, "attach", "--distribution-spec", "v1.1-referrers-tag", "--artifact-type", "application/vnd.example.signature", ref, "sig.json")
	sig := ts.discover(t, dir, ref)["application/vnd.example.signature"]
	if len(sig) != 1 {
		t.Fatalf("oras discover lists %d signatures, want 1", len(sig))
	}
	if code := ts.api(t, "GET", "/api/v1/images/detail?repository=team/alpine&tag=sha256-"+strings.TrimPrefix(digest, "sha256:"), nil, nil); code != 404 {
		t.Errorf("the tag-schema index is an image of the API: %d", code)
	}
	ts.oras(t, dir, "manifest", "delete", "--force", ts.Host+"/team/alpine@"+sig[0].Digest)
	if left := ts.discover(t, dir, ref)["application/vnd.example.signature"]; len(left) != 0 {
		t.Errorf("after deleting the signature, oras discover lists %+v", left)
	}
}
