package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
)

// TestScanDataAgeOldestReliedOn holds --db-max-age to the age of the
// data of the feeds a scan relied on, named: the bullseye image relies on
// the DSA list and KEV, not on the DLA list (bullseye's LTS began after
// this copy of it ends) nor the crates.io feed (it has no Rust packages), and the oldest of those is the DSA list
// (newest advisory 2023-03-29), although the database was built a moment
// ago. The bookworm image relies on KEV alone: neither list, which end
// in 2023-04, has a bookworm advisory.
func TestScanDataAgeOldestReliedOn(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}
	_, errs := runVigilEnv(t, env, "db", "import",
		testenv.Shared(t, "vulndb/debian"), testenv.Shared(t, "vulndb/kev"), testenv.Shared(t, "vulndb/osv/crates.io/all.zip"))
	// The import of a mirror this old says so, feed by feed.
	for _, want := range []string{"debian/dsa: its data is from 2023-03-29", "kev: its data is from 2025-08-25", "osv/crates.io: its data is from 2026-08-21"} {
		if !strings.Contains(errs, want) || !strings.Contains(errs, "old at import") {
			t.Errorf("db import warnings lack %q:\n%s", want, errs)
		}
	}
	img := "oci:" + testenv.Image(t, "debian-bullseye-app") + ":latest"

	out, errs := runVigilEnv(t, env, "scan", img, "--format", "json", "--db-max-age", "100000h", "--fail-on-stale-db")
	var doc struct {
		Database struct {
			Feeds []struct {
				Name     string    `json:"name"`
				DataAsOf time.Time `json:"dataAsOf"`
				From     string    `json:"from"`
			} `json:"feeds"`
		} `json:"database"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	var got []string
	for _, f := range doc.Database.Feeds {
		got = append(got, f.Name+" "+f.DataAsOf.Format("2006-01-02")+" "+f.From)
	}
	want := []string{"debian/dsa 2023-03-29 newest record", "kev 2025-08-25 feed date"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("feeds relied on:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Three years: KEV (2025) is within it, the DSA list is not.
	code, _, errs := runVigilCode(env, "scan", img, "--format", "json", "--db-max-age", "26280h")
	if code != 0 || !strings.Contains(errs, "feed debian/dsa, is from 2023-03-29") {
		t.Errorf("--db-max-age 26280h: exit %d, want 0 and a warning naming debian/dsa\n%s", code, errs)
	}
	code, _, errs = runVigilCode(env, "scan", img, "--format", "json", "--db-max-age", "26280h", "--fail-on-stale-db")
	if code != ExitStaleDB || !strings.Contains(errs, "feed debian/dsa, is from 2023-03-29") || strings.Contains(errs, "crates.io") {
		t.Errorf("--fail-on-stale-db: exit %d, want %d naming debian/dsa only\n%s", code, ExitStaleDB, errs)
	}

	// The table says how old the data is, not only the database.
	out, _ = runVigilEnv(t, env, "scan", img, "--db-max-age", "100000h")
	if !strings.Contains(out, "oldest feed relied on: debian/dsa, data as of 2023-03-29") {
		t.Errorf("table header lacks the oldest feed:\n%s", out[:min(len(out), 600)])
	}

	bookworm := "oci:" + testenv.Image(t, "debian-bookworm-minbase") + ":latest"
	code, _, errs = runVigilCode(env, "scan", bookworm, "--format", "json", "--db-max-age", "8760h", "--fail-on-stale-db")
	if code != ExitStaleDB || !strings.Contains(errs, "feed kev, is from 2025-08-25") {
		t.Errorf("bookworm, one year: exit %d, want %d naming kev\n%s", code, ExitStaleDB, errs)
	}
}

// TestDBStatusDataAge: `vigil db status` gives each feed's data age and
// what it was read from, "unknown" where nothing dates it, whatever the
// import time.
func TestDBStatusDataAge(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}
	runVigilEnv(t, env, "db", "import", testenv.Shared(t, "vulndb/kev"), testenv.Shared(t, "vulndb/alpine-secdb/v3.7/main.json"),
		testenv.Shared(t, "vulndb/osv/Go/all.zip"))
	out, _ := runVigilEnv(t, env, "db", "status")
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = l
		}
	}
	for feed, want := range map[string][]string{
		"kev":              {"2025-08-25", "feed date"},
		"osv/Go":           {"2026-08-21", "zip entry times"},
		"alpine/v3.7/main": {"unknown", "no date in the data or its file"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[feed], w) {
				t.Errorf("db status line for %s %q lacks %q\n%s", feed, lines[feed], w, out)
			}
		}
	}
	if strings.Contains(out, "0001-01-01") {
		t.Errorf("db status reports year 1:\n%s", out)
	}
}
