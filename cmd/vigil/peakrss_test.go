package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// buildVigil builds the vigil binary for a test, without the race
// detector the tests may run under, so that its memory is what users get.
func buildVigil(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vigil")
	cmd := exec.Command(testenv.Tool(t, "go"), "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// peakCommand is bin with args run under GNU time, which reports the peak
// resident set size of bin alone. The child's own rusage would not do:
// Linux charges a child, at exec, with the high-water mark of the memory
// it shared with this test process until then (Go starts children with
// vfork), so Maxrss would be at least this test's own RSS — and the test
// process, having run other tests, may hold more than the bound measured.
// time is small, so the high-water mark vigil inherits from it is too.
//
// The command runs in a process group of its own: kill it with
// peakKill, which reaches vigil as well as time. peak reads the figure
// (bytes) once the command has been waited for: 0 after peakKill.
func peakCommand(t *testing.T, bin string, args ...string) (cmd *exec.Cmd, peak func() int64) {
	t.Helper()
	tm := testenv.Tool(t, "/usr/bin/time") // Debian: time
	out := filepath.Join(t.TempDir(), "peak-rss")
	cmd = exec.Command(tm, append([]string{"-f", "%M", "-o", out, "--", bin}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd, func() int64 {
		t.Helper()
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatalf("peak RSS of %s: %v", filepath.Base(bin), err)
		}
		// After a signal, time writes a line saying so before the figure;
		// killed itself (peakKill), it writes nothing.
		lines := strings.Fields(strings.TrimSpace(string(b)))
		if len(lines) == 0 {
			return 0
		}
		kib, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
		if err != nil {
			t.Fatalf("peak RSS of %s: %q: %v", filepath.Base(bin), b, err)
		}
		return kib << 10
	}
}

// peakKill kills a command started by peakCommand, vigil included.
func peakKill(cmd *exec.Cmd) {
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
