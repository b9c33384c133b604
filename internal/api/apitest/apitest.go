// Package apitest runs the real API handler over a real store (SQLite, in
// a temporary directory) holding a small, realistic set of images and
// findings, for the tests of the API and of its clients. Findings are made
// the way the scan worker makes them: a scan report of hand-built
// vulnerability matches goes through lifecycle.Observe and
// lifecycle.Reconciler into store.UpdateFindings.
package apitest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/api"
	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/egress"
	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/gate"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/lifecycle"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/score"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/sqlite"
)

// Account and Region are the fixture's.
const (
	Account = "123456789012"
	Region  = "eu-test-1"
)

// DBVersion is the vulnerability database version the fixture's images
// were matched with.
const DBVersion = "20260302T110000Z-3f2a9c1b7e4d"

// Now is the fixed clock of the fixture: every image was pushed and
// scanned in the hour before it.
var Now = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// Server is the API over a populated store.
type Server struct {
	*httptest.Server
	Store store.Store
	// Rules is the server's ApplyRules hook.
	Rules *RuleHook
	// Tokens maps each role (store.RoleAdmin, …) to the secret of a
	// token of that role.
	Tokens  map[string]string
	Fixture *Fixture
	// Gate is the server's deployment gate (nil with WithoutGate).
	Gate *gate.Gate

	wakes struct {
		sync.Mutex
		n int
	}
}

// Option changes how New sets the server up.
type Option func(*options)

type options struct {
	noGate bool
	egress *egress.Policy
}

// WithEgress gives the server an egress policy other than the default.
func WithEgress(p *egress.Policy) Option { return func(o *options) { o.egress = p } }

// WithoutGate starts the server without a deployment gate, as a server
// configured without one.
func WithoutGate() Option { return func(o *options) { o.noGate = true } }

// Wakes counts the calls of the server's Wake hook (made after a change
// the background work should act on at once).
func (s *Server) Wakes() int {
	s.wakes.Lock()
	defer s.wakes.Unlock()
	return s.wakes.n
}

func (s *Server) wake() {
	s.wakes.Lock()
	defer s.wakes.Unlock()
	s.wakes.n++
}

// RuleHook re-applies rules as the server does, and can be made to fail.
type RuleHook struct {
	mu    sync.Mutex
	fail  error
	calls int
}

// New starts a server, with a deployment gate over its store unless an
// option says otherwise. Its store is closed and the server stopped when
// the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := &Server{Store: st, Tokens: map[string]string{}, Rules: &RuleHook{}}
	for _, role := range []string{store.RoleAdmin, store.RolePipeline, store.RoleReadOnly} {
		secret, hash := auth.NewToken()
		if err := st.CreateToken(context.Background(), store.Token{ID: "tok-" + role, Name: role + "-token", Role: role, Hash: hash, CreatedAt: Now}); err != nil {
			t.Fatal(err)
		}
		s.Tokens[role] = secret
	}
	s.Fixture = Populate(t, st)
	if !o.noGate {
		s.Gate = &gate.Gate{Store: st, Emitter: events.Emitter{Account: Account, Region: Region},
			Egress: o.egress, Log: slog.New(slog.DiscardHandler)}
	}
	s.Server = httptest.NewServer(api.New(api.Options{
		Store: st, Auth: &auth.Authenticator{Tokens: st},
		ApplyRules: s.Rules.apply(st),
		Account:    Account, Region: Region,
		Gate: s.Gate, Wake: s.wake, Egress: o.egress,
		Now: func() time.Time { return Now },
	}))
	t.Cleanup(s.Server.Close)
	return s
}

// FailRules makes re-applying rules fail with err (nil: succeed again).
func (h *RuleHook) FailRules(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = err
}

// RuleApplications counts the calls of ApplyRules.
func (h *RuleHook) RuleApplications() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

// apply is what `vigil serve` does after a rule changes: re-apply every
// rule to every open finding.
func (h *RuleHook) apply(st store.Store) func(context.Context) error {
	return func(ctx context.Context) error {
		h.mu.Lock()
		h.calls++
		fail := h.fail
		h.mu.Unlock()
		if fail != nil {
			return fail
		}
		return ApplyRules(ctx, st, Now)
	}
}

// ApplyRules re-applies the stored rules to every open finding, as the
// server does.
func ApplyRules(ctx context.Context, st store.Store, now time.Time) error {
	rules, err := st.Rules(ctx)
	if err != nil {
		return err
	}
	contexts := map[string]store.FindingContext{}
	images, _, err := st.ListImages(ctx, store.ImageQuery{Limit: 1000})
	if err != nil {
		return err
	}
	for _, im := range images {
		contexts[im.Repository+"@"+im.Digest] = store.FindingContext{Tags: im.Tags, PushedAt: im.PushedAt}
	}
	rc := lifecycle.Reconciler{Emitter: emitter(now), Region: Region, Account: Account}
	return st.UpdateAllFindings(ctx, func(existing []store.Finding) ([]store.Finding, []store.Event, error) {
		return rc.Rules(existing, rules, contexts, now)
	})
}

func emitter(now time.Time) events.Emitter {
	return events.Emitter{Account: Account, Region: Region, Now: func() time.Time { return now }}
}

// Fixture describes what Populate stored.
type Fixture struct {
	Images []Image
	// Findings are every finding stored, by id.
	Findings map[string]Finding
}

// Image is one stored image.
type Image struct {
	Repository, Digest, Tag string
	// Scanned is false for the image left pending (no inventory).
	Scanned  bool
	Findings []Finding
}

// Finding is one finding as the fixture made it.
type Finding struct {
	ID, Repository, Digest, VulnerabilityID, Severity, Package string
	Score                                                      float64 // 0 when UNTRIAGED
	Fixed                                                      bool
}

// A vulnerable package of the fixture. The advisories, versions and
// vectors are real: the NVD vectors of the CVEs, Debian 12's package
// versions before the fixes.
type vulnerable struct {
	pkg      inventory.Package
	id       string
	aliases  []string
	title    string
	vector   string // "" for UNTRIAGED
	score    float64
	severity string
	fixed    string
	epss     float64
}

var (
	libssl3 = inventory.Package{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: inventory.Deb, Arch: "amd64",
		Source: &inventory.Source{Name: "openssl", Version: "3.0.11-1~deb12u2"}, Path: "/var/lib/dpkg/status", Cataloger: "dpkg", Evidence: inventory.Installed}
	zlib1g = inventory.Package{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Type: inventory.Deb, Arch: "amd64",
		Source: &inventory.Source{Name: "zlib", Version: "1:1.2.13.dfsg-1"}, Path: "/var/lib/dpkg/status", Cataloger: "dpkg", Evidence: inventory.Installed}
	libc6 = inventory.Package{Name: "libc6", Version: "2.36-9+deb12u3", Type: inventory.Deb, Arch: "amd64",
		Source: &inventory.Source{Name: "glibc", Version: "2.36-9+deb12u3"}, Path: "/var/lib/dpkg/status", Cataloger: "dpkg", Evidence: inventory.Installed}
	stdlib = inventory.Package{Name: "stdlib", Version: "go1.22.5", Type: inventory.Go, Path: "/app/server",
		Cataloger: "go-binary", Evidence: inventory.Installed}

	cve20246119 = vulnerable{pkg: libssl3, id: "CVE-2024-6119", title: "CVE-2024-6119 - libssl3, openssl",
		vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", score: 7.5, severity: "HIGH", fixed: "3.0.14-1~deb12u1", epss: 0.00124}
	cve202345853 = vulnerable{pkg: zlib1g, id: "CVE-2023-45853", title: "CVE-2023-45853 - zlib1g, zlib",
		vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", score: 9.8, severity: "CRITICAL", epss: 0.01534}
	cve20234806 = vulnerable{pkg: libc6, id: "CVE-2023-4806", title: "CVE-2023-4806 - libc6, glibc",
		vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H", score: 5.9, severity: "MEDIUM", fixed: "2.36-9+deb12u4", epss: 0.00155}
	go20243106 = vulnerable{pkg: stdlib, id: "GO-2024-3106", aliases: []string{"CVE-2024-34156"},
		title: "GO-2024-3106 - stdlib", severity: "UNTRIAGED", fixed: "1.22.7"}
)

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:])
}

// Populate stores the fixture: four images in three repositories, three
// of them scanned.
//
//	team/app:1.0     libssl3 CVE-2024-6119 HIGH (fixed), zlib1g CVE-2023-45853 CRITICAL, libc6 CVE-2023-4806 MEDIUM (fixed)
//	team/app:latest  zlib1g CVE-2023-45853 CRITICAL, stdlib GO-2024-3106 UNTRIAGED (fixed) in /app/server
//	team/db:16       libssl3 CVE-2024-6119 HIGH (fixed), zlib1g CVE-2023-45853 CRITICAL
//	team/web:dev     pushed, not scanned yet
func Populate(t testing.TB, st store.Store) *Fixture {
	t.Helper()
	fx := &Fixture{Findings: map[string]Finding{}}
	specs := []struct {
		repo, tag string
		vulns     []vulnerable
		scanned   bool
	}{
		{"team/app", "1.0", []vulnerable{cve20246119, cve202345853, cve20234806}, true},
		{"team/app", "latest", []vulnerable{cve202345853, go20243106}, true},
		{"team/db", "16", []vulnerable{cve20246119, cve202345853}, true},
		{"team/web", "dev", nil, false},
	}
	for i, sp := range specs {
		im := Image{Repository: sp.repo, Digest: digest(sp.repo + ":" + sp.tag), Tag: sp.tag, Scanned: sp.scanned}
		pushed := Now.Add(-time.Hour + time.Duration(i)*time.Minute)
		if err := push(st, im, pushed); err != nil {
			t.Fatalf("apitest: push %s: %v", sp.repo, err)
		}
		if sp.scanned {
			if err := scanImage(st, &im, sp.vulns, pushed.Add(30*time.Second)); err != nil {
				t.Fatalf("apitest: scan %s: %v", sp.repo, err)
			}
			for _, f := range im.Findings {
				fx.Findings[f.ID] = f
			}
		}
		fx.Images = append(fx.Images, im)
	}
	return fx
}

func push(st store.Store, im Image, at time.Time) error {
	em := emitter(at)
	act, err := em.PushEvent("PUSH", events.ImageAction{RepositoryName: im.Repository, ImageDigest: im.Digest, ImageTag: im.Tag,
		ManifestMediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactMediaType: "application/vnd.oci.image.config.v1+json"})
	if err != nil {
		return err
	}
	cov, err := em.CoverageEvent(im.Repository, im.Digest, events.CoverageActive, events.ReasonPending)
	if err != nil {
		return err
	}
	return st.RecordPush(context.Background(), store.Push{
		Repository: im.Repository, Digest: im.Digest, MediaType: "application/vnd.oci.image.manifest.v1+json",
		ArtifactType: "application/vnd.oci.image.config.v1+json", ConfigDigest: digest("config " + im.Digest),
		Tag: im.Tag, Size: 31_457_280, Platform: "linux/amd64", At: at, Events: []store.Event{act, cov},
	})
}

// scanImage does what the worker does after matching: observe, reconcile
// with stored findings and rules, and write findings, the image's scan
// state, its inventory and the events in one go.
func scanImage(st store.Store, im *Image, vulns []vulnerable, at time.Time) error {
	ctx := context.Background()
	distro := &inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"}
	layers := []inventory.LayerRef{
		{Index: 0, DiffID: digest("base layer"), Digest: digest("base blob")},
		{Index: 1, DiffID: digest("app layer " + im.Digest), Digest: digest("app blob " + im.Digest)},
	}
	r := &scan.Report{
		Subject:  scan.Subject{Name: "vigil.test:5000/" + im.Repository + ":" + im.Tag, Digest: im.Digest, Platform: "linux/amd64", Layers: layers},
		Distro:   distro,
		Database: &scan.Database{Path: "vulndb.sqlite", Built: at.Add(-time.Hour), Version: DBVersion},
		Time:     at,
	}
	for _, v := range vulns {
		p := v.pkg
		p.Layer = layers[0]
		if p.Type == inventory.Go {
			p.Layer = layers[1]
		}
		p.PURL = inventory.PURL(&p, distro)
		r.Packages = append(r.Packages, p)
		pkg := r.Packages[len(r.Packages)-1]
		f := &scan.Finding{
			Finding: &match.Finding{ID: v.id, Aliases: v.aliases, Ecosystem: "Debian:12", Version: p.Version, Fix: match.NotFixed, FixedVersion: v.fixed},
			Pkg:     &pkg, Title: v.title, Description: v.title, Source: "debian/tracker",
			SourceURL:  "https://security-tracker.debian.org/tracker/" + v.id,
			Score:      score.Result{Severity: v.severity},
			References: []string{"https://nvd.nist.gov/vuln/detail/" + v.id},
		}
		if p.Type == inventory.Go {
			f.Ecosystem, f.Source, f.SourceURL = "Go", "osv/Go", "https://pkg.go.dev/vuln/"+v.id
		}
		if v.fixed != "" {
			f.Fix = match.Fixed
		}
		if v.vector != "" {
			f.Score = score.Result{Score: v.score, Severity: v.severity, ScoreSource: score.SourceNVD,
				Base: score.CVSS{Version: "3.1", Vector: v.vector, BaseScore: v.score, Source: "nvd@nist.gov"}}
		}
		r.Findings = append(r.Findings, f)
	}
	observed, err := lifecycle.Observe(r, im.Repository, report.Options{AccountID: Account, Region: Region, Now: at})
	if err != nil {
		return err
	}
	for _, o := range observed {
		im.Findings = append(im.Findings, Finding{
			ID: o.Finding.ID, Repository: im.Repository, Digest: im.Digest, VulnerabilityID: o.Finding.VulnerabilityID,
			Severity: o.Finding.Severity, Package: o.Finding.PackageName, Fixed: o.Finding.FixAvailable == "YES",
		})
		if o.Finding.Score != nil {
			im.Findings[len(im.Findings)-1].Score = *o.Finding.Score
		}
	}
	inv, err := json.Marshal(inventory.Inventory{Distro: distro, Packages: r.Packages})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(inv)
	hash := hex.EncodeToString(sum[:])
	if err := st.PutInventory(ctx, hash, inv); err != nil {
		return err
	}
	cov, err := json.Marshal(coverage.New(nil, nil))
	if err != nil {
		return err
	}
	if err := st.PutImageCoverage(ctx, store.ImageCoverage{Repository: im.Repository, Digest: im.Digest, Reason: coverage.ReasonSuccessful,
		Coverage: cov, Warnings: json.RawMessage("[]"), UpdatedAt: at}); err != nil {
		return err
	}
	em := emitter(at)
	rc := lifecycle.Reconciler{Emitter: em, Region: Region, Account: Account}
	stored, err := st.Image(ctx, im.Repository, im.Digest)
	if err != nil {
		return err
	}
	rules, err := st.Rules(ctx)
	if err != nil {
		return err
	}
	return st.UpdateFindings(ctx, im.Repository, im.Digest, func(existing []store.Finding) (store.FindingsUpdate, error) {
		changed, evts, err := rc.Scan(existing, observed, rules, store.FindingContext{Tags: stored.Tags, PushedAt: stored.PushedAt}, at)
		if err != nil {
			return store.FindingsUpdate{}, err
		}
		if len(existing) != 0 {
			return store.FindingsUpdate{}, errors.New("apitest: image scanned twice")
		}
		scanEvt, err := em.ScanEvent(events.ScanInitialDone, im.Repository, im.Digest, stored.Tags, lifecycle.Counts(changed))
		if err != nil {
			return store.FindingsUpdate{}, err
		}
		return store.FindingsUpdate{
			Findings: changed,
			Image: &store.ImageUpdate{Repository: im.Repository, Digest: im.Digest, ScanStatus: store.ScanComplete,
				ScanReason: events.ReasonSuccessful, ScannedAt: at, Distro: distro.String(), InventoryHash: hash, DBVersion: DBVersion},
			Events: append(evts, scanEvt),
		}, nil
	})
}
