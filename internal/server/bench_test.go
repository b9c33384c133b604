package server_test

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

// BenchmarkPushToFindings measures how long after a push of the real app
// image (debian-bullseye-app: three layers, 185 MB unpacked; Debian, Go,
// npm, Python and Java packages) its findings are served by the API: the
// time from the registry's acknowledgement of the manifest to the image's
// scan status reading COMPLETE. "new-layers" pushes into a fresh server
// each time, so every layer is analysed; "known-layers" pushes the same
// image into a new repository of one server, so the layers' cached
// results are reused (an image on a known base). It reports the median
// and the 90th percentile.
func BenchmarkPushToFindings(b *testing.B) {
	feeds := []string{"vulndb/debian", "vulndb/osv/Go", "vulndb/osv/PyPI", "vulndb/epss", "vulndb/kev"}
	dbDir := b.TempDir()
	importFeeds(b, dbDir, feeds...)
	for _, mode := range []string{"new-layers", "known-layers"} {
		b.Run(mode, func(b *testing.B) {
			var lat []time.Duration
			var ts *testServer
			i := 0
			for b.Loop() {
				if ts == nil || mode == "new-layers" {
					b.StopTimer()
					if ts != nil {
						ts.stop()
					}
					ts = startServer(b, dbDir)
					if mode == "known-layers" {
						// One push first, so that the layers are known.
						d := ts.push(b, "debian-bullseye-app", "warm/app:v0")
						ts.waitScan(b, "warm/app", d)
					}
					b.StartTimer()
				}
				repo := fmt.Sprintf("bench/app%d", i)
				i++
				digest := ts.push(b, "debian-bullseye-app", repo+":v1")
				acked := time.Now()
				if im := ts.waitScanFast(b, repo, digest); im.ScanStatus != "COMPLETE" {
					b.Fatalf("scan ended %+v", im)
				}
				lat = append(lat, time.Since(acked))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*9/10].Milliseconds()), "p90-ms")
		})
	}
}

// waitScanFast polls the API every 5 ms.
func (ts *testServer) waitScanFast(t testing.TB, repo, digest string) imageDetail {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var im imageDetail
		code := ts.api(t, "GET", "/api/v1/images/detail?repository="+repo+"&digest="+digest, nil, &im)
		if code == 200 && im.ScanStatus != "PENDING" && im.ScanStatus != "SCANNING" {
			return im
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s@%s: scan did not finish", repo, digest)
	return imageDetail{}
}
