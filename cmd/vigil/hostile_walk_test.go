package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// walkMaxRSS is the most memory (KiB) a vigil process may use on any of
// the hostile layers below.
const walkMaxRSS = 150 << 10

// walkLong is the length of the names and link targets of the review's
// layers: far past PATH_MAX, and what a tar PAX header allows.
const walkLong = 65000

// walkCase is one hostile layer, built the way the review built it, with
// one ordinary package beside the hostile entries so that each case also
// shows what is still read.
type walkCase struct {
	name string
	fill func(l *walkLayer)
	// packages is the number of packages the inventory must list;
	// warning a text some warning must contain, and incomplete what
	// that warning must name as not fully assessed ("" for an ordinary
	// warning).
	packages   int
	warning    string
	incomplete string
	// scanExit is the exit status of `vigil scan`; serveStatus the scan
	// status the server reaches.
	scanExit    int
	serveStatus string
	// serveRSS, when set, is the bound (KiB) for the server where
	// walkMaxRSS is not met yet: for the two layers of 25,000 packages
	// its peak is 125 to 205 MB (VmHWM, one push), of which about 38 MB
	// is the binary's own pages and up to 20 MB SQLite's page caches; the
	// rest is the scan of 25,000 packages, the largest part of it the
	// CycloneDX SBOM attached to the image (the document's components
	// built whole, then encoded).
	serveRSS int64
}

func walkCases() []walkCase {
	okPackage := func(l *walkLayer) {
		l.file("app/node_modules/ok/package.json", `{"name":"ok","version":"1.0.0"}`)
	}
	return []walkCase{
		{
			name: "20000 symlinks with 65 KB names and targets",
			fill: func(l *walkLayer) {
				okPackage(l)
				n, tg := strings.Repeat("n", walkLong), strings.Repeat("t", walkLong)
				for i := 0; i < 20000; i++ {
					l.entry(&tar.Header{Name: fmt.Sprintf("links/%05d-", i) + n, Linkname: tg + strconv.Itoa(i), Typeflag: tar.TypeSymlink}, "", n, tg)
				}
			},
			packages: 1, warning: "more than PATH_MAX (4096): refused",
			serveStatus: "COMPLETE",
		},
		{
			name: "50000 whiteouts under 65 KB names",
			fill: func(l *walkLayer) {
				okPackage(l)
				d := strings.Repeat("d", walkLong)
				for i := 0; i < 50000; i++ {
					l.entry(&tar.Header{Name: fmt.Sprintf("w%05d-", i) + d + "/.wh.f", Typeflag: tar.TypeReg}, "", d)
				}
			},
			packages: 1, warning: "more than PATH_MAX (4096): refused",
			serveStatus: "COMPLETE",
		},
		{
			name: "20000 directories with 65 KB names",
			fill: func(l *walkLayer) {
				okPackage(l)
				d := strings.Repeat("d", walkLong)
				for i := 0; i < 20000; i++ {
					l.entry(&tar.Header{Name: fmt.Sprintf("d%05d-", i) + d + "/", Typeflag: tar.TypeDir, Mode: 0o755}, "", d)
				}
			},
			packages: 1, warning: "more than PATH_MAX (4096): refused",
			serveStatus: "COMPLETE",
		},
		{
			name: "a chain of 2000 hard links to hard links",
			fill: func(l *walkLayer) {
				prev := "app/node_modules/c0000/package.json"
				l.file(prev, `{"name":"c","version":"1.0.0"}`)
				for i := 1; i < 2000; i++ {
					p := fmt.Sprintf("app/node_modules/c%04d/package.json", i)
					l.entry(&tar.Header{Name: p, Linkname: prev, Typeflag: tar.TypeLink}, "")
					prev = p
				}
			},
			packages:    2000,
			serveStatus: "COMPLETE",
		},
		{
			name: "a dpkg status padded past 64 MiB",
			fill: func(l *walkLayer) {
				okPackage(l)
				head := "Package: padded\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0\nDescription: padding\n"
				line := " " + strings.Repeat("x", 78) + "\n"
				lines := (64<<20)/len(line) + 1
				l.tw.WriteHeader(&tar.Header{Name: "var/lib/dpkg/status", Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX,
					ModTime: time.Unix(1700000000, 0), Size: int64(len(head) + lines*len(line) + 1)})
				io.WriteString(l.tw, head)
				chunk := strings.Repeat(line, 1<<12)
				for n := lines; n > 0; n -= 1 << 12 {
					io.WriteString(l.tw, chunk[:min(n, 1<<12)*len(line)])
					l.flush(nil)
				}
				io.WriteString(l.tw, "\n")
				l.flush(nil)
			},
			packages: 1, warning: "var/lib/dpkg/status", incomplete: "dpkg",
			// Coverage is partial: the scan says so instead of passing
			// the image as clean.
			serveStatus: "COMPLETE",
		},
		{
			name: "200000 hard links to one file",
			fill: func(l *walkLayer) {
				l.file("app/node_modules/a/package.json", `{"name":"a","version":"1.0.0"}`)
				for i := 0; i < 200000; i++ {
					l.entry(&tar.Header{Name: fmt.Sprintf("app/node_modules/l%06d/package.json", i), Linkname: "app/node_modules/a/package.json", Typeflag: tar.TypeLink}, "")
				}
			},
			packages: 25000, warning: "more than 25000", incomplete: "npm",
			serveStatus: "COMPLETE",
			serveRSS:    200 << 10,
		},
		// These two last: the server keeps the memory they take (a reset
		// of its peak RSS only lowers it to what it still holds), which
		// would be charged to the cases after them.
		{
			name: "600000 package.json",
			fill: func(l *walkLayer) {
				for i := 0; i < 600000; i++ {
					l.file(fmt.Sprintf("app/node_modules/p%06d/package.json", i), fmt.Sprintf(`{"name":"p%06d","version":"1.0.0"}`, i))
				}
			},
			packages: 25000, warning: "more than 25000 packages", incomplete: "npm",
			serveStatus: "COMPLETE",
			serveRSS:    250 << 10,
		},
	}
}

// TestWalkHostileLayers builds each layer an adversarial review used to
// exhaust memory, and runs the real vigil binary on it: `vigil sbom`
// without the layer cache, filling it and hitting it, `vigil scan`, and a
// `vigil serve` the image is pushed to. Each must give the expected
// inventory and warnings within walkMaxRSS of peak memory.
func TestWalkHostileLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds layers of gigabytes of tar")
	}
	bin := buildVigil(t)
	root := t.TempDir()
	dbDir := filepath.Join(root, "db")
	importFeeds(t, dbDir, "vulndb/osv/npm")

	data := filepath.Join(root, "data")
	srv := walkStartServe(t, bin, data, dbDir)
	token := adminToken(t, data)
	api := apiClient{base: srv.addr, token: token}

	for i, tc := range walkCases() {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "oci")
			start := time.Now()
			blob := walkWriteLayout(t, dir, tc.fill)
			t.Logf("layer built in %s: %d bytes gzip, %d bytes tar", time.Since(start).Round(time.Millisecond), blob.size, blob.tarSize)

			cache := t.TempDir()
			for _, mode := range []struct {
				name string
				args []string
			}{
				{"without the layer cache", []string{"--no-layer-cache"}},
				{"filling the layer cache", nil},
				{"from the layer cache", nil},
			} {
				out := filepath.Join(t.TempDir(), "sbom.json")
				args := append([]string{"sbom", "oci:" + dir, "--cache-dir", cache, "--progress=false", "-o", out}, mode.args...)
				run := walkRun(t, bin, args...)
				if run.code != 0 {
					t.Fatalf("vigil sbom %s: exit %d\n%s", mode.name, run.code, run.stderr)
				}
				t.Logf("vigil sbom %s: %s, peak RSS %d KiB", mode.name, run.took.Round(time.Millisecond), run.maxRSS)
				if run.maxRSS > walkMaxRSS {
					t.Errorf("vigil sbom %s: peak RSS %d KiB, more than %d", mode.name, run.maxRSS, walkMaxRSS)
				}
				doc := walkReadSBOM(t, out)
				walkCheckInventory(t, "vigil sbom "+mode.name, tc, doc)
				cached := len(doc.Layers) == 1 && doc.Layers[0].Cached
				if want := mode.name == "from the layer cache"; cached != want {
					t.Errorf("vigil sbom %s: layer cached %v, want %v", mode.name, cached, want)
				}
			}

			run := walkRun(t, bin, "scan", "oci:"+dir, "--cache-dir", cache, "--db-dir", dbDir, "--progress=false", "--format", "json")
			t.Logf("vigil scan: exit %d, %s, peak RSS %d KiB", run.code, run.took.Round(time.Millisecond), run.maxRSS)
			if run.code != tc.scanExit {
				t.Errorf("vigil scan: exit %d, want %d\n%s", run.code, tc.scanExit, run.stderr)
			}
			if run.maxRSS > walkMaxRSS {
				t.Errorf("vigil scan: peak RSS %d KiB, more than %d", run.maxRSS, walkMaxRSS)
			}

			repo := fmt.Sprintf("hostile/case%d", i)
			walkResetPeakOf(t, srv.cmd.Process.Pid)
			walkPush(t, srv.addr, repo+":v1", token, dir)
			status := walkAwaitScan(t, api, repo, srv)
			if status != tc.serveStatus {
				t.Errorf("vigil serve: scan status %s, want %s", status, tc.serveStatus)
			}
			hwm := walkVmHWM(t, srv.cmd.Process.Pid)
			t.Logf("vigil serve: %s, VmHWM %d KiB", status, hwm)
			limit := int64(walkMaxRSS)
			if tc.serveRSS != 0 {
				limit = tc.serveRSS
			}
			if hwm > limit {
				t.Errorf("vigil serve: peak RSS (VmHWM) %d KiB after the scan, more than %d", hwm, limit)
			}
		})
	}
}

type walkResult struct {
	code   int
	stderr string
	maxRSS int64 // KiB
	took   time.Duration
}

func walkRun(t *testing.T, bin string, args ...string) walkResult {
	t.Helper()
	cmd, peak := peakCommand(t, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	err := cmd.Run()
	r := walkResult{took: time.Since(start), stderr: stderr.String()}
	if len(r.stderr) > 4000 {
		r.stderr = r.stderr[:4000] + "…"
	}
	if cmd.ProcessState == nil {
		t.Fatalf("vigil %s: %v", args[0], err)
	}
	r.code = cmd.ProcessState.ExitCode()
	r.maxRSS = peak() >> 10
	return r
}

type walkSBOM struct {
	Layers []struct {
		Cached bool `json:"cached"`
	} `json:"layers"`
	Packages []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Path    string `json:"path"`
	} `json:"packages"`
	Warnings []struct {
		Path       string `json:"path"`
		Message    string `json:"message"`
		Incomplete string `json:"incomplete"`
	} `json:"warnings"`
}

func walkReadSBOM(t *testing.T, name string) walkSBOM {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var doc walkSBOM
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc
}

func walkCheckInventory(t *testing.T, what string, tc walkCase, doc walkSBOM) {
	t.Helper()
	if len(doc.Packages) != tc.packages {
		t.Errorf("%s: %d packages, want %d", what, len(doc.Packages), tc.packages)
	}
	paths := map[string]bool{}
	for _, p := range doc.Packages {
		paths[p.Path] = true
	}
	if len(paths) != len(doc.Packages) {
		t.Errorf("%s: %d packages at only %d paths", what, len(doc.Packages), len(paths))
	}
	if len(doc.Warnings) > 2*101 {
		t.Errorf("%s: %d warnings: not capped", what, len(doc.Warnings))
	}
	if tc.warning == "" {
		if len(doc.Warnings) != 0 {
			t.Errorf("%s: warnings %v, want none", what, doc.Warnings)
		}
		return
	}
	for _, w := range doc.Warnings {
		if len(w.Message)+len(w.Path) > 1000 {
			t.Errorf("%s: a warning of %d bytes", what, len(w.Message)+len(w.Path))
		}
		if strings.Contains(w.Message+" "+w.Path, tc.warning) && w.Incomplete == tc.incomplete {
			return
		}
	}
	t.Errorf("%s: no warning %q (incomplete %q) among %d: %.2000v", what, tc.warning, tc.incomplete, len(doc.Warnings), doc.Warnings)
}

type walkServer struct {
	cmd  *exec.Cmd
	addr string
	log  string
	done chan struct{}
}

func (s *walkServer) tail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func walkStartServe(t *testing.T, bin, data, dbDir string) *walkServer {
	t.Helper()
	addr := freeAddr(t)
	logFile := filepath.Join(t.TempDir(), "serve.log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	// The server's peak is read from its own /proc/PID/status (VmHWM
	// belongs to the memory it has since its exec), reset before each case.
	cmd := exec.Command(bin, "serve", "--data", data, "--addr", addr, "--db-dir", dbDir,
		"--cache-dir", filepath.Join(data, "..", "cache"), "--workers", "1")
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(data, ".."))
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &walkServer{cmd: cmd, addr: addr, log: logFile, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(s.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-s.done })
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		if _, err := os.Stat(filepath.Join(data, "initial-admin-token")); err == nil {
			if resp, err := walkHTTPGet("http://" + addr + "/healthz"); err == nil && resp == 200 {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("vigil serve exited\n%s", s.tail())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("vigil serve did not come up\n%s", s.tail())
	return nil
}

func walkHTTPGet(url string) (int, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func walkPush(t *testing.T, host, repoTag, token, dir string) {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "vigil", Password: token})); err != nil {
		t.Fatalf("push %s: %v", repoTag, err)
	}
}

// walkAwaitScan waits for the pushed image's scan to end and returns its
// status.
func walkAwaitScan(t *testing.T, api apiClient, repo string, srv *walkServer) string {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); {
		for _, im := range api.images(t) {
			if im.Repository != repo {
				continue
			}
			switch im.ScanStatus {
			case "", "PENDING", "SCANNING":
			default:
				if im.ScanStatus == "FAILED" {
					t.Logf("scan failed: %s", im.ScanReason)
				}
				return im.ScanStatus
			}
		}
		select {
		case <-srv.done:
			t.Fatalf("vigil serve exited\n%s", srv.tail())
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("the scan of %s did not end\n%s", repo, srv.tail())
	return ""
}

// walkResetPeakOf lowers the server's peak RSS to its current RSS, so
// that each case measures the peak of its own push and scan.
func walkResetPeakOf(t *testing.T, pid int) {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Fatalf("reset the server's peak RSS: %v", err)
	}
}

// walkVmHWM reads the peak resident set size (KiB) of a running process.
func walkVmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

// walkLayer writes one gzipped tar layer. Layers of gigabytes of tar are
// built in seconds because their long names repeat: each run of a
// repeated string is compressed once and its gzip member written again
// wherever the run occurs (a gzip stream may hold any number of members,
// read as one), and only the bytes around it are compressed each time.
type walkLayer struct {
	t       *testing.T
	out     io.Writer // the blob file, through blobSum
	blobSum hash.Hash
	blobN   int64
	tarSum  hash.Hash
	tarN    int64
	zw      *gzip.Writer
	open    bool // zw has a member in progress
	buf     bytes.Buffer
	tw      *tar.Writer
	members map[string]*walkMember
}

// walkMember is a repeated run and its gzip member.
type walkMember struct {
	raw, gz []byte
}

type walkBlob struct {
	digest, diffID string
	size, tarSize  int64
}

func (l *walkLayer) Write(p []byte) (int, error) {
	l.blobSum.Write(p)
	l.blobN += int64(len(p))
	return l.out.Write(p)
}

// entry writes a tar entry; runs are strings that occur in it many times
// across the layer.
func (l *walkLayer) entry(h *tar.Header, body string, runs ...string) {
	h.Format = tar.FormatPAX
	h.ModTime = time.Unix(1700000000, 0)
	if h.Mode == 0 {
		h.Mode = 0o644
	}
	h.Size = int64(len(body))
	if h.Typeflag != tar.TypeReg {
		h.Size = 0
	}
	if err := l.tw.WriteHeader(h); err != nil {
		l.t.Fatal(err)
	}
	if _, err := io.WriteString(l.tw, body); err != nil {
		l.t.Fatal(err)
	}
	l.flush(runs)
}

func (l *walkLayer) file(name, body string) {
	l.entry(&tar.Header{Name: name, Typeflag: tar.TypeReg}, body)
}

func (l *walkLayer) flush(runs []string) {
	b := l.buf.Bytes()
	for len(b) > 0 {
		at, run := len(b), ""
		for _, r := range runs {
			if i := bytes.Index(b, l.member(r).raw); i >= 0 && i < at {
				at, run = i, r
			}
		}
		l.plain(b[:at])
		if run == "" {
			break
		}
		l.run(run)
		b = b[at+len(run):]
	}
	l.buf.Reset()
}

func (l *walkLayer) plain(b []byte) {
	if len(b) == 0 {
		return
	}
	if !l.open {
		l.zw.Reset(l)
		l.open = true
	}
	l.tarSum.Write(b)
	l.tarN += int64(len(b))
	if _, err := l.zw.Write(b); err != nil {
		l.t.Fatal(err)
	}
}

func (l *walkLayer) run(r string) {
	if l.open {
		if err := l.zw.Close(); err != nil {
			l.t.Fatal(err)
		}
		l.open = false
	}
	m := l.member(r)
	l.tarSum.Write(m.raw)
	l.tarN += int64(len(m.raw))
	if _, err := l.Write(m.gz); err != nil {
		l.t.Fatal(err)
	}
}

func (l *walkLayer) member(r string) *walkMember {
	m, ok := l.members[r]
	if !ok {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		io.WriteString(zw, r)
		zw.Close()
		m = &walkMember{raw: []byte(r), gz: buf.Bytes()}
		l.members[r] = m
	}
	return m
}

// walkWriteLayout writes an OCI image layout at dir holding one image of
// one layer made by fill.
func walkWriteLayout(t *testing.T, dir string, fill func(*walkLayer)) walkBlob {
	t.Helper()
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "layer.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	l := &walkLayer{t: t, out: bw, blobSum: sha256.New(), tarSum: sha256.New(), members: map[string]*walkMember{}}
	l.zw, _ = gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	l.tw = tar.NewWriter(&l.buf)
	fill(l)
	if err := l.tw.Close(); err != nil {
		t.Fatal(err)
	}
	l.flush(nil)
	if l.open {
		if err := l.zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	b := walkBlob{digest: "sha256:" + hex.EncodeToString(l.blobSum.Sum(nil)), diffID: "sha256:" + hex.EncodeToString(l.tarSum.Sum(nil)),
		size: l.blobN, tarSize: l.tarN}
	if err := os.Rename(tmp, filepath.Join(blobs, strings.TrimPrefix(b.digest, "sha256:"))); err != nil {
		t.Fatal(err)
	}
	put := func(v any) (string, int) {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		d := hex.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(blobs, d), data, 0o644); err != nil {
			t.Fatal(err)
		}
		return "sha256:" + d, len(data)
	}
	cd, cs := put(map[string]any{"architecture": "amd64", "os": "linux", "config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{b.diffID}}})
	md, ms := put(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": b.digest, "size": b.size}}})
	index, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []any{map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
			"annotations": map[string]string{"org.opencontainers.image.ref.name": "latest"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}
