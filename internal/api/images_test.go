package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/vigilsec/vigil/internal/store"
)

func TestRepositories(t *testing.T) {
	h := newHarness(t)
	type repo struct {
		Name           string
		RescanDuration string
		RescanBasis    string
		Images         int
	}
	var list struct{ Repositories []repo }
	h.call(readOnly, "GET", "/api/v1/repositories", nil).expect(t, http.StatusOK).decode(t, &list)
	got := map[string]repo{}
	for _, r := range list.Repositories {
		got[r.Name] = r
	}
	if len(got) != 3 || got["team/app"].Images != 2 || got["team/db"].Images != 1 || got["team/app"].RescanDuration != "LIFETIME" {
		t.Errorf("repositories %+v", list.Repositories)
	}
	var r repo
	h.call(admin, "PUT", "/api/v1/repositories/settings", map[string]string{"repository": "team/app", "rescanDuration": "DAYS_30", "rescanBasis": "PULL"}).
		expect(t, http.StatusOK).decode(t, &r)
	if r.Name != "team/app" || r.RescanDuration != "DAYS_30" || r.RescanBasis != "PULL" {
		t.Errorf("after setting: %+v", r)
	}
	stored, err := h.Store.Repository(context.Background(), "team/app")
	if err != nil || stored.RescanDuration != "DAYS_30" || stored.RescanBasis != "PULL" {
		t.Errorf("stored %+v, %v", stored, err)
	}
	h.call(admin, "PUT", "/api/v1/repositories/settings", map[string]string{"repository": "team/app", "rescanDuration": "DAYS_7"}).expect(t, http.StatusBadRequest)
	h.call(admin, "PUT", "/api/v1/repositories/settings", map[string]string{"repository": "team/app", "rescanDuration": "LIFETIME", "rescanBasis": "POKE"}).expect(t, http.StatusBadRequest)
	h.call(admin, "PUT", "/api/v1/repositories/settings", map[string]string{"repository": "team/none", "rescanDuration": "LIFETIME"}).expect(t, http.StatusNotFound)
}

func TestImages(t *testing.T) {
	h := newHarness(t)
	fx := h.Fixture
	var page struct {
		Images    []imageJSON
		NextToken string
	}
	h.call(readOnly, "GET", "/api/v1/images", nil).expect(t, http.StatusOK).decode(t, &page)
	if len(page.Images) != 4 {
		t.Fatalf("%d images", len(page.Images))
	}
	// Newest push first: the fixture pushed them in order.
	for i, im := range page.Images {
		if want := fx.Images[3-i]; im.Digest != want.Digest || len(im.Tags) != 1 || im.Tags[0] != want.Tag {
			t.Errorf("image %d: %+v, want %s:%s", i, im, want.Repository, want.Tag)
		}
	}
	h.call(readOnly, "GET", "/api/v1/images?repository=team/app&maxResults=1", nil).expect(t, http.StatusOK).decode(t, &page)
	if len(page.Images) != 1 || page.NextToken == "" || page.Images[0].Digest != fx.Images[1].Digest {
		t.Fatalf("first page %+v", page)
	}
	var page2 struct {
		Images    []imageJSON
		NextToken string
	}
	h.call(readOnly, "GET", "/api/v1/images?repository=team/app&maxResults=1&nextToken="+url.QueryEscape(page.NextToken), nil).expect(t, http.StatusOK).decode(t, &page2)
	if len(page2.Images) != 1 || page2.Images[0].Digest != fx.Images[0].Digest {
		t.Errorf("second page %+v", page2)
	}
	var pending struct{ Images []imageJSON }
	h.call(readOnly, "GET", "/api/v1/images?scanStatus=PENDING", nil).expect(t, http.StatusOK).decode(t, &pending)
	if len(pending.Images) != 1 || pending.Images[0].Repository != "team/web" || pending.Images[0].ScanStatus != "PENDING" {
		t.Errorf("pending %+v", pending)
	}
	h.call(readOnly, "GET", "/api/v1/images?scanStatus=DONE", nil).expect(t, http.StatusBadRequest)
	h.call(readOnly, "GET", "/api/v1/images?maxResults=0", nil).expect(t, http.StatusBadRequest)
	h.call(readOnly, "GET", "/api/v1/images?maxResults=1001", nil).expect(t, http.StatusBadRequest)
	h.call(readOnly, "GET", "/api/v1/images?repository=a&repository=b", nil).expect(t, http.StatusBadRequest)

	var im imageJSON
	h.call(readOnly, "GET", "/api/v1/images/detail?repository=team/app&tag=1.0", nil).expect(t, http.StatusOK).decode(t, &im)
	if im.Digest != fx.Images[0].Digest || im.ScanStatus != "COMPLETE" || im.Counts["CRITICAL"] != 1 || im.Counts["HIGH"] != 1 || im.Counts["MEDIUM"] != 1 || im.Counts["TOTAL"] != 3 {
		t.Errorf("detail %+v", im)
	}
	var byDigest imageJSON
	h.call(readOnly, "GET", "/api/v1/images/detail?repository=team/app&digest="+url.QueryEscape(fx.Images[0].Digest), nil).expect(t, http.StatusOK).decode(t, &byDigest)
	if byDigest.Digest != im.Digest {
		t.Errorf("by digest %+v", byDigest)
	}
	h.call(readOnly, "GET", "/api/v1/images/detail?repository=team/app&tag=2.0", nil).expect(t, http.StatusNotFound)
	h.call(readOnly, "GET", "/api/v1/images/detail?repository=team/app", nil).expect(t, http.StatusBadRequest)
	h.call(readOnly, "GET", "/api/v1/images/detail?repository=team/app&tag=1.0&digest=sha256:00", nil).expect(t, http.StatusBadRequest)
	h.call(readOnly, "GET", "/api/v1/images/detail?tag=1.0", nil).expect(t, http.StatusBadRequest)
}

// TestSBOM exports the stored inventory of an image, read back with the
// CycloneDX library and as plain SPDX JSON.
func TestSBOM(t *testing.T) {
	h := newHarness(t)
	fx := h.Fixture
	want := map[string]string{}
	for _, f := range fx.Images[0].Findings {
		want[f.Package] = ""
	}
	r := h.call(readOnly, "GET", "/api/v1/images/sbom?repository=team/app&tag=1.0", nil).expect(t, http.StatusOK)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.cyclonedx+json") {
		t.Errorf("Content-Type %q", ct)
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(r.body), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	var got []string
	os := ""
	if bom.Components != nil {
		for _, c := range *bom.Components {
			if c.Type == cdx.ComponentTypeOS {
				os = c.Name + " " + c.Version
				continue
			}
			got = append(got, c.Name+" "+c.Version)
		}
	}
	if os != "debian 12" {
		t.Errorf("CycloneDX operating system %q", os)
	}
	sort.Strings(got)
	if strings.Join(got, ", ") != "libc6 2.36-9+deb12u3, libssl3 3.0.11-1~deb12u2, zlib1g 1:1.2.13.dfsg-1" {
		t.Errorf("CycloneDX components: %v", got)
	}
	if bom.Metadata == nil || bom.Metadata.Component == nil || !strings.Contains(bom.Metadata.Component.Name, fx.Images[0].Digest) {
		t.Errorf("CycloneDX subject: %+v", bom.Metadata)
	}

	r = h.call(readOnly, "GET", "/api/v1/images/sbom?repository=team/app&digest="+url.QueryEscape(fx.Images[1].Digest)+"&format=spdx", nil).expect(t, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/spdx+json" {
		t.Errorf("Content-Type %q", ct)
	}
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			Name        string `json:"name"`
			VersionInfo string `json:"versionInfo"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range doc.Packages {
		names[p.Name+" "+p.VersionInfo] = true
	}
	if doc.SPDXVersion != "SPDX-2.3" || !names["zlib1g 1:1.2.13.dfsg-1"] || !names["stdlib go1.22.5"] {
		t.Errorf("SPDX %s packages %v", doc.SPDXVersion, names)
	}

	r = h.call(readOnly, "GET", "/api/v1/images/sbom?repository=team/web&tag=dev", nil).expect(t, http.StatusConflict)
	if _, msg := r.apiError(t); !strings.Contains(msg, "no inventory") {
		t.Errorf("message %q", msg)
	}
	h.call(readOnly, "GET", "/api/v1/images/sbom?repository=team/app&tag=1.0&format=syft", nil).expect(t, http.StatusBadRequest)
	h.call(readOnly, "GET", "/api/v1/images/sbom?repository=team/app&tag=9", nil).expect(t, http.StatusNotFound)
}

func TestRescan(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	fx := h.Fixture
	var r struct{ Enqueued bool }
	h.call(admin, "POST", "/api/v1/images/rescan", map[string]string{"repository": "team/app", "digest": fx.Images[0].Digest}).expect(t, http.StatusAccepted).decode(t, &r)
	if !r.Enqueued {
		t.Error("not enqueued")
	}
	h.call(admin, "POST", "/api/v1/images/rescan", map[string]string{"repository": "team/app", "digest": fx.Images[0].Digest}).expect(t, http.StatusAccepted).decode(t, &r)
	if r.Enqueued {
		t.Error("the same rescan was queued twice")
	}
	h.call(admin, "POST", "/api/v1/images/rescan", map[string]string{}).expect(t, http.StatusAccepted).decode(t, &r)
	if !r.Enqueued {
		t.Error("rescan of everything not enqueued")
	}
	jobs, err := h.Store.Jobs(ctx, "queued", 100)
	if err != nil {
		t.Fatal(err)
	}
	var rescans []string
	for _, j := range jobs {
		if j.Kind == store.JobRescan {
			rescans = append(rescans, j.Repository+"@"+j.Digest)
		}
	}
	if len(rescans) != 2 || rescans[0] != "team/app@"+fx.Images[0].Digest || rescans[1] != "@" {
		t.Errorf("queued rescans %v", rescans)
	}
	h.call(admin, "POST", "/api/v1/images/rescan", map[string]string{"digest": fx.Images[0].Digest}).expect(t, http.StatusBadRequest)
	h.call(admin, "POST", "/api/v1/images/rescan", map[string]string{"repository": "team/none"}).expect(t, http.StatusNotFound)
	h.call(admin, "POST", "/api/v1/images/rescan", map[string]string{"repository": "team/db", "digest": "sha256:" + strings.Repeat("0", 64)}).expect(t, http.StatusNotFound)
}

func TestEvents(t *testing.T) {
	h := newHarness(t)
	type envelope struct {
		Version    string          `json:"version"`
		DetailType string          `json:"detail-type"`
		Source     string          `json:"source"`
		Account    string          `json:"account"`
		Detail     json.RawMessage `json:"detail"`
	}
	var all struct {
		Events  []envelope
		LastSeq int64
	}
	h.call(readOnly, "GET", "/api/v1/events?maxResults=1000", nil).expect(t, http.StatusOK).decode(t, &all)
	types := map[string]int{}
	for _, e := range all.Events {
		types[e.DetailType]++
		if e.Version != "0" || e.Account != "123456789012" {
			t.Errorf("envelope %+v", e)
		}
	}
	// Four pushes, four pending coverages, three scans, seven findings.
	if types["ECR Image Action"] != 4 || types["Inspector2 Coverage"] != 4 || types["Inspector2 Scan"] != 3 || types["Inspector2 Finding"] != 7 {
		t.Errorf("event types %v", types)
	}
	var scans struct {
		Events  []envelope
		LastSeq int64
	}
	h.call(readOnly, "GET", "/api/v1/events?detailType=Inspector2%20Scan", nil).expect(t, http.StatusOK).decode(t, &scans)
	if len(scans.Events) != 3 {
		t.Errorf("%d scan events", len(scans.Events))
	}
	// Paging by lastSeq reaches every event once.
	n, after := 0, int64(0)
	for i := 0; i < 20; i++ {
		var p struct {
			Events  []envelope
			LastSeq int64
		}
		h.call(readOnly, "GET", "/api/v1/events?maxResults=5&after="+strconv.FormatInt(after, 10), nil).expect(t, http.StatusOK).decode(t, &p)
		if len(p.Events) == 0 {
			if p.LastSeq != after {
				t.Errorf("empty page: lastSeq %d, want %d", p.LastSeq, after)
			}
			break
		}
		n += len(p.Events)
		after = p.LastSeq
	}
	if n != len(all.Events) || after != all.LastSeq {
		t.Errorf("paged %d events to %d; all: %d to %d", n, after, len(all.Events), all.LastSeq)
	}
	h.call(readOnly, "GET", "/api/v1/events?after=-1", nil).expect(t, http.StatusBadRequest)
	h.call(readOnly, "GET", "/api/v1/events?after=x", nil).expect(t, http.StatusBadRequest)
}
