// Package testenv finds the real data that Vigil's tests run on: the shared
// test data beside the repository (../shared/testdata) and the OCI image
// layouts that ../shared/scripts/build-test-images.sh builds.
//
// Tests that need data which is absent fail when VIGIL_REQUIRE_TESTDATA is
// set (as scripts/test and CI set it) and are skipped otherwise, so that a
// checkout without the shared data can still run its unit tests.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Root returns the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Shared returns the path of rel inside the shared test data directory:
// $VIGIL_TESTDATA, or ../shared/testdata beside the repository.
func Shared(t testing.TB, rel string) string {
	t.Helper()
	dir := os.Getenv("VIGIL_TESTDATA")
	if dir == "" {
		dir = filepath.Join(Root(), "..", "shared", "testdata")
	}
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		missing(t, "shared test data "+p+" (set VIGIL_TESTDATA)")
	}
	return p
}

// Image returns the OCI layout directory of a built test image, such as
// "debian-bullseye-app": $VIGIL_TESTIMAGES/<name>, by default
// .testimages/<name> in the repository.
func Image(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("VIGIL_TESTIMAGES")
	if dir == "" {
		dir = filepath.Join(Root(), ".testimages")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(filepath.Join(p, ".complete")); err != nil {
		missing(t, "test image "+p+" (build it with ../shared/scripts/build-test-images.sh, or set VIGIL_TESTIMAGES)")
	}
	return p
}

func missing(t testing.TB, what string) {
	t.Helper()
	Missing(t, what)
}

// Required reports whether every real-data test must run
// (VIGIL_REQUIRE_TESTDATA is set, as scripts/test and CI set it).
func Required() bool { return os.Getenv("VIGIL_REQUIRE_TESTDATA") != "" }

// Missing fails the test when every real-data test must run, and skips it
// otherwise: what names the data, tool or library that is absent and how
// to install it.
func Missing(t testing.TB, what string) {
	t.Helper()
	if Required() {
		t.Fatalf("missing %s", what)
	}
	t.Skipf("missing %s", what)
}

// Tool returns the path of an executable the test needs as a reference
// (dpkg-query, umoci, rpm, python3, …), skipping or failing like the data
// helpers when it is not installed.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil && name == "go" {
		if _, serr := os.Stat("/usr/local/go/bin/go"); serr == nil {
			return "/usr/local/go/bin/go"
		}
	}
	if err != nil {
		missing(t, "tool "+name+" (install it to run this test)")
	}
	return p
}
