//go:build linux

package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/tempdir"
)

// Hostile image sources, each built here with archive/tar and
// compress/gzip, given to the real vigil binary as a child process. Every
// run is checked for its exit status and error, its peak RSS, and the
// temporary disk it used: $TMPDIR and the cache's temporary directory are
// fresh directories whose total size is sampled every 20 ms while the
// child runs, and must be empty of files when it has exited.

const (
	// srcMaxRSS bounds a child's peak resident memory.
	srcMaxRSS = 150 << 20
	// srcBombTempBound bounds the temporary disk of the 4 GiB bomb: no
	// file it holds is wanted at a size that would be spooled.
	srcBombTempBound = 64 << 20
	// srcSmallTempBound bounds the temporary disk of the small cases.
	srcSmallTempBound = 8 << 20
)

// srcRun is one finished child.
type srcRun struct {
	code     int
	stdout   string
	stderr   string
	maxRSS   int64 // bytes, from the child's rusage
	hwm      int64 // bytes, the child's VmHWM as last sampled
	peakTemp int64 // bytes
	wall     time.Duration
}

// srcEnv is the fresh directories a child runs with.
type srcEnv struct {
	home, cache, tmp string
}

func srcNewEnv(t *testing.T) srcEnv {
	t.Helper()
	d := t.TempDir()
	e := srcEnv{home: filepath.Join(d, "home"), cache: filepath.Join(d, "cache"), tmp: filepath.Join(d, "tmp")}
	for _, p := range []string{e.home, e.cache, e.tmp} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// vigilTmp is where the CLI makes its temporary directories.
func (e srcEnv) vigilTmp() string { return filepath.Join(e.cache, "vigil", "tmp") }

func (e srcEnv) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "TMPDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "VIGIL_CONFIG", "VIGIL_CACHE_DIR", "VIGIL_DB_DIR", "VIGIL_TEST_MAIN":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+e.home, "TMPDIR="+e.tmp, "XDG_CACHE_HOME="+e.cache)
}

// srcDirSize is the total size of the regular files under dirs.
func srcDirSize(dirs ...string) int64 {
	var n int64
	for _, d := range dirs {
		filepath.WalkDir(d, func(_ string, de fs.DirEntry, err error) error {
			if err == nil && de.Type().IsRegular() {
				if fi, err := de.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
	}
	return n
}

// srcFiles lists the regular files left under dirs, except lock files of
// live owners' directories (none should be left once the child is gone).
func srcFiles(dirs ...string) []string {
	var out []string
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err == nil && !de.IsDir() {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

// srcStart starts vigil with args in env, sampling its temporary disk
// every 20 ms; kill, if not nil, is called with the current sample and
// kills the child when it returns true.
func srcStart(t *testing.T, bin string, e srcEnv, kill func(temp int64) bool, args ...string) srcRun {
	t.Helper()
	cmd, peakRSS := peakCommand(t, bin, args...)
	cmd.Env = e.environ()
	cmd.Dir = e.home
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var peak, hwm atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			n := srcDirSize(e.tmp, e.vigilTmp())
			if n > peak.Load() {
				peak.Store(n)
			}
			if m := srcHWM(srcChild(cmd.Process.Pid)); m > hwm.Load() {
				hwm.Store(m)
			}
			if kill != nil && kill(n) {
				peakKill(cmd)
				kill = nil
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	close(done)
	wg.Wait()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	r := srcRun{
		stdout: stdout.String(), stderr: stderr.String(), wall: wall,
		peakTemp: peak.Load(),
		// vigil's own peak, from GNU time (see peakCommand); VmHWM,
		// sampled, is only logged.
		maxRSS: peakRSS(),
		hwm:    hwm.Load(),
	}
	r.code = cmd.ProcessState.ExitCode()
	t.Logf("vigil %s: exit %d, peak RSS %d MiB (Maxrss; VmHWM sampled %d MiB), peak temporary disk %.1f MiB, wall %v",
		strings.Join(args, " "), r.code, r.maxRSS>>20, r.hwm>>20, float64(r.peakTemp)/(1<<20), wall.Round(time.Millisecond))
	return r
}

// srcChild is the process GNU time (pid) runs, or pid before it has one.
func srcChild(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		return pid
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		if c, err := strconv.Atoi(f[0]); err == nil {
			return c
		}
	}
	return pid
}

// srcHWM reads the peak resident set size of process pid from
// /proc/PID/status, 0 if it cannot.
func srcHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// srcCheck asserts what every run must show: its exit code, every part
// in its standard error, memory and temporary disk within bounds, and no
// temporary file left.
func srcCheck(t *testing.T, e srcEnv, r srcRun, code int, tempBound int64, parts ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d\nstderr: %s", r.code, code, r.stderr)
	}
	for _, p := range parts {
		if !strings.Contains(r.stderr, p) {
			t.Errorf("stderr does not mention %q:\n%s", p, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("the child panicked:\n%s", r.stderr)
	}
	if r.maxRSS > srcMaxRSS {
		t.Errorf("peak RSS %d MiB, over %d MiB", r.maxRSS>>20, srcMaxRSS>>20)
	}
	if r.peakTemp > tempBound {
		t.Errorf("peak temporary disk %d bytes, over %d", r.peakTemp, tempBound)
	}
	if left := srcFiles(e.tmp, e.vigilTmp()); len(left) > 0 {
		t.Errorf("temporary files left behind: %q", left)
	}
}

// srcZeros reads as endless zero bytes.
type srcZeros struct{}

func (srcZeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// srcFile is one file of a layer built here; content, when not nil,
// overrides size zero bytes.
type srcFile struct {
	name    string
	size    int64
	content []byte
	link    string // a symbolic link target
}

// srcTarSize is the size of the tar archive of files, written as
// srcWriteLayer writes it.
func srcTarSize(files []srcFile) int64 {
	n := int64(1024)
	for _, f := range files {
		n += 512
		if f.link == "" {
			n += (f.fileSize() + 511) &^ 511
		}
	}
	return n
}

func (f srcFile) fileSize() int64 {
	if f.content != nil {
		return int64(len(f.content))
	}
	return f.size
}

// srcWriteLayer writes the layer tar of files to w.
func srcWriteLayer(w io.Writer, files []srcFile) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: 0o644, Size: f.fileSize(), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR, ModTime: time.Unix(1700000000, 0)}
		if f.link != "" {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeSymlink, f.link, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if f.link != "" {
			continue
		}
		var src io.Reader = io.LimitReader(srcZeros{}, f.size)
		if f.content != nil {
			src = bytes.NewReader(f.content)
		}
		if _, err := io.Copy(tw, src); err != nil {
			return err
		}
	}
	return tw.Close()
}

// srcAlpineFiles is a small Alpine root: a release file and an installed
// database of one package, which the sbom must list.
func srcAlpineFiles() []srcFile {
	return []srcFile{
		{name: "etc/os-release", content: []byte("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n")},
		{name: "lib/apk/db/installed", content: []byte("P:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\n\n")},
	}
}

func srcSHA(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func srcConfig(diffIDs ...string) []byte {
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	return cfg
}

// srcTar writes the entries of an outer archive (a docker save or an OCI
// archive) to w; an entry's body may be streamed by write.
type srcEntry struct {
	name  string
	size  int64
	data  []byte
	write func(io.Writer) error
}

func srcWriteTar(w io.Writer, entries []srcEntry) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		size := e.size
		if e.write == nil {
			size = int64(len(e.data))
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}); err != nil {
			return err
		}
		var err error
		if e.write != nil {
			err = e.write(tw)
		} else {
			_, err = tw.Write(e.data)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
	}
	return tw.Close()
}

// srcDockerArchive writes a docker save archive (gzip-compressed when the
// name ends in .gz) of one image whose one layer holds files, stored as
// layerName. The layer is streamed into the archive and hashed as it goes,
// so that a layer of GiBs costs no memory; the config and manifest.json
// follow it, as the diff-id is known only then.
func srcDockerArchive(t *testing.T, file, layerName string, files []srcFile) {
	t.Helper()
	out, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	var w io.Writer = out
	var zw *gzip.Writer
	if strings.HasSuffix(file, ".gz") {
		zw, _ = gzip.NewWriterLevel(out, gzip.BestSpeed)
		w = zw
	}
	diff := sha256.New()
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Name: layerName, Mode: 0o644, Size: srcTarSize(files), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := srcWriteLayer(io.MultiWriter(tw, diff), files); err != nil {
		t.Fatal(err)
	}
	diffID := "sha256:" + hex.EncodeToString(diff.Sum(nil))
	cfg := srcConfig(diffID)
	cfgName := strings.TrimPrefix(srcSHA(cfg), "sha256:") + ".json"
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"vigil/hostile:1"}, "Layers": []string{layerName}}})
	for _, e := range []srcEntry{{name: cfgName, data: cfg}, {name: "manifest.json", data: manifest}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// srcLayout is an OCI image layout built here.
type srcLayout struct {
	dir                      string
	layer, config, manifest  string // digests
	layerBytes               []byte
	layerPath, manifestPath  string
	configPath               string
	layerMediaType           string
	configBytes, manifestRaw []byte
}

// srcMakeLayout writes an OCI layout of one image with one layer of files,
// gzip-compressed if gz, into dir.
func srcMakeLayout(t *testing.T, dir string, files []srcFile, gz bool) srcLayout {
	t.Helper()
	var plain bytes.Buffer
	if err := srcWriteLayer(&plain, files); err != nil {
		t.Fatal(err)
	}
	l := srcLayout{dir: dir, layerBytes: plain.Bytes(), layerMediaType: "application/vnd.oci.image.layer.v1.tar"}
	if gz {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(plain.Bytes())
		zw.Close()
		l.layerBytes, l.layerMediaType = z.Bytes(), "application/vnd.oci.image.layer.v1.tar+gzip"
	}
	l.configBytes = srcConfig(srcSHA(plain.Bytes()))
	l.layer, l.config = srcSHA(l.layerBytes), srcSHA(l.configBytes)
	l.manifestRaw, _ = json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": l.config, "size": len(l.configBytes)},
		"layers":        []any{map[string]any{"mediaType": l.layerMediaType, "digest": l.layer, "size": len(l.layerBytes)}},
	})
	l.manifest = srcSHA(l.manifestRaw)
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": l.manifest, "size": len(l.manifestRaw),
			"annotations": map[string]string{"org.opencontainers.image.ref.name": "latest"},
		}},
	})
	blob := func(d string) string { return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")) }
	l.layerPath, l.configPath, l.manifestPath = blob(l.layer), blob(l.config), blob(l.manifest)
	srcWrite(t, filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`))
	srcWrite(t, filepath.Join(dir, "index.json"), index)
	srcWrite(t, l.layerPath, l.layerBytes)
	srcWrite(t, l.configPath, l.configBytes)
	srcWrite(t, l.manifestPath, l.manifestRaw)
	return l
}

func srcWrite(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// srcOCIArchive writes the layout l as an OCI archive (a tar of it).
func srcOCIArchive(t *testing.T, file string, l srcLayout) {
	t.Helper()
	var entries []srcEntry
	filepath.WalkDir(l.dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(l.dir, p)
		entries = append(entries, srcEntry{name: filepath.ToSlash(rel), data: data})
		return nil
	})
	var b bytes.Buffer
	if err := srcWriteTar(&b, entries); err != nil {
		t.Fatal(err)
	}
	srcWrite(t, file, b.Bytes())
}

func srcShort(d string) string { return d[:19] }

// TestSrcHostileSources runs vigil sbom and scan on hostile image sources.
func TestSrcHostileSources(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 4 GiB archive")
	}
	bin := buildVigil(t)
	sbom := func(t *testing.T, e srcEnv, src string) srcRun {
		return srcStart(t, bin, e, nil, "sbom", "--no-layer-cache", "--progress=false", src)
	}

	t.Run("good layout", func(t *testing.T) {
		// The baseline the corrupt cases differ from: it reads cleanly.
		e := srcNewEnv(t)
		l := srcMakeLayout(t, filepath.Join(t.TempDir(), "layout"), srcAlpineFiles(), true)
		r := sbom(t, e, "oci:"+l.dir)
		srcCheck(t, e, r, 0, srcSmallTempBound)
		if !strings.Contains(r.stdout, `"musl"`) {
			t.Errorf("sbom does not list musl:\n%s", r.stdout)
		}
	})

	t.Run("bomb", func(t *testing.T) {
		// 4 GiB of zeros in a few MiB of gzip, as a docker save archive:
		// the archive is streamed, not expanded to disk, and the huge
		// dpkg status file, which the dpkg cataloger would refuse, is
		// not spooled either.
		e := srcNewEnv(t)
		file := filepath.Join(t.TempDir(), "bomb.tar.gz")
		files := append(srcAlpineFiles(), srcFile{name: "var/lib/dpkg/status", size: 4<<30 - 4096})
		srcDockerArchive(t, file, "0123abcd/layer.tar", files)
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("bomb: %.1f MiB compressed, %d bytes of layer", float64(fi.Size())/(1<<20), srcTarSize(files))
		if fi.Size() > 8<<20 {
			t.Fatalf("the bomb is %d bytes compressed, want a few MiB", fi.Size())
		}
		r := sbom(t, e, "archive:"+file)
		srcCheck(t, e, r, 0, srcBombTempBound, "/var/lib/dpkg/status", "file too large")
		if !strings.Contains(r.stdout, `"musl"`) {
			t.Errorf("sbom does not list musl:\n%s", r.stdout)
		}
	})

	t.Run("layout blob with other content of the same size", func(t *testing.T) {
		e := srcNewEnv(t)
		l := srcMakeLayout(t, filepath.Join(t.TempDir(), "layout"), srcAlpineFiles(), false)
		// Another valid layer, padded to the same size: only the digest
		// tells it from the real one.
		other := srcAlpineFiles()
		other[1].content = bytes.Replace(other[1].content, []byte("1.2.5-r0"), []byte("9.9.9-r9"), 1)
		var b bytes.Buffer
		srcWriteLayer(&b, other)
		if b.Len() != len(l.layerBytes) {
			t.Fatalf("forged layer %d bytes, real %d", b.Len(), len(l.layerBytes))
		}
		srcWrite(t, l.layerPath, b.Bytes())
		r := sbom(t, e, "oci:"+l.dir)
		srcCheck(t, e, r, 1, srcSmallTempBound, l.layer, l.layerPath, "content has digest "+srcSHA(b.Bytes()))
		if strings.Contains(r.stdout, "9.9.9") {
			t.Errorf("the forged layer's package was reported:\n%s", r.stdout)
		}
	})

	t.Run("config blob with other content of the same size", func(t *testing.T) {
		e := srcNewEnv(t)
		l := srcMakeLayout(t, filepath.Join(t.TempDir(), "layout"), srcAlpineFiles(), true)
		srcWrite(t, l.configPath, bytes.Replace(l.configBytes, []byte("amd64"), []byte("arm64"), 1))
		r := sbom(t, e, "oci:"+l.dir)
		srcCheck(t, e, r, 1, srcSmallTempBound, "config "+l.config, l.configPath, "content has digest")
	})

	t.Run("oci archive blob with other content of the same size", func(t *testing.T) {
		e := srcNewEnv(t)
		l := srcMakeLayout(t, filepath.Join(t.TempDir(), "layout"), srcAlpineFiles(), false)
		forged := bytes.Clone(l.layerBytes)
		i := bytes.Index(forged, []byte("1.2.5-r0"))
		copy(forged[i:], "1.2.6-r0")
		srcWrite(t, l.layerPath, forged)
		file := filepath.Join(t.TempDir(), "oci.tar")
		srcOCIArchive(t, file, l)
		r := sbom(t, e, "archive:"+file)
		srcCheck(t, e, r, 1, srcSmallTempBound, l.layer, "blobs/sha256/"+strings.TrimPrefix(l.layer, "sha256:")+" in "+file, "content has digest")
	})

	t.Run("truncated layer", func(t *testing.T) {
		e := srcNewEnv(t)
		l := srcMakeLayout(t, filepath.Join(t.TempDir(), "layout"), srcAlpineFiles(), true)
		srcWrite(t, l.layerPath, l.layerBytes[:len(l.layerBytes)/2])
		r := sbom(t, e, "oci:"+l.dir)
		srcCheck(t, e, r, 1, srcSmallTempBound, l.layer, l.layerPath, "truncated", strconv.Itoa(len(l.layerBytes)))
	})

	t.Run("truncated archive", func(t *testing.T) {
		e := srcNewEnv(t)
		full := filepath.Join(t.TempDir(), "full.tar.gz")
		srcDockerArchive(t, full, "0123abcd/layer.tar", append(srcAlpineFiles(), srcFile{name: "usr/share/big", size: 8 << 20}))
		data, err := os.ReadFile(full)
		if err != nil {
			t.Fatal(err)
		}
		cut := filepath.Join(t.TempDir(), "cut.tar.gz")
		srcWrite(t, cut, data[:len(data)/2])
		r := sbom(t, e, "archive:"+cut)
		srcCheck(t, e, r, 1, srcSmallTempBound, cut, "unexpected EOF")
	})

	t.Run("corrupt gzip archive", func(t *testing.T) {
		e := srcNewEnv(t)
		file := filepath.Join(t.TempDir(), "corrupt.tar.gz")
		srcDockerArchive(t, file, "0123abcd/layer.tar", append(srcAlpineFiles(), srcFile{name: "usr/share/big", size: 8 << 20}))
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(data) / 2; i < len(data)/2+64; i++ {
			data[i] ^= 0x5a
		}
		srcWrite(t, file, data)
		r := sbom(t, e, "archive:"+file)
		srcCheck(t, e, r, 1, srcSmallTempBound, file, "decompress archive")
	})

	t.Run("corrupt gzip layer", func(t *testing.T) {
		e := srcNewEnv(t)
		l := srcMakeLayout(t, filepath.Join(t.TempDir(), "layout"), srcAlpineFiles(), true)
		bad := bytes.Clone(l.layerBytes)
		for i := 20; i < len(bad)-8; i++ {
			bad[i] ^= 0xff
		}
		srcWrite(t, l.layerPath, bad)
		r := sbom(t, e, "oci:"+l.dir)
		srcCheck(t, e, r, 1, srcSmallTempBound, "layer 0 ("+srcShort(l.layer))
	})

	t.Run("manifest pointing to a missing blob", func(t *testing.T) {
		e := srcNewEnv(t)
		l := srcMakeLayout(t, filepath.Join(t.TempDir(), "layout"), srcAlpineFiles(), true)
		if err := os.Remove(l.layerPath); err != nil {
			t.Fatal(err)
		}
		r := sbom(t, e, "oci:"+l.dir)
		srcCheck(t, e, r, 1, srcSmallTempBound, "layer 0", l.layer, l.layerPath, "missing")
	})

	t.Run("malformed index.json", func(t *testing.T) {
		e := srcNewEnv(t)
		l := srcMakeLayout(t, filepath.Join(t.TempDir(), "layout"), srcAlpineFiles(), true)
		srcWrite(t, filepath.Join(l.dir, "index.json"), []byte(`{"schemaVersion":2,"manifests":[{"digest":`))
		r := sbom(t, e, "oci:"+l.dir)
		srcCheck(t, e, r, 1, srcSmallTempBound, "oci:"+l.dir, "index.json")
	})

	t.Run("malformed manifest.json", func(t *testing.T) {
		e := srcNewEnv(t)
		file := filepath.Join(t.TempDir(), "bad.tar")
		var b bytes.Buffer
		srcWriteTar(&b, []srcEntry{{name: "manifest.json", data: []byte(`[{"Config": 7}`)}})
		srcWrite(t, file, b.Bytes())
		r := sbom(t, e, "archive:"+file)
		srcCheck(t, e, r, 1, srcSmallTempBound, file, "manifest.json")
	})

	t.Run("path traversal names", func(t *testing.T) {
		// The archive names its layer "../../etc/x" and the layer holds
		// entries that climb out of its root: both are read inside what
		// they belong to, and nothing is written anywhere outside.
		e := srcNewEnv(t)
		work := filepath.Join(t.TempDir(), "a", "b")
		file := filepath.Join(work, "traversal.tar")
		files := append(srcAlpineFiles(),
			srcFile{name: "../../etc/x", content: []byte("climbed\n")},
			srcFile{name: "../../../../../../tmp/vigil-climbed", content: []byte("climbed\n")},
			srcFile{name: "usr/lib/escape", link: "../../../../../../etc/passwd"},
		)
		if err := os.MkdirAll(work, 0o755); err != nil {
			t.Fatal(err)
		}
		srcDockerArchive(t, file, "../../etc/x", files)
		r := sbom(t, e, "archive:"+file)
		srcCheck(t, e, r, 0, srcSmallTempBound, "climbs out of the layer root")
		if !strings.Contains(r.stdout, `"musl"`) {
			t.Errorf("sbom does not list musl:\n%s", r.stdout)
		}
		for _, p := range []string{filepath.Join(work, "..", "..", "etc", "x"), filepath.Join(e.home, "..", "..", "etc", "x"), "/tmp/vigil-climbed"} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("%s was written", p)
			}
		}
	})

	t.Run("symlinked blob pointing outside the layout", func(t *testing.T) {
		e := srcNewEnv(t)
		l := srcMakeLayout(t, filepath.Join(t.TempDir(), "layout"), srcAlpineFiles(), true)
		// The same bytes outside the layout: only where they are read
		// from is wrong.
		outside := filepath.Join(t.TempDir(), "outside-blob")
		srcWrite(t, outside, l.layerBytes)
		if err := os.Remove(l.layerPath); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, l.layerPath); err != nil {
			t.Fatal(err)
		}
		r := sbom(t, e, "oci:"+l.dir)
		srcCheck(t, e, r, 1, srcSmallTempBound, l.layer, l.layerPath, "escapes")
	})

	t.Run("scan fails on a forged blob", func(t *testing.T) {
		// vigil scan, with a real database, fails on a forged blob with
		// the same error as sbom, never reporting the image clean.
		e := srcNewEnv(t)
		db := t.TempDir()
		importFeeds(t, db, "vulndb/alpine-secdb")
		l := srcMakeLayout(t, filepath.Join(t.TempDir(), "layout"), srcAlpineFiles(), false)
		forged := bytes.Clone(l.layerBytes)
		i := bytes.Index(forged, []byte("1.2.5-r0"))
		copy(forged[i:], "1.2.6-r0")
		srcWrite(t, l.layerPath, forged)
		r := srcStart(t, bin, e, nil, "scan", "--no-layer-cache", "--progress=false", "--db-dir", db, "oci:"+l.dir)
		if r.code == 0 {
			t.Fatalf("scan of a forged blob succeeded:\n%s", r.stdout)
		}
		srcCheck(t, e, r, r.code, srcSmallTempBound, l.layer, l.layerPath, "content has digest")
	})

	t.Run("kill -9 during a large spool, then the next run sweeps", func(t *testing.T) {
		e := srcNewEnv(t)
		// A 2 GiB jar (zeros) is wanted by the java cataloger, which
		// reads archives of any size: it is spooled to disk.
		file := filepath.Join(t.TempDir(), "spool.tar.gz")
		srcDockerArchive(t, file, "0123abcd/layer.tar", append(srcAlpineFiles(), srcFile{name: "opt/app/app.jar", size: 2 << 30}))
		r := srcStart(t, bin, e, func(temp int64) bool { return temp > 32<<20 }, "sbom", "--no-layer-cache", "--progress=false", "archive:"+file)
		if r.code != -1 {
			t.Fatalf("the child was not killed (exit %d): %s", r.code, r.stderr)
		}
		stale, err := filepath.Glob(filepath.Join(e.vigilTmp(), tempdir.Prefix+"*"))
		if err != nil || len(stale) != 1 {
			t.Fatalf("stale directories %q (%v), want the killed child's one", stale, err)
		}
		if n := srcDirSize(stale[0]); n < 32<<20 {
			t.Fatalf("the killed child left %d bytes, expected its partial spool", n)
		}
		// A live owner's directory beside it must survive the sweep.
		live, _, err := tempdir.Create(e.vigilTmp())
		if err != nil {
			t.Fatal(err)
		}
		srcWrite(t, filepath.Join(live.Path(), "keep"), []byte("x"))
		good := srcMakeLayout(t, filepath.Join(t.TempDir(), "layout"), srcAlpineFiles(), true)
		r = srcStart(t, bin, e, nil, "sbom", "--no-layer-cache", "--progress=false", "oci:"+good.dir)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if _, err := os.Stat(stale[0]); !os.IsNotExist(err) {
			t.Errorf("the killed child's directory %s was not swept (%v)", stale[0], err)
		}
		if _, err := os.Stat(filepath.Join(live.Path(), "keep")); err != nil {
			t.Errorf("a live owner's directory was swept: %v", err)
		}
		live.Close()
		if left := srcFiles(e.tmp, e.vigilTmp()); len(left) > 0 {
			t.Errorf("temporary files left behind: %q", left)
		}
	})

	t.Run("tempDir of the configuration file", func(t *testing.T) {
		// With tempDir configured, that is the root swept and used.
		e := srcNewEnv(t)
		root := filepath.Join(t.TempDir(), "configured")
		stale := filepath.Join(root, tempdir.Prefix+"999999-1")
		srcWrite(t, filepath.Join(stale, ".lock"), nil)
		conf := filepath.Join(t.TempDir(), "config.yaml")
		srcWrite(t, conf, []byte("tempDir: "+root+"\n"))
		l := srcMakeLayout(t, filepath.Join(t.TempDir(), "layout"), srcAlpineFiles(), true)
		r := srcStart(t, bin, e, nil, "sbom", "--config", conf, "--no-layer-cache", "--progress=false", "oci:"+l.dir)
		srcCheck(t, e, r, 0, srcSmallTempBound)
		if _, err := os.Stat(stale); !os.IsNotExist(err) {
			t.Errorf("%s not swept: the configured tempDir was not used (%v)", stale, err)
		}
		if left := srcFiles(root); len(left) > 0 {
			t.Errorf("left in the configured tempDir: %q", left)
		}
	})

	t.Run("unusable cache directory", func(t *testing.T) {
		// The cache directory is a file: the scan still runs, its
		// temporary directory made under $TMPDIR instead and removed.
		e := srcNewEnv(t)
		e.cache = filepath.Join(t.TempDir(), "not-a-directory")
		srcWrite(t, e.cache, []byte("x"))
		l := srcMakeLayout(t, filepath.Join(t.TempDir(), "layout"), srcAlpineFiles(), true)
		r := sbom(t, e, "oci:"+l.dir)
		srcCheck(t, e, r, 0, srcSmallTempBound, "using the system's")
		if !strings.Contains(r.stdout, `"musl"`) {
			t.Errorf("sbom does not list musl:\n%s", r.stdout)
		}
	})

	t.Run("serve sweeps its data directory's temporary directories", func(t *testing.T) {
		e := srcNewEnv(t)
		data := filepath.Join(t.TempDir(), "data")
		// What a killed server left: a directory whose lock nobody holds.
		stale := filepath.Join(data, "tmp", tempdir.Prefix+"999999-1")
		srcWrite(t, filepath.Join(stale, ".lock"), nil)
		srcWrite(t, filepath.Join(stale, "vigil-analyze-1", "file-1"), bytes.Repeat([]byte{1}, 1<<20))
		addr := freeAddr(t)
		cmd := exec.Command(bin, "serve", "--data", data, "--addr", addr, "--db-dir", t.TempDir())
		cmd.Env = e.environ()
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		own := filepath.Join(data, "tmp", tempdir.Prefix+strconv.Itoa(cmd.Process.Pid)+"-*")
		var mine []string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && len(mine) == 0; time.Sleep(20 * time.Millisecond) {
			mine, _ = filepath.Glob(own)
		}
		if len(mine) != 1 {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("vigil serve made no temporary directory %s:\n%s", own, stderr.String())
		}
		if _, err := os.Stat(stale); !os.IsNotExist(err) {
			t.Errorf("vigil serve did not sweep %s (%v)", stale, err)
		}
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("vigil serve: %v\n%s", err, stderr.String())
		}
		if _, err := os.Stat(mine[0]); !os.IsNotExist(err) {
			t.Errorf("vigil serve left its temporary directory %s (%v)", mine[0], err)
		}
	})
}
