// Package epss reads FIRST's Exploit Prediction Scoring System scores in
// the layout FIRST distributes them (epss_scores-YYYY-MM-DD.csv.gz, and
// epss_scores-current.csv.gz): a gzipped CSV whose first line is a
// comment naming the model and the day the scores are for, then a
// header, then one row per CVE:
//
//	#model_version:v2025.03.14,score_date:2025-03-16T00:00:00+0000
//	cve,epss,percentile
//	CVE-1999-0001,0.033510000,0.876500000
//
// EPSS is the probability that a CVE sees exploitation activity in the
// next 30 days; the percentile ranks it among all scored CVEs. The
// scorer raises findings with a high probability.
//
// The file holds about 300,000 rows and is re-read on every database
// update, so the parser avoids encoding/csv's per-record allocations: the
// format has no quoting, and a row is split with bytes.IndexByte.
//
// It is a domain leaf: it parses bytes and knows nothing of fetching.
package epss

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Meta is what the comment line says about the scores.
type Meta struct {
	// ModelVersion is the EPSS model, such as "v2025.03.14".
	ModelVersion string
	// ScoreDate is the day the scores are for.
	ScoreDate time.Time
}

// Score is the EPSS score of one CVE.
type Score struct {
	CVE string
	// EPSS is the probability of exploitation activity in the next 30
	// days, in [0, 1].
	EPSS float64
	// Percentile ranks EPSS among all scored CVEs, in [0, 1].
	Percentile float64
}

const (
	// maxLine bounds one line; real rows are about 40 bytes.
	maxLine = 4 << 10
	// maxErrors bounds the per-row errors kept.
	maxErrors = 100
)

// Parse reads EPSS scores from r, gzipped (detected by its magic bytes)
// or plain, and calls fn for each valid row in file order. Malformed rows
// are reported by line number and skipped. The error is non-nil when the
// input is not an EPSS file, cannot be read to its end (a truncated or
// corrupt gzip stream: the rows before the damage have been passed to
// fn), or when fn returns an error, which stops the parse and is
// returned wrapped.
func Parse(r io.Reader, fn func(Score) error) (Meta, []error, error) {
	var (
		meta Meta
		errs errList
	)
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return meta, nil, fmt.Errorf("epss: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	lr := lineReader{r: br}

	// The comment line, then the header.
	var cols columns
	for {
		line, err := lr.next()
		if err == io.EOF {
			return meta, errs.list(), errors.New("epss: no header line: not an EPSS file")
		}
		if err != nil {
			return meta, errs.list(), fmt.Errorf("epss: line %d: %w", lr.n, err)
		}
		if len(line) == 0 {
			continue
		}
		if line[0] == '#' {
			if e := parseMeta(string(line[1:]), &meta); e != nil {
				errs.add(fmt.Errorf("epss: line %d: %w", lr.n, e))
			}
			continue
		}
		if cols, err = parseHeader(line); err != nil {
			return meta, errs.list(), fmt.Errorf("epss: line %d: %w", lr.n, err)
		}
		break
	}

	fields := make([][]byte, cols.n)
	for {
		line, err := lr.next()
		if err == io.EOF {
			return meta, errs.list(), nil
		}
		if errors.Is(err, errLineTooLong) {
			errs.add(fmt.Errorf("epss: line %d: %w", lr.n, err))
			continue
		}
		if err != nil {
			return meta, errs.list(), fmt.Errorf("epss: line %d: %w", lr.n, err)
		}
		if len(line) == 0 {
			continue
		}
		s, err := parseRow(line, fields, cols)
		if err != nil {
			errs.add(fmt.Errorf("epss: line %d: %w", lr.n, err))
			continue
		}
		if err := fn(s); err != nil {
			return meta, errs.list(), fmt.Errorf("epss: line %d: %w", lr.n, err)
		}
	}
}

// parseMeta reads "model_version:v2025.03.14,score_date:2025-03-16T00:00:00+0000".
// Unknown keys are ignored, so that FIRST can add some.
func parseMeta(s string, m *Meta) error {
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, ":")
		switch strings.TrimSpace(k) {
		case "model_version":
			m.ModelVersion = strings.TrimSpace(v)
		case "score_date":
			v = strings.TrimSpace(v)
			var err error
			for _, layout := range []string{"2006-01-02T15:04:05-0700", time.RFC3339, time.DateOnly} {
				if m.ScoreDate, err = time.Parse(layout, v); err == nil {
					break
				}
			}
			if err != nil {
				return fmt.Errorf("score_date %q is not a time", truncate(v))
			}
		}
	}
	return nil
}

type columns struct{ n, cve, epss, percentile int }

func parseHeader(line []byte) (columns, error) {
	c := columns{cve: -1, epss: -1, percentile: -1}
	names := bytes.Split(line, []byte{','})
	if len(names) > 16 {
		return c, fmt.Errorf("header has %d columns, want cve,epss,percentile", len(names))
	}
	c.n = len(names)
	for i, name := range names {
		switch string(bytes.TrimSpace(name)) {
		case "cve":
			c.cve = i
		case "epss":
			c.epss = i
		case "percentile":
			c.percentile = i
		}
	}
	if c.cve < 0 || c.epss < 0 || c.percentile < 0 {
		return c, fmt.Errorf("header %q lacks one of cve, epss, percentile", truncate(string(line)))
	}
	return c, nil
}

func parseRow(line []byte, fields [][]byte, c columns) (Score, error) {
	rest := line
	for i := range fields {
		j := bytes.IndexByte(rest, ',')
		if i == len(fields)-1 {
			if j >= 0 {
				return Score{}, fmt.Errorf("more than %d fields", len(fields))
			}
			fields[i] = rest
			break
		}
		if j < 0 {
			return Score{}, fmt.Errorf("%d fields, want %d", i+1, len(fields))
		}
		fields[i], rest = rest[:j], rest[j+1:]
	}
	id := fields[c.cve]
	if !isCVE(id) {
		return Score{}, fmt.Errorf("%q is not a CVE id", truncate(string(id)))
	}
	p, err := probability(fields[c.epss])
	if err != nil {
		return Score{}, fmt.Errorf("%s: epss: %w", id, err)
	}
	pct, err := probability(fields[c.percentile])
	if err != nil {
		return Score{}, fmt.Errorf("%s: percentile: %w", id, err)
	}
	return Score{CVE: string(id), EPSS: p, Percentile: pct}, nil
}

// probability parses a number in [0, 1]. strconv.ParseFloat does not
// keep its argument, so the conversion does not allocate.
func probability(b []byte) (float64, error) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", truncate(string(b)))
	}
	if !(f >= 0 && f <= 1) { // also false for NaN
		return 0, fmt.Errorf("%s is not in [0, 1]", b)
	}
	return f, nil
}

// isCVE checks the CVE id form CVE-YYYY-NNNN…, with 4 to 19 digits in the
// sequence number.
func isCVE(b []byte) bool {
	if len(b) < 13 || len(b) > 28 || string(b[:4]) != "CVE-" || b[8] != '-' {
		return false
	}
	for i, c := range b[4:] {
		if i != 4 && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

var errLineTooLong = fmt.Errorf("line longer than %d bytes, skipped", maxLine)

// lineReader returns lines without their line ending, counting them.
// A line longer than maxLine is consumed and reported as errLineTooLong.
type lineReader struct {
	r *bufio.Reader
	n int
}

func (l *lineReader) next() ([]byte, error) {
	line, err := l.r.ReadSlice('\n')
	if err == nil || (err == io.EOF && len(line) > 0) {
		l.n++
		if len(line) > maxLine {
			return nil, errLineTooLong
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		return bytes.TrimSuffix(line, []byte{'\r'}), nil
	}
	if errors.Is(err, bufio.ErrBufferFull) {
		l.n++
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = l.r.ReadSlice('\n')
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		return nil, errLineTooLong
	}
	return nil, err
}

// errList keeps the first maxErrors errors and counts the rest.
type errList struct {
	errs    []error
	dropped int
}

func (l *errList) add(err error) {
	if len(l.errs) < maxErrors {
		l.errs = append(l.errs, err)
	} else {
		l.dropped++
	}
}

func (l *errList) list() []error {
	if l.dropped > 0 {
		return append(l.errs, fmt.Errorf("epss: %d more malformed rows not shown", l.dropped))
	}
	return l.errs
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
