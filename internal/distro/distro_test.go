package distro

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testenv"
)

// osReleaseKeys are the variables Detect reads from os-release.
var osReleaseKeys = []string{"ID", "VERSION_ID", "VERSION_CODENAME", "NAME", "PRETTY_NAME", "ID_LIKE"}

// shSource sources file with sh, which is how os-release is meant to be
// read, and returns the values of keys as sh sees them.
func shSource(t *testing.T, file string, keys []string) map[string]string {
	t.Helper()
	script := `. "$1"`
	for _, k := range keys {
		script += `; printf '%s\0' "$` + k + `"`
	}
	// env -i: variables of the test's own environment must not leak in
	// for keys the file does not set.
	out, err := exec.Command("env", "-i", "sh", "-c", script, "sh", file).Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	vals := strings.Split(string(out), "\x00")
	if len(vals) != len(keys)+1 {
		t.Fatalf("sh printed %d values for %d keys", len(vals)-1, len(keys))
	}
	m := map[string]string{}
	for i, k := range keys {
		m[k] = vals[i]
	}
	return m
}

// roots lists the real roots under shared/testdata/os.
func roots(t *testing.T) []string {
	t.Helper()
	dir := testenv.Shared(t, "os")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	if len(out) < 7 {
		t.Fatalf("only %d roots in %s", len(out), dir)
	}
	return out
}

// reader reads files of a root on disk, offering only the paths in only
// (all when only is empty). os.ReadFile follows Debian's etc/os-release
// symlink, as the caller of Detect must.
func reader(root string, only ...string) func(string) ([]byte, bool) {
	return func(p string) ([]byte, bool) {
		if len(only) > 0 && !contains(only, p) {
			return nil, false
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		return b, err == nil
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestRealOSRelease checks the parser and Detect against sh on every real
// os-release file.
func TestRealOSRelease(t *testing.T) {
	for _, root := range roots(t) {
		t.Run(filepath.Base(root), func(t *testing.T) {
			n := 0
			for _, p := range []string{etcOSRelease, usrOSRelease} {
				file := filepath.Join(root, p)
				data, err := os.ReadFile(file)
				if err != nil {
					continue
				}
				want := shSource(t, file, osReleaseKeys)
				vars, err := ParseOSRelease(data)
				if want["ID"] == "" {
					// The shared data keeps Debian's etc/os-release
					// symlink as a regular file holding its target,
					// "../usr/lib/os-release": not an os-release file.
					// The parser must say so, and Detect pass it over
					// (checked below with usr/lib/os-release).
					t.Logf("%s is not an os-release file: %q", p, data)
					if err == nil || vars["ID"] != "" {
						t.Errorf("%s: parsed as %v, %v", p, vars, err)
					}
					continue
				}
				n++
				if err != nil {
					t.Errorf("%s: %v", p, err)
				}
				for _, k := range osReleaseKeys {
					if vars[k] != want[k] {
						t.Errorf("%s: %s = %q, sh says %q", p, k, vars[k], want[k])
					}
				}
				// Detect with only this file, and with it first.
				for _, read := range []func(string) ([]byte, bool){reader(root, p), reader(root)} {
					d := Detect(read)
					if d == nil {
						t.Fatalf("%s: nothing detected", p)
					}
					wantD := inventory.Distro{
						ID: want["ID"], VersionID: want["VERSION_ID"], Codename: want["VERSION_CODENAME"],
						Name: want["NAME"], PrettyName: want["PRETTY_NAME"], IDLike: strings.Fields(want["ID_LIKE"]),
						Source: d.Source,
					}
					if !reflect.DeepEqual(*d, wantD) {
						t.Errorf("%s: Detect = %+v, want %+v", p, *d, wantD)
					}
					if d.Source != "/"+p && d.Source != "/"+etcOSRelease {
						t.Errorf("%s: source %q", p, d.Source)
					}
				}
			}
			if n == 0 {
				t.Fatal("no os-release in root")
			}
		})
	}
}

// TestRealFallbacks detects each root from its older release file alone
// (alpine-release, debian_version) and expects what the root's os-release
// says, read by sh.
func TestRealFallbacks(t *testing.T) {
	for _, root := range roots(t) {
		t.Run(filepath.Base(root), func(t *testing.T) {
			want := shSource(t, filepath.Join(root, usrOrEtc(root)), osReleaseKeys)
			tried := 0
			for _, p := range []string{alpineRelease, debianVersion} {
				if _, err := os.Stat(filepath.Join(root, p)); err != nil {
					continue
				}
				tried++
				d := Detect(reader(root, p))
				if d == nil {
					t.Fatalf("%s: nothing detected", p)
				}
				if d.ID != want["ID"] || d.VersionID != want["VERSION_ID"] || d.Codename != want["VERSION_CODENAME"] || d.Source != "/"+p {
					t.Errorf("%s: Detect = %+v, os-release says %s %s %s", p, *d, want["ID"], want["VERSION_ID"], want["VERSION_CODENAME"])
				}
			}
			if tried == 0 {
				t.Fatal("root has neither alpine-release nor debian_version")
			}
		})
	}
}

func usrOrEtc(root string) string {
	if _, err := os.Stat(filepath.Join(root, usrOSRelease)); err == nil {
		return usrOSRelease
	}
	return etcOSRelease
}

func TestWants(t *testing.T) {
	for _, p := range []string{"etc/os-release", "usr/lib/os-release", "etc/alpine-release", "etc/debian_version",
		"etc/redhat-release", "etc/centos-release", "etc/almalinux-release", "etc/rocky-release", "etc/system-release", "etc/lsb-release"} {
		if !Wants(p) {
			t.Errorf("Wants(%q) = false", p)
		}
	}
	for _, p := range []string{"/etc/os-release", "etc/os-release.d", "usr/etc/os-release", "etc/issue", "var/lib/dpkg/status"} {
		if Wants(p) {
			t.Errorf("Wants(%q) = true", p)
		}
	}
}

func TestRedHatRelease(t *testing.T) {
	for _, tc := range []struct {
		line                        string
		id, version, codename, name string
	}{
		{"Red Hat Enterprise Linux release 8.4 (Ootpa)", "rhel", "8.4", "Ootpa", "Red Hat Enterprise Linux"},
		{"Red Hat Enterprise Linux Server release 7.9 (Maipo)", "rhel", "7.9", "Maipo", "Red Hat Enterprise Linux Server"},
		{"CentOS Linux release 7.9.2009 (Core)", "centos", "7", "Core", "CentOS Linux"},
		{"CentOS release 6.10 (Final)", "centos", "6", "Final", "CentOS"},
		{"CentOS Stream release 9", "centos", "9", "", "CentOS Stream"},
		{"AlmaLinux release 9.4 (Seafoam Ocelot)", "almalinux", "9.4", "Seafoam Ocelot", "AlmaLinux"},
		{"Rocky Linux release 8.9 (Green Obsidian)", "rocky", "8.9", "Green Obsidian", "Rocky Linux"},
		{"Amazon Linux release 2 (Karoo)", "amzn", "2", "Karoo", "Amazon Linux"},
		{"Amazon Linux release 2023.3.20240108 (Amazon Linux)", "amzn", "2023", "Amazon Linux", "Amazon Linux"},
		{"Amazon Linux AMI release 2018.03", "amzn", "2018.03", "", "Amazon Linux AMI"},
		{"Fedora release 35 (Thirty Five)", "fedora", "35", "Thirty Five", "Fedora"},
		{"Oracle Linux Server release 8.9", "ol", "8.9", "", "Oracle Linux Server"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			for _, file := range redhatFiles {
				d := Detect(func(p string) ([]byte, bool) {
					if p == file {
						return []byte(tc.line + "\n"), true
					}
					return nil, false
				})
				want := &inventory.Distro{ID: tc.id, VersionID: tc.version, Codename: tc.codename, Name: tc.name, PrettyName: tc.line, Source: "/" + file}
				if !reflect.DeepEqual(d, want) {
					t.Errorf("%s: got %+v, want %+v", file, d, want)
				}
			}
		})
	}
	for _, line := range []string{"", "Welcome", "Gentoo Base System release 2.14", "release 8"} {
		if d := parseRedHatRelease(line); d != nil {
			t.Errorf("%q: got %+v, want nil", line, d)
		}
	}
}

func TestDebianVersion(t *testing.T) {
	for _, tc := range []struct{ in, version, codename string }{
		{"12.15", "12", "bookworm"},
		{"11.11", "11", "bullseye"},
		{"10.13", "10", "buster"},
		{"9.13", "9", "stretch"},
		{"8.11", "8", "jessie"},
		{"6.0.10", "6", "squeeze"},
		{"13.0", "13", "trixie"},
		{"bookworm/sid", "", "bookworm"},
		{"trixie/sid", "", "trixie"},
	} {
		d := Detect(func(p string) ([]byte, bool) { return []byte(tc.in + "\n"), p == debianVersion })
		if d == nil || d.ID != "debian" || d.VersionID != tc.version || d.Codename != tc.codename || d.Source != "/etc/debian_version" {
			t.Errorf("%q: got %+v, want debian %q %q", tc.in, d, tc.version, tc.codename)
		}
	}
	if d := Detect(func(p string) ([]byte, bool) { return []byte("\n"), p == debianVersion }); d != nil {
		t.Errorf("empty debian_version: got %+v", d)
	}
}

// TestDebianFill covers os-release files that leave out what
// debian_version says: testing/unstable (no VERSION_ID) and Debian 8 (no
// VERSION_CODENAME).
func TestDebianFill(t *testing.T) {
	files := func(osr, dv string) func(string) ([]byte, bool) {
		return func(p string) ([]byte, bool) {
			switch p {
			case usrOSRelease:
				return []byte(osr), true
			case debianVersion:
				return []byte(dv), dv != ""
			}
			return nil, false
		}
	}
	sid := "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=trixie\nID=debian\n"
	if d := Detect(files(sid, "trixie/sid\n")); d == nil || d.VersionID != "" || d.Codename != "trixie" || d.Source != "/usr/lib/os-release" {
		t.Errorf("sid: %+v", d)
	}
	jessie := "PRETTY_NAME=\"Debian GNU/Linux 8 (jessie)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"8\"\nVERSION=\"8 (jessie)\"\nID=debian\n"
	if d := Detect(files(jessie, "")); d == nil || d.VersionID != "8" || d.Codename != "jessie" {
		t.Errorf("jessie: %+v", d)
	}
	noVersion := "ID=debian\n"
	if d := Detect(files(noVersion, "12.4\n")); d == nil || d.VersionID != "12" || d.Codename != "bookworm" {
		t.Errorf("os-release without version: %+v", d)
	}
}

// TestOrder checks which file wins when several are present.
func TestOrder(t *testing.T) {
	all := map[string]string{
		etcOSRelease:            "ID=etc\n",
		usrOSRelease:            "ID=usr\n",
		alpineRelease:           "3.20.3\n",
		"etc/centos-release":    "CentOS Linux release 7.9.2009 (Core)\n",
		"etc/redhat-release":    "Red Hat Enterprise Linux release 8.4 (Ootpa)\n",
		"etc/rocky-release":     "Rocky Linux release 8.9 (Green Obsidian)\n",
		"etc/almalinux-release": "AlmaLinux release 9.4 (Seafoam Ocelot)\n",
		"etc/system-release":    "Amazon Linux release 2 (Karoo)\n",
		debianVersion:           "12.15\n",
		lsbRelease:              "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\n",
	}
	for _, want := range []string{"etc", "usr", "alpine", "almalinux", "rocky", "centos", "rhel", "amzn", "debian", "ubuntu"} {
		d := Detect(func(p string) ([]byte, bool) { s, ok := all[p]; return []byte(s), ok })
		if d == nil || d.ID != want {
			t.Fatalf("got %+v, want %s", d, want)
		}
		// Remove the file that won, so the next one must win.
		delete(all, strings.TrimPrefix(d.Source, "/"))
	}
	if d := Detect(func(p string) ([]byte, bool) { s, ok := all[p]; return []byte(s), ok }); d != nil {
		t.Errorf("no files left, got %+v", d)
	}
}

func TestOSReleaseWithoutID(t *testing.T) {
	read := func(p string) ([]byte, bool) {
		switch p {
		case etcOSRelease:
			return []byte("# emptied\nNAME=x\n"), true
		case usrOSRelease:
			return []byte("ID=alpine\nVERSION_ID=3.20.3\n"), true
		}
		return nil, false
	}
	if d := Detect(read); d == nil || d.ID != "alpine" || d.Source != "/usr/lib/os-release" {
		t.Errorf("got %+v, want alpine from usr/lib/os-release", d)
	}
}

func TestLSBRelease(t *testing.T) {
	const lsb = "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04.4 LTS\"\n"
	d := Detect(func(p string) ([]byte, bool) { return []byte(lsb), p == lsbRelease })
	want := &inventory.Distro{ID: "ubuntu", VersionID: "22.04", Codename: "jammy", Name: "Ubuntu", PrettyName: "Ubuntu 22.04.4 LTS", Source: "/etc/lsb-release"}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got %+v, want %+v", d, want)
	}
}

// TestOSReleaseQuoting runs each case through the parser and through sh;
// both must give the value written in the table.
func TestOSReleaseQuoting(t *testing.T) {
	for _, tc := range []struct {
		name, file, key, want string
	}{
		{"unquoted", "ID=debian\n", "ID", "debian"},
		{"double quoted", `NAME="Debian GNU/Linux"`, "NAME", "Debian GNU/Linux"},
		{"single quoted", `NAME='A "quoted" name'`, "NAME", `A "quoted" name`},
		{"escapes in double quotes", `X="a \"b\" \\ \$HOME \` + "`" + `c\` + "`" + `"`, "X", "a \"b\" \\ $HOME `c`"},
		{"other backslash kept in double quotes", `X="C:\temp\n"`, "X", `C:\temp\n`},
		{"backslash in single quotes", `X='a\b\'`, "X", `a\b\`},
		{"unquoted escapes", `X=a\ b\"c`, "X", `a b"c`},
		{"concatenated", `X="a b"'c d'e`, "X", "a bc de"},
		{"comment and blank lines", "# comment\n\n   \nX=1\n# X=2\n", "X", "1"},
		{"trailing comment", "X=1 # one\n", "X", "1"},
		{"last assignment wins", "X=1\nX=2\n", "X", "2"},
		{"empty", "X=\nY=1\n", "X", ""},
		{"empty quoted", `X=""`, "X", ""},
		{"multi-line double quotes", "X=\"a\nb\"\n", "X", "a\nb"},
		{"line continuation", "X=\"a\\\nb\"\n", "X", "ab"},
		{"indented", "  X=1\n", "X", "1"},
		{"utf-8", `PRETTY_NAME="Ünïcödé Linux"`, "PRETTY_NAME", "Ünïcödé Linux"},
		{"no trailing newline", "ID=alpine", "ID", "alpine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars, err := ParseOSRelease([]byte(tc.file))
			if err != nil {
				t.Errorf("error: %v", err)
			}
			if vars[tc.key] != tc.want {
				t.Errorf("parser: %s = %q, want %q", tc.key, vars[tc.key], tc.want)
			}
			f := filepath.Join(t.TempDir(), "os-release")
			if err := os.WriteFile(f, []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := shSource(t, f, []string{tc.key})[tc.key]; got != tc.want {
				t.Errorf("sh: %s = %q, the table says %q", tc.key, got, tc.want)
			}
		})
	}
}

// TestOSReleaseCRLF: sh would keep the carriage return in an unquoted
// value, but a file saved with Windows line ends still means the same.
func TestOSReleaseCRLF(t *testing.T) {
	vars, err := ParseOSRelease([]byte("X=1\r\nY=\"2\"\r\n"))
	if err != nil || vars["X"] != "1" || vars["Y"] != "2" {
		t.Errorf("got %q, %v", vars, err)
	}
}

func TestOSReleaseMalformed(t *testing.T) {
	vars, err := ParseOSRelease([]byte("ID=ok\nthis is not an assignment\n=x\nVERSION_ID=\"unterminated\n"))
	if vars["ID"] != "ok" {
		t.Errorf("good line lost: %v", vars)
	}
	if _, ok := vars["VERSION_ID"]; ok {
		t.Errorf("unterminated value kept: %v", vars)
	}
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"3 bad lines", "line 2: not an assignment", "line 3: not an assignment", "line 4: unterminated double quote"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if _, err := ParseOSRelease([]byte("X='open\n")); err == nil || !strings.Contains(err.Error(), "unterminated single quote") {
		t.Errorf("unterminated single quote: %v", err)
	}
}

func TestFromPackages(t *testing.T) {
	rpm := func(name, version, release string, epoch int) inventory.Package {
		v := version + "-" + release
		if epoch > 0 {
			v = strconv.Itoa(epoch) + ":" + v
		}
		return inventory.Package{Name: name, Version: v, Release: release, Epoch: epoch, Type: inventory.RPM}
	}
	for _, tc := range []struct {
		name string
		pkgs []inventory.Package
		want *inventory.Distro
	}{
		{"none", nil, nil},
		{"no release package", []inventory.Package{{Name: "bash", Version: "5.2", Type: inventory.Deb}}, nil},
		{"debian base-files", []inventory.Package{
			{Name: "bash", Version: "5.2.15-2+b2", Type: inventory.Deb},
			{Name: "base-files", Version: "12.4+deb12u5", Type: inventory.Deb},
		}, &inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm", Name: "Debian GNU/Linux", Source: "packages"}},
		{"debian 11 base-files", []inventory.Package{{Name: "base-files", Version: "11.1+deb11u11", Type: inventory.Deb}},
			&inventory.Distro{ID: "debian", VersionID: "11", Codename: "bullseye", Name: "Debian GNU/Linux", Source: "packages"}},
		{"ubuntu base-files", []inventory.Package{{Name: "base-files", Version: "12ubuntu4.6", Type: inventory.Deb}},
			&inventory.Distro{ID: "ubuntu", Name: "Ubuntu", Source: "packages"}},
		{"alpine-release", []inventory.Package{
			{Name: "alpine-baselayout", Version: "3.6.5-r0", Type: inventory.APK},
			{Name: "alpine-release", Version: "3.20.3-r0", Type: inventory.APK},
		}, &inventory.Distro{ID: "alpine", VersionID: "3.20.3", Name: "Alpine Linux", Source: "packages"}},
		{"alpine-baselayout only", []inventory.Package{{Name: "alpine-baselayout", Version: "3.6.5-r0", Type: inventory.APK}},
			&inventory.Distro{ID: "alpine", Name: "Alpine Linux", Source: "packages"}},
		// The RPM cases use the release packages of go-rpmdb's real
		// databases, as rpm lists them.
		{"centos 5", []inventory.Package{rpm("centos-release", "5", "11.el5.centos", 10)},
			&inventory.Distro{ID: "centos", VersionID: "5", Name: "CentOS Linux", Source: "packages"}},
		{"centos 8", []inventory.Package{rpm("centos-release", "8.2", "2.2004.0.1.el8", 0)},
			&inventory.Distro{ID: "centos", VersionID: "8", Name: "CentOS Linux", Source: "packages"}},
		{"ubi8", []inventory.Package{rpm("redhat-release", "8.6", "0.1.el8", 0)},
			&inventory.Distro{ID: "rhel", VersionID: "8.6", Name: "Red Hat Enterprise Linux", Source: "packages"}},
		{"fedora 35", []inventory.Package{rpm("fedora-release-common", "35", "35", 0)},
			&inventory.Distro{ID: "fedora", VersionID: "35", Name: "Fedora Linux", Source: "packages"}},
		{"mariner 2", []inventory.Package{rpm("mariner-release", "2.0", "4.cm2", 0)},
			&inventory.Distro{ID: "mariner", VersionID: "2.0", Name: "CBL-Mariner", Source: "packages"}},
		{"sles 15.3", []inventory.Package{rpm("sles-release", "15.3", "55.4.1", 0)},
			&inventory.Distro{ID: "sles", VersionID: "15.3", Name: "SLES", Source: "packages"}},
		{"amazon linux 2", []inventory.Package{rpm("system-release", "2", "14.amzn2", 1)},
			&inventory.Distro{ID: "amzn", VersionID: "2", Name: "Amazon Linux", Source: "packages"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FromPackages(tc.pkgs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseOSRelease(f *testing.F) {
	f.Add([]byte("ID=debian\nVERSION_ID=\"12\"\n# c\nX='a'\"b\"\\ c\n"))
	f.Add([]byte("X=\"unterminated\nY='also\n=\n\\"))
	for _, p := range []string{"debian-bookworm/usr/lib/os-release", "alpine-3.20.3/etc/os-release"} {
		if data, err := os.ReadFile(filepath.Join(testenv.Root(), "..", "shared", "testdata", "os", p)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, _ := ParseOSRelease(data)
		for k, v := range vars {
			if k == "" || strings.ContainsAny(k, "= \t\n\"'\\#") || '0' <= k[0] && k[0] <= '9' {
				t.Fatalf("bad key %q", k)
			}
			if len(v) > len(data) {
				t.Fatalf("value %q longer than the input", v)
			}
		}
		if len(vars) > strings.Count(string(data), "=") {
			t.Fatalf("%d variables from %d '='", len(vars), strings.Count(string(data), "="))
		}
		_ = Detect(func(p string) ([]byte, bool) { return data, true })
	})
}
