// Package storetest is the conformance suite every store.Store must pass:
// the SQLite and PostgreSQL stores run the same tests, so that what one
// backend does the other does too. It also holds the benchmarks of the
// paths whose speed matters, for each backend to run.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// Run runs the suite; open must return a fresh, empty store that the test
// owns (it is closed by the suite).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	fresh := func(t *testing.T) store.Store {
		s := open(t)
		t.Cleanup(func() { s.Close() })
		return s
	}
	groups := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) store.Store)
	}{
		{"Push", testPush},
		{"Delete", testDelete},
		{"Pull", testPull},
		{"Repositories", testRepositories},
		{"Images", testImages},
		{"Jobs", testJobs},
		{"Blobs", testBlobs},
		{"UpdateFindings", testUpdateFindings},
		{"UpdateAllFindings", testUpdateAllFindings},
		{"Filters", testFilters},
		{"Sorting", testSorting},
		{"Aggregations", testAggregations},
		{"Rules", testRules},
		{"Events", testEvents},
		{"Tokens", testTokens},
		{"EventRules", testEventRules},
		{"Dispatch", testDispatch},
		{"Deliveries", testDeliveries},
		{"GatePolicies", testGatePolicies},
		{"GateRequests", testGateRequests},
		{"UpdateGateRequest", testUpdateGateRequest},
		{"GateDecisions", testGateDecisions},
		{"Sessions", testSessions},
		{"DeliveryLanes", testDeliveryLanes},
		{"ImageCoverage", testImageCoverage},
		{"RegistryState", testRegistryState},
		{"Baseline", testBaseline},
		{"TagMutability", testTagMutability},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.fn(t, fresh) })
	}
}

// RunShared checks that two handles on one database, as two processes
// would hold, share the work: each sees the other's writes and they claim
// disjoint jobs. open returns both handles; the suite closes them.
func RunShared(t *testing.T, open func(t *testing.T) (store.Store, store.Store)) {
	a, b := open(t)
	t.Cleanup(func() { a.Close(); b.Close() })
	ctx := context.Background()

	push(t, a, "shared/app", dig("51"), "latest", base)
	im, err := b.ImageByTag(ctx, "shared/app", "latest")
	if err != nil || im.Digest != dig("51") {
		t.Fatalf("b does not see a's push: %v, %+v", err, im)
	}
	const jobs = 40
	for i := range jobs {
		if _, err := b.EnqueueJob(ctx, store.Job{Kind: store.JobScan, Repository: "shared/app", Digest: dig(fmt.Sprintf("%02x", i))}); err != nil {
			t.Fatal(err)
		}
	}
	got := claimAll(t, []store.Store{a, b, a, b, a, b}, jobs)
	if len(got) != jobs {
		t.Errorf("claimed %d distinct jobs, want %d", len(got), jobs)
	}
	if err := a.AppendEvents(ctx, []store.Event{event("shared-1", "Test")}); err != nil {
		t.Fatal(err)
	}
	evs, err := b.Events(ctx, store.EventQuery{DetailType: "Test"})
	if err != nil || len(evs) != 1 || evs[0].ID != "shared-1" {
		t.Errorf("b does not see a's event: %v, %+v", err, evs)
	}
	// Dispatchers and delivery claimers in both processes share the
	// bus's work without doing any of it twice.
	t.Run("dispatch", func(t *testing.T) { dispatchConcurrently(t, []store.Store{a, b, a, b}) })
	t.Run("claim deliveries", func(t *testing.T) { claimConcurrently(t, []store.Store{a, b, a, b}) })
	t.Run("sessions", func(t *testing.T) { sharedSessions(t, a, b) })
	t.Run("claim delivery lanes", func(t *testing.T) { claimLanesConcurrently(t, []store.Store{a, b, a, b}) })
}

// base is the suite's clock: whole milliseconds, as the stores keep.
var base = time.Date(2024, 9, 4, 16, 0, 0, 0, time.UTC)

const (
	region  = "local"
	account = "000000000000"
)

func arn(id string) string {
	return "arn:aws:inspector2:" + region + ":" + account + ":finding/" + id
}

// dig makes a digest from a short hex pattern.
func dig(p string) string {
	return "sha256:" + strings.Repeat(p, 64/len(p)+1)[:64]
}

func event(id, detailType string) store.Event {
	env, _ := json.Marshal(map[string]string{"id": id, "detail-type": detailType})
	return store.Event{ID: id, Time: base, Source: "vigil.test", DetailType: detailType, Envelope: env}
}

func push(t *testing.T, s store.Store, repo, digest, tag string, at time.Time) {
	t.Helper()
	if err := s.RecordPush(context.Background(), store.Push{
		Repository: repo, Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json", Tag: tag, At: at,
	}); err != nil {
		t.Fatalf("push %s@%s: %v", repo, digest, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

func ptr[T any](v T) *T { return &v }

// diffFinding describes how two findings differ, "" when they do not.
func diffFinding(got, want store.Finding) string {
	var d []string
	str := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s %q, want %q", name, g, w))
		}
	}
	str("id", got.ID, want.ID)
	str("repository", got.Repository, want.Repository)
	str("imageDigest", got.ImageDigest, want.ImageDigest)
	str("vulnerabilityId", got.VulnerabilityID, want.VulnerabilityID)
	str("title", got.Title, want.Title)
	str("severity", got.Severity, want.Severity)
	str("status", got.Status, want.Status)
	str("fixAvailable", got.FixAvailable, want.FixAvailable)
	str("exploitAvailable", got.ExploitAvailable, want.ExploitAvailable)
	str("packageName", got.PackageName, want.PackageName)
	str("packageVersion", got.PackageVersion, want.PackageVersion)
	str("packageManager", got.PackageManager, want.PackageManager)
	str("filePath", got.FilePath, want.FilePath)
	str("layerDiffId", got.LayerDiffID, want.LayerDiffID)
	str("suppressedBy", got.SuppressedBy, want.SuppressedBy)
	str("notReachable", got.NotReachable, want.NotReachable)
	str("score", fmtFloat(got.Score), fmtFloat(want.Score))
	str("epss", fmtFloat(got.EPSS), fmtFloat(want.EPSS))
	for _, tm := range []struct {
		name string
		g, w time.Time
	}{
		{"firstObservedAt", got.FirstObservedAt, want.FirstObservedAt},
		{"lastObservedAt", got.LastObservedAt, want.LastObservedAt},
		{"updatedAt", got.UpdatedAt, want.UpdatedAt},
	} {
		if !tm.g.Equal(tm.w) {
			d = append(d, fmt.Sprintf("%s %v, want %v", tm.name, tm.g, tm.w))
		}
	}
	str("data", string(got.Data), string(want.Data))
	return strings.Join(d, "; ")
}

func fmtFloat(p *float64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}
