// Package tempdir gives a process its own temporary directory under a root
// that Vigil owns (the server's data directory, the CLI's per-user cache
// directory), and removes the ones that crashed processes left behind.
//
// A directory is named "vigil-tmp-<pid>-<random>" so that it is
// recognisable and says whose it is, and holds a lock file that its owner
// keeps locked (flock) for as long as it lives. The kernel drops the lock
// when the process dies, however it dies (kill -9 included), so a later
// Sweep can tell a dead owner's directory from a live one's without
// trusting a PID that may have been reused.
package tempdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Prefix starts the name of every directory this package makes.
const Prefix = "vigil-tmp-"

// lockName is the lock file inside each directory.
const lockName = ".lock"

// unlockedGrace is how long a directory without its lock file is left
// alone: its owner may be between making it and locking it.
const unlockedGrace = time.Minute

// Dir is a process's temporary directory. Its owner holds its lock until
// Close, which removes it.
type Dir struct {
	path string
	lock *os.File
}

// Create sweeps root of directories whose owners are gone, then makes
// and locks a new directory for this process. root is created if needed
// (mode 0700: temporary files hold image contents).
func Create(root string) (*Dir, []string, error) {
	if root == "" {
		return nil, nil, errors.New("tempdir: empty root")
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, nil, fmt.Errorf("tempdir: %w", err)
	}
	swept, err := Sweep(root)
	if err != nil {
		return nil, swept, err
	}
	p, err := os.MkdirTemp(root, Prefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, swept, fmt.Errorf("tempdir: %w", err)
	}
	// The lock file is locked under another name and then renamed, so
	// that a sweep never finds it unlocked while its owner lives (the
	// flock is on the file, which the rename keeps).
	fresh := filepath.Join(p, lockName+".new")
	lf, err := os.OpenFile(fresh, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err == nil {
		if err = lock(lf); err == nil {
			err = os.Rename(fresh, filepath.Join(p, lockName))
		}
		if err != nil {
			lf.Close()
		}
	}
	if err != nil {
		os.RemoveAll(p)
		return nil, swept, fmt.Errorf("tempdir: lock %s: %w", p, err)
	}
	return &Dir{path: p, lock: lf}, swept, nil
}

// Path is the directory's path.
func (d *Dir) Path() string { return d.path }

// Close removes the directory and everything in it.
func (d *Dir) Close() error {
	if d == nil || d.lock == nil {
		return nil
	}
	err := os.RemoveAll(d.path)
	d.lock.Close()
	d.lock = nil
	if err != nil {
		return fmt.Errorf("tempdir: %w", err)
	}
	return nil
}

// Sweep removes the directories under root that this package made for
// processes that are gone, and returns their paths. A directory is
// removed only when its lock can be taken, which no live owner allows;
// one without a lock file (its owner died between making and locking it)
// only when the PID in its name is not running and it is older than a
// minute. Anything else under root is left alone.
func Sweep(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tempdir: sweep: %w", err)
	}
	var swept []string
	var errs []error
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), Prefix) {
			continue
		}
		p := filepath.Join(root, e.Name())
		stale, err := isStale(p, e.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !stale {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
			continue
		}
		swept = append(swept, p)
	}
	if err := errors.Join(errs...); err != nil {
		return swept, fmt.Errorf("tempdir: sweep %s: %w", root, err)
	}
	return swept, nil
}

func isStale(p, name string) (bool, error) {
	lf, err := os.OpenFile(filepath.Join(p, lockName), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		fi, err := os.Stat(p)
		if err != nil {
			return false, err
		}
		return time.Since(fi.ModTime()) > unlockedGrace && !running(ownerPID(name)), nil
	}
	if err != nil {
		return false, err
	}
	defer lf.Close()
	// The lock is held only for as long as it takes to remove the
	// directory: closing the file (deferred) releases it.
	if err := tryLock(lf); err != nil {
		if errors.Is(err, errLocked) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// ownerPID reads the PID from "vigil-tmp-<pid>-<random>"; 0 if there is
// none.
func ownerPID(name string) int {
	rest := strings.TrimPrefix(name, Prefix)
	pid, _, _ := strings.Cut(rest, "-")
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}
