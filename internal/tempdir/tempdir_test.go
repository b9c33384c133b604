package tempdir

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.ProcessState.Pid()
}

func TestSweep(t *testing.T) {
	root := t.TempDir()
	live, _, err := Create(root)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	mk := func(name string, lockFile bool, age time.Duration) string {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Join(p, "vigil-analyze-1"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "vigil-analyze-1", "file-1"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if lockFile {
			if err := os.WriteFile(filepath.Join(p, lockName), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dead := strconv.Itoa(deadPID(t))
	unlockedDead := mk(Prefix+dead+"-1", true, 0)                             // lock file nobody holds: its owner died
	noLockOld := mk(Prefix+dead+"-2", false, time.Hour)                       // died before locking
	noLockNew := mk(Prefix+dead+"-3", false, 0)                               // may be being made right now
	noLockLive := mk(Prefix+strconv.Itoa(os.Getpid())+"-4", false, time.Hour) // owner alive
	other := mk("vigil-cache-keep", true, time.Hour)                          // not ours

	swept, err := Sweep(root)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(swept)
	want := []string{unlockedDead, noLockOld}
	slices.Sort(want)
	if !slices.Equal(swept, want) {
		t.Errorf("swept %v, want %v", swept, want)
	}
	for _, p := range []string{live.Path(), noLockNew, noLockLive, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	for _, p := range want {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", p, err)
		}
	}
}

func TestCreateSweepsAndCloseRemoves(t *testing.T) {
	root := filepath.Join(t.TempDir(), "tmp")
	a, _, err := Create(root)
	if err != nil {
		t.Fatal(err)
	}
	// A second owner in the same root leaves a live first one alone.
	b, swept, err := Create(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(swept) != 0 {
		t.Errorf("second Create swept %v while its owner lives", swept)
	}
	if a.Path() == b.Path() {
		t.Fatal("two owners share a directory")
	}
	fi, err := os.Stat(root)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("root mode %v, want 0700", fi.Mode().Perm())
	}
	for _, d := range []*Dir{a, b} {
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(d.Path()); !os.IsNotExist(err) {
			t.Errorf("%s left after Close (%v)", d.Path(), err)
		}
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
