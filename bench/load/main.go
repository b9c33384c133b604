// Command load drives a running `vigil serve` with concurrent pushers and
// readers for a fixed time and reports latency percentiles and errors per
// kind of request.
//
// Pushers push images made of a real base image (an OCI layout) plus one
// small layer of their own, so every push is a new manifest that the
// server records and scans, as a CI fleet's pushes are. Readers pull
// manifests and blobs of the images already pushed and list images and
// findings through the API.
//
// It talks only to loopback addresses, and stops by itself: after
// -duration, or after -max-ops requests, whichever comes first.
//
//	load -addr 127.0.0.1:5000 -token T -base .testimages/alpine-3.20.3
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type config struct {
	addr, token, base string
	duration          time.Duration
	pushers, readers  int
	maxOps            int64
}

func run() error {
	var c config
	flag.StringVar(&c.addr, "addr", "127.0.0.1:5000", "the server's address (loopback only)")
	flag.StringVar(&c.token, "token", "", "an API token with push rights")
	flag.StringVar(&c.base, "base", "", "OCI layout of the base image pushers build on")
	flag.DurationVar(&c.duration, "duration", 60*time.Second, "how long to run")
	flag.IntVar(&c.pushers, "pushers", 2, "concurrent pushers")
	flag.IntVar(&c.readers, "readers", 8, "concurrent readers")
	flag.Int64Var(&c.maxOps, "max-ops", 200000, "stop after this many requests")
	flag.Parse()
	if err := loopback(c.addr); err != nil {
		return err
	}
	if c.base == "" {
		return errors.New("-base: an OCI layout is required")
	}
	base, err := baseImage(c.base)
	if err != nil {
		return err
	}
	l := &loader{cfg: c, base: base, stats: map[string]*stat{}}
	if c.token != "" {
		l.auth = &authn.Basic{Username: "vigil", Password: c.token}
	} else {
		l.auth = authn.Anonymous
	}
	l.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: c.readers + c.pushers}}
	// One image before the clock starts, so readers have something to read.
	if err := l.push(context.Background(), "load/seed", "0"); err != nil {
		return fmt.Errorf("first push: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < c.pushers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); l.pushLoop(ctx, i) }()
	}
	for i := 0; i < c.readers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); l.readLoop(ctx, i) }()
	}
	wg.Wait()
	l.report(os.Stdout, time.Since(start))
	return nil
}

// loopback refuses any address that is not on this machine's loopback.
func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: only loopback addresses are driven", addr)
	}
	return nil
}

func baseImage(dir string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", dir, err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) == 0 {
		return nil, fmt.Errorf("base %s: no manifest in the layout (%v)", dir, err)
	}
	return idx.Image(m.Manifests[0].Digest)
}

type stat struct {
	lat  []time.Duration
	errs int
	last string
}

type pushed struct{ repo, tag, config string }

type loader struct {
	cfg    config
	base   v1.Image
	auth   authn.Authenticator
	client *http.Client
	ops    atomic.Int64

	mu     sync.Mutex
	stats  map[string]*stat
	images []pushed
}

func (l *loader) record(kind string, d time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats[kind]
	if s == nil {
		s = &stat{}
		l.stats[kind] = s
	}
	if err != nil {
		s.errs++
		s.last = err.Error()
		return
	}
	s.lat = append(s.lat, d)
}

func (l *loader) more(ctx context.Context) bool {
	return ctx.Err() == nil && l.ops.Add(1) <= l.cfg.maxOps
}

func (l *loader) pushLoop(ctx context.Context, id int) {
	for n := 1; l.more(ctx); n++ {
		repo, tag := fmt.Sprintf("load/p%d", id), fmt.Sprintf("%d", n)
		t0 := time.Now()
		err := l.push(ctx, repo, tag)
		if ctx.Err() != nil {
			return // cut off by the end of the run, not a failure
		}
		l.record("push (image)", time.Since(t0), err)
	}
}

// push writes the base image plus a 64 KiB layer of random bytes.
func (l *loader) push(ctx context.Context, repo, tag string) error {
	layer, err := randomLayer()
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(l.base, layer)
	if err != nil {
		return err
	}
	ref, err := name.ParseReference(l.cfg.addr+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img, remote.WithAuth(l.auth), remote.WithContext(ctx)); err != nil {
		return err
	}
	cfg, err := img.ConfigName()
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.images = append(l.images, pushed{repo, tag, cfg.String()})
	l.mu.Unlock()
	return nil
}

func randomLayer() (v1.Layer, error) {
	data := make([]byte, 64<<10)
	if _, err := rand.Read(data); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "srv/load.bin", Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	tw.Write(data)
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

func (l *loader) readLoop(ctx context.Context, id int) {
	kinds := []string{"GET manifest", "GET blob (config)", "GET /api/v1/images", "GET /api/v1/findings"}
	for n := id; l.more(ctx); n++ {
		l.mu.Lock()
		im := l.images[n%len(l.images)]
		l.mu.Unlock()
		kind := kinds[n%len(kinds)]
		t0 := time.Now()
		err := l.read(ctx, kind, im)
		if ctx.Err() != nil {
			return
		}
		l.record(kind, time.Since(t0), err)
	}
}

func (l *loader) read(ctx context.Context, kind string, im pushed) error {
	base := "http://" + l.cfg.addr
	var url, accept string
	switch kind {
	case "GET manifest":
		url, accept = base+"/v2/"+im.repo+"/manifests/"+im.tag, "application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json"
	case "GET blob (config)":
		url = base + "/v2/" + im.repo + "/blobs/" + im.config
	case "GET /api/v1/images":
		url = base + "/api/v1/images?repository=" + im.repo + "&maxResults=50"
	case "GET /api/v1/findings":
		url = base + "/api/v1/findings?repository=" + im.repo + "&maxResults=50"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if l.cfg.token != "" {
		if strings.HasPrefix(kind, "GET /api") {
			req.Header.Set("Authorization", "Bearer "+l.cfg.token)
		} else {
			req.SetBasicAuth("vigil", l.cfg.token)
		}
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

func (l *loader) report(w io.Writer, elapsed time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var kinds []string
	for k := range l.stats {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "%d pushers, %d readers, %.1f s\n\n", l.cfg.pushers, l.cfg.readers, elapsed.Seconds())
	fmt.Fprintln(w, "| request | count | per s | p50 ms | p99 ms | max ms | errors |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, k := range kinds {
		s := l.stats[k]
		sort.Slice(s.lat, func(i, j int) bool { return s.lat[i] < s.lat[j] })
		fmt.Fprintf(w, "| %s | %d | %.1f | %s | %s | %s | %d |\n", k, len(s.lat), float64(len(s.lat))/elapsed.Seconds(),
			pct(s.lat, 0.50), pct(s.lat, 0.99), pct(s.lat, 1), s.errs)
	}
	for _, k := range kinds {
		if s := l.stats[k]; s.errs > 0 {
			fmt.Fprintf(w, "\n%s: last error: %s\n", k, s.last)
		}
	}
}

func pct(lat []time.Duration, p float64) string {
	if len(lat) == 0 {
		return "–"
	}
	i := int(p*float64(len(lat))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(lat) {
		i = len(lat) - 1
	}
	return fmt.Sprintf("%.1f", float64(lat[i].Microseconds())/1000)
}
