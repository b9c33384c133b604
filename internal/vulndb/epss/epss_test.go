package epss

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
)

const realScores = "vulndb/epss/epss_scores-2026-08-16.csv.gz"

func collect(t testing.TB, r io.Reader) (Meta, []Score, []error, error) {
	t.Helper()
	var got []Score
	m, errs, err := Parse(r, func(s Score) error {
		got = append(got, s)
		return nil
	})
	return m, got, errs, err
}

// shell runs a pipeline of reference tools (zcat, grep, wc, head, tail).
func shell(t *testing.T, script string) string {
	t.Helper()
	for _, tool := range []string{"sh", "zcat", "grep", "wc", "head", "tail", "sed"} {
		testenv.Tool(t, tool)
	}
	out, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return strings.TrimSpace(string(out))
}

// rowOf parses a CSV row as printed by zcat, independently of Parse.
func rowOf(t *testing.T, line string) Score {
	t.Helper()
	f := strings.Split(line, ",")
	if len(f) != 3 {
		t.Fatalf("row %q", line)
	}
	p, err1 := strconv.ParseFloat(f[1], 64)
	q, err2 := strconv.ParseFloat(f[2], 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("row %q: %v %v", line, err1, err2)
	}
	return Score{CVE: f[0], EPSS: p, Percentile: q}
}

// TestRealScores reads the real 2026-08-16 file and checks it against
// zcat, wc and grep run on the same file.
func TestRealScores(t *testing.T) {
	path := testenv.Shared(t, realScores)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	meta, got, errs, err := collect(t, f)
	if err != nil || len(errs) != 0 {
		t.Fatalf("err %v, row errors %v", err, errs)
	}

	q := "'" + path + "'"
	lines, _ := strconv.Atoi(shell(t, "zcat "+q+" | wc -l"))
	if len(got) != 360142 || len(got) != lines-2 {
		t.Errorf("%d rows, zcat has %d lines (2 of them comment and header); want 360142", len(got), lines)
	}
	if first := shell(t, "zcat "+q+" | head -1"); first != "#model_version:unknown,score_date:2026-08-16T00:00:00+0000" {
		t.Fatalf("comment line %q", first)
	}
	if meta.ModelVersion != "unknown" || !meta.ScoreDate.Equal(time.Date(2026, 8, 16, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("meta %+v", meta)
	}
	if want := rowOf(t, shell(t, "zcat "+q+" | sed -n 3p")); got[0] != want || want.CVE != "CVE-1999-0001" {
		t.Errorf("first row %+v, zcat says %+v", got[0], want)
	}
	if want := rowOf(t, shell(t, "zcat "+q+" | tail -1")); got[len(got)-1] != want || want.CVE != "CVE-2026-74439" {
		t.Errorf("last row %+v, zcat says %+v", got[len(got)-1], want)
	}

	byID := make(map[string]Score, len(got))
	for _, s := range got {
		byID[s.CVE] = s
	}
	samples := []string{"CVE-2021-44228", "CVE-2014-0160", "CVE-2024-3094"}
	for i := 1; i < len(got); i += 45007 {
		samples = append(samples, got[i].CVE)
	}
	for _, id := range samples {
		want := rowOf(t, shell(t, "zcat "+q+" | grep '^"+id+",'"))
		if s, ok := byID[id]; !ok || s != want {
			t.Errorf("%s: got %+v, grep says %+v", id, s, want)
		}
	}
	// Log4Shell is among the most exploited CVEs: a sanity check on the
	// data rather than on the parser.
	if l := byID["CVE-2021-44228"]; l.EPSS < 0.9 || l.Percentile < 0.99 {
		t.Errorf("Log4Shell %+v", l)
	}
}

func TestParsePlainAndGzip(t *testing.T) {
	const csv = "#model_version:v2025.03.14,score_date:2025-03-16T00:00:00+0000\r\n" +
		"cve,epss,percentile\r\n" +
		"CVE-2021-44228,0.944000000,0.999990000\r\n" +
		"CVE-2014-0160,1,0.5\r\n" +
		"\r\n" +
		"CVE-2024-123456,0,0" // no final newline
	want := []Score{
		{"CVE-2021-44228", 0.944, 0.99999},
		{"CVE-2014-0160", 1, 0.5},
		{"CVE-2024-123456", 0, 0},
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(csv))
	w.Close()
	for name, in := range map[string][]byte{"plain": []byte(csv), "gzip": gz.Bytes()} {
		t.Run(name, func(t *testing.T) {
			meta, got, errs, err := collect(t, bytes.NewReader(in))
			if err != nil || len(errs) != 0 {
				t.Fatalf("err %v, row errors %v", err, errs)
			}
			if meta.ModelVersion != "v2025.03.14" || !meta.ScoreDate.Equal(time.Date(2025, 3, 16, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("meta %+v", meta)
			}
			if len(got) != len(want) {
				t.Fatalf("got %+v", got)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("row %d: got %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestParseNoCommentOtherColumnOrder(t *testing.T) {
	_, got, errs, err := collect(t, strings.NewReader("percentile,cve,epss\n0.25,CVE-2020-0001,0.5\n"))
	if err != nil || len(errs) != 0 || len(got) != 1 || got[0] != (Score{"CVE-2020-0001", 0.5, 0.25}) {
		t.Errorf("got %+v, %v, %v", got, errs, err)
	}
}

func TestParseMalformedRows(t *testing.T) {
	in := "#model_version:v1,score_date:someday\n" + // line 1
		"cve,epss,percentile\n" + // 2
		"CVE-2021-44228,0.9,0.99\n" + // 3
		"CVE-2021-442,0.9,0.99\n" + // 4: sequence too short
		"CVE-2021-44229,1.5,0.99\n" + // 5: out of range
		"CVE-2021-44230,-0.1,0.99\n" + // 6
		"CVE-2021-44231,NaN,0.99\n" + // 7
		"CVE-2021-44232,0.1\n" + // 8: too few fields
		"CVE-2021-44233,0.1,0.2,0.3\n" + // 9: too many
		"CVE-2021-44234,abc,0.2\n" + // 10
		"CVE-2021-44235,0.1,\n" + // 11: empty percentile
		"CVE-2021-44236," + strings.Repeat("9", maxLine) + ",0.1\n" + // 12: too long
		"cve-2021-44237,0.1,0.2\n" + // 13: lower case
		"CVE-2021-45046,0.5,0.9\n" // 14
	meta, got, errs, err := collect(t, strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if meta.ModelVersion != "v1" || !meta.ScoreDate.IsZero() {
		t.Errorf("meta %+v", meta)
	}
	if len(got) != 2 || got[0].CVE != "CVE-2021-44228" || got[1].CVE != "CVE-2021-45046" {
		t.Errorf("kept %+v", got)
	}
	var lines []string
	for _, e := range errs {
		if !strings.HasPrefix(e.Error(), "epss: line ") {
			t.Errorf("error %q", e)
		}
		n, _, _ := strings.Cut(strings.TrimPrefix(e.Error(), "epss: line "), ":")
		lines = append(lines, n)
	}
	if strings.Join(lines, " ") != "1 4 5 6 7 8 9 10 11 12 13" {
		t.Errorf("errors on lines %v, want 1 and 4–13:\n%v", lines, errs)
	}
}

func TestParseNotEPSS(t *testing.T) {
	for _, in := range []string{"", "#model_version:v1\n", "CVE-2021-44228,0.9,0.99\n", "id,score\nx,1\n"} {
		if _, _, _, err := collect(t, strings.NewReader(in)); err == nil || !strings.HasPrefix(err.Error(), "epss: ") {
			t.Errorf("%q: err %v", in, err)
		}
	}
}

func TestParseCorruptGzip(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte("cve,epss,percentile\n"))
	for i := 0; i < 5000; i++ {
		w.Write([]byte("CVE-2020-" + strconv.Itoa(10000+i) + ",0.1,0.2\n"))
	}
	w.Close()
	data := gz.Bytes()
	// Cut off the end: the rows before the cut are delivered, and the
	// truncation is an error, not a silent short file.
	_, got, _, err := collect(t, bytes.NewReader(data[:len(data)/2]))
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) || len(got) == 0 || len(got) >= 5000 {
		t.Errorf("truncated: %d rows, err %v", len(got), err)
	}
	if _, _, _, err := collect(t, bytes.NewReader([]byte{0x1f, 0x8b, 0, 0})); err == nil {
		t.Error("bad gzip header: no error")
	}
}

func TestCallbackErrorStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	_, _, err := Parse(strings.NewReader("cve,epss,percentile\nCVE-2020-0001,0,0\nCVE-2020-0002,0,0\n"), func(Score) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("n %d err %v", n, err)
	}
}

func TestErrorsAreBounded(t *testing.T) {
	in := "cve,epss,percentile\n" + strings.Repeat("bad,0,0\n", 300)
	_, _, errs, err := collect(t, strings.NewReader(in))
	if err != nil || len(errs) != maxErrors+1 || !strings.Contains(errs[maxErrors].Error(), "200 more") {
		t.Errorf("%d errors, err %v", len(errs), err)
	}
}

func BenchmarkParseReal(b *testing.B) {
	data, err := os.ReadFile(testenv.Shared(b, realScores))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		rows = 0
		if _, _, err := Parse(bytes.NewReader(data), func(Score) error { rows++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("#model_version:v2025.03.14,score_date:2025-03-16T00:00:00+0000\ncve,epss,percentile\nCVE-1999-0001,0.033510000,0.876500000\n"))
	f.Add([]byte("cve,epss,percentile\r\nCVE-2021-44228,1e-1,0.5\r\nbad\r\n,,\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, errs, err := Parse(bytes.NewReader(data), func(s Score) error {
			if !isCVE([]byte(s.CVE)) || !(s.EPSS >= 0 && s.EPSS <= 1) || !(s.Percentile >= 0 && s.Percentile <= 1) {
				t.Fatalf("invalid row accepted: %+v", s)
			}
			return nil
		})
		if err == nil && len(errs) > maxErrors+1 {
			t.Fatalf("%d errors", len(errs))
		}
	})
}
