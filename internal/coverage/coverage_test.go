package coverage

import (
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	alpine := Scope{Name: "alpine 3.20", Ecosystem: "Alpine:v3.20", OS: true, Packages: 14, Note: "no advisory feed (have v3.3–v3.11)"}
	npm := Scope{Name: "npm", Ecosystem: "npm", Packages: 55, Note: "no feed"}
	debian := Scope{Name: "debian 11", Ecosystem: "Debian:11", OS: true, Packages: 96, Covered: true, Note: "DSA/DLA lists only"}
	nodb := Scope{Name: "debian 11", Ecosystem: "Debian:11", OS: true, Note: "package database missing (/var/lib/dpkg/status)", MissingDatabase: "/var/lib/dpkg/status"}
	status := File{Layer: 0, Path: "var/lib/dpkg/status", WantedBy: "dpkg", Message: "too large"}
	for _, c := range []struct {
		name   string
		scopes []Scope
		files  []File
		reason string
		gaps   string
	}{
		{"nothing", nil, nil, ReasonSuccessful, ""},
		{"covered", []Scope{debian}, nil, ReasonSuccessful, ""},
		{"os first", []Scope{alpine, npm}, []File{status}, ReasonUnsupportedOS,
			"alpine 3.20: no advisory feed (have v3.3–v3.11)|npm: 55 packages, no feed|layer 0: /var/lib/dpkg/status: not read (dpkg): too large"},
		{"files before ecosystems", []Scope{debian, npm}, []File{status}, ReasonIncomplete,
			"npm: 55 packages, no feed|layer 0: /var/lib/dpkg/status: not read (dpkg): too large"},
		{"ecosystem", []Scope{debian, npm}, nil, ReasonPartial, "npm: 55 packages, no feed"},
		{"database missing", []Scope{nodb, npm}, nil, ReasonIncomplete,
			"debian 11: package database missing (/var/lib/dpkg/status)|npm: 55 packages, no feed"},
		{"database missing after an unsupported release", []Scope{alpine, nodb}, nil, ReasonUnsupportedOS,
			"alpine 3.20: no advisory feed (have v3.3–v3.11)|debian 11: package database missing (/var/lib/dpkg/status)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cov := New(c.scopes, c.files)
			if cov.Reason != c.reason || cov.Full != (c.reason == ReasonSuccessful) {
				t.Errorf("reason %s full %v, want %s", cov.Reason, cov.Full, c.reason)
			}
			if got := strings.Join(cov.Gaps(), "|"); got != c.gaps {
				t.Errorf("gaps %q, want %q", got, c.gaps)
			}
		})
	}
	if got := New([]Scope{debian}, nil).Limits(); len(got) != 1 || got[0] != "debian 11: DSA/DLA lists only" {
		t.Errorf("limits %q", got)
	}
	if s := New([]Scope{npm}, []File{status}).Summary(30); len(s) > 30+len("…") || !strings.HasSuffix(s, "…") {
		t.Errorf("summary %q", s)
	}
}
