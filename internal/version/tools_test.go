package version

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// This file holds what the cross-checks against real tools share: picking
// pairs of real versions and running a tool over them in batches.

// pair is two versions and, once a tool has answered, its verdict.
type pair struct {
	a, b string
	want int
}

// sortedValid returns the distinct versions cmp accepts, sorted by cmp,
// and the ones it rejects.
func sortedValid(cmp Comparer, versions []string) (valid, rejected []string) {
	seen := map[string]bool{}
	for _, v := range versions {
		if seen[v] {
			continue
		}
		seen[v] = true
		if cmp.Valid(v) == nil {
			valid = append(valid, v)
		} else {
			rejected = append(rejected, v)
		}
	}
	sort.Strings(valid)
	sort.SliceStable(valid, func(i, j int) bool {
		c, _ := cmp.Compare(valid[i], valid[j])
		return c < 0
	})
	sort.Strings(rejected)
	return valid, rejected
}

// samplePairs picks pairs of a sorted list: nAdj neighbours (the pairs
// most likely to expose a rule, since they differ least; all of them if
// nAdj < 0) and nRand random pairs, in both orders for some of them.
func samplePairs(sorted []string, nAdj, nRand int) []pair {
	r := rand.New(rand.NewSource(1))
	var ps []pair
	if len(sorted) < 2 {
		return nil
	}
	if nAdj < 0 || nAdj >= len(sorted)-1 {
		for i := 0; i+1 < len(sorted); i++ {
			ps = append(ps, pair{a: sorted[i], b: sorted[i+1]})
		}
	} else {
		for _, i := range r.Perm(len(sorted) - 1)[:nAdj] {
			ps = append(ps, pair{a: sorted[i], b: sorted[i+1]})
		}
	}
	for k := 0; k < nRand; k++ {
		ps = append(ps, pair{a: sorted[r.Intn(len(sorted))], b: sorted[r.Intn(len(sorted))]})
	}
	// Some neighbours the other way round, so that both signs occur.
	for k := 0; k < len(ps)/10; k++ {
		p := &ps[r.Intn(len(ps))]
		p.a, p.b = p.b, p.a
	}
	return ps
}

// casePairs returns every pair of a testdata file's chains, both ways
// round, and the parsed file.
func casePairs(t *testing.T, name string) ([]pair, caseFile) {
	cf := readCases(t, filepath.Join("testdata", name+".txt"))
	var ps []pair
	for _, c := range cf.chains {
		for i := range c.versions {
			for j := i + 1; j < len(c.versions); j++ {
				ps = append(ps, pair{a: c.versions[i], b: c.versions[j]}, pair{a: c.versions[j], b: c.versions[i]})
			}
		}
	}
	return ps, cf
}

// runBatches writes the pairs, one "a b" per line, to files and runs
// script over each (its first argument is the file) in shards parallel
// processes; each line of output is the tool's sign for one pair. It
// fails the test if the tool writes anything to stderr, which for dpkg
// means it found a version it calls bad.
func runBatches(t *testing.T, ps []pair, shards int, command func(file string) *exec.Cmd) {
	t.Helper()
	if len(ps) == 0 {
		t.Fatal("no pairs")
	}
	dir := t.TempDir()
	size := (len(ps) + shards - 1) / shards
	var wg sync.WaitGroup
	errs := make([]error, shards)
	for s := 0; s < shards; s++ {
		lo, hi := s*size, min((s+1)*size, len(ps))
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func(s int, part []pair) {
			defer wg.Done()
			errs[s] = runBatch(filepath.Join(dir, fmt.Sprintf("pairs%d", s)), part, command)
		}(s, ps[lo:hi])
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func runBatch(file string, ps []pair, command func(string) *exec.Cmd) error {
	var in strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&in, "%s %s\n", p.a, p.b)
	}
	if err := os.WriteFile(file, []byte(in.String()), 0o644); err != nil {
		return err
	}
	cmd := command(file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", cmd.Path, err, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		return fmt.Errorf("%s complained: %.2000s", cmd.Path, stderr.Bytes())
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(ps) {
		return fmt.Errorf("%s: %d answers for %d pairs: %.500s", cmd.Path, len(lines), len(ps), out)
	}
	for i, l := range lines {
		switch l {
		case "<", "-1":
			ps[i].want = -1
		case "=", "0":
			ps[i].want = 0
		case ">", "1":
			ps[i].want = 1
		default:
			return fmt.Errorf("%s: unexpected answer %q", cmd.Path, l)
		}
	}
	return nil
}

// checkAgainst compares cmp's answers with the tool's.
func checkAgainst(t *testing.T, tool string, cmp Comparer, ps []pair) {
	t.Helper()
	bad := 0
	for _, p := range ps {
		got, err := cmp.Compare(p.a, p.b)
		if err != nil || got != p.want {
			t.Errorf("Compare(%q, %q) = %d, %v; %s says %d", p.a, p.b, got, err, tool, p.want)
			if bad++; bad == 20 {
				t.Fatal("too many differences")
			}
		}
	}
	t.Logf("%d pairs agree with %s", len(ps)-bad, tool)
}
