package score

import (
	"errors"
	"fmt"
	"math"
	"strings"

	cvss20 "github.com/pandatix/go-cvss/20"
	cvss30 "github.com/pandatix/go-cvss/30"
	cvss31 "github.com/pandatix/go-cvss/31"
	cvss40 "github.com/pandatix/go-cvss/40"

	"github.com/vigilsec/vigil/internal/vuln"
)

// CVSS is one parsed CVSS vector and its base score.
type CVSS struct {
	// Version is "2.0", "3.0", "3.1" or "4.0".
	Version string
	// Vector is the vector string as given (trimmed of spaces).
	Vector string
	// BaseScore is computed from the vector's base metrics only: the
	// temporal, threat and environmental metrics a source may have
	// added are ignored, so scores from different sources compare.
	BaseScore float64
	// Source says who scored it ("nvd@nist.gov", "debian"), when known.
	Source string
}

// maxVector bounds the vector strings we parse. The longest legal
// vector (CVSS v4.0 with every optional metric) is about 200 bytes.
const maxVector = 512

// v4BaseMetrics is the number of base metrics that begin every CVSS
// v4.0 vector (AV AC AT PR UI VC VI VA SC SI SA, in that order).
const v4BaseMetrics = 11

// ParseCVSS parses a CVSS vector string, telling the version from its
// prefix: "CVSS:3.1/", "CVSS:3.0/", "CVSS:4.0/", or none for CVSS v2
// ("AV:N/AC:M/Au:N/C:C/I:C/A:C", as NVD and OSV write it).
func ParseCVSS(vector string) (CVSS, error) {
	v := strings.TrimSpace(vector)
	if len(v) > maxVector {
		return CVSS{}, fmt.Errorf("score: CVSS vector of %d bytes is too long", len(v))
	}
	c := CVSS{Vector: v}
	var err error
	switch {
	case strings.HasPrefix(v, "CVSS:3.1/"):
		c.Version = "3.1"
		var p *cvss31.CVSS31
		if p, err = cvss31.ParseVector(v); err == nil {
			c.BaseScore = p.BaseScore()
		}
	case strings.HasPrefix(v, "CVSS:3.0/"):
		c.Version = "3.0"
		var p *cvss30.CVSS30
		if p, err = cvss30.ParseVector(v); err == nil {
			c.BaseScore = p.BaseScore()
		}
	case strings.HasPrefix(v, "CVSS:4.0/"):
		c.Version = "4.0"
		c.BaseScore, err = v4Base(v)
	case strings.HasPrefix(v, "AV:"):
		c.Version = "2.0"
		var p *cvss20.CVSS20
		if p, err = cvss20.ParseVector(v); err == nil {
			c.BaseScore = p.BaseScore()
		}
	case strings.HasPrefix(v, "CVSS:"):
		return CVSS{}, fmt.Errorf("score: %q: unsupported CVSS version", truncate(v))
	default:
		return CVSS{}, fmt.Errorf("score: %q: not a CVSS vector", truncate(v))
	}
	if err != nil {
		return CVSS{}, fmt.Errorf("score: %q: CVSS v%s: %w", truncate(v), c.Version, err)
	}
	if math.IsNaN(c.BaseScore) || c.BaseScore < 0 || c.BaseScore > 10 {
		return CVSS{}, fmt.Errorf("score: %q: base score %v out of range", truncate(v), c.BaseScore)
	}
	return c, nil
}

// v4Base scores the base metrics of a CVSS v4.0 vector. The library
// scores whatever the vector holds (CVSS-BTE when threat or
// environmental metrics are present); the base metrics are always the
// first eleven, so scoring that prefix alone gives CVSS-B.
func v4Base(v string) (float64, error) {
	// Validate the whole vector first, so that a malformed tail is an
	// error rather than silently cut off.
	if _, err := cvss40.ParseVector(v); err != nil {
		return 0, err
	}
	parts := strings.Split(v, "/")
	if len(parts) < 1+v4BaseMetrics {
		return 0, errors.New("too short vector")
	}
	base, err := cvss40.ParseVector(strings.Join(parts[:1+v4BaseMetrics], "/"))
	if err != nil {
		return 0, err
	}
	return base.Score(), nil
}

// FromSeverity parses an OSV severity entry. Its type must agree with
// the vector's version: a CVSS_V3 entry holding a v2 vector is a data
// error, reported rather than guessed at.
func FromSeverity(s vuln.Severity) (CVSS, error) {
	c, err := ParseCVSS(s.Score)
	if err != nil {
		return CVSS{}, err
	}
	want := map[string]string{"2.0": vuln.CVSSv2, "3.0": vuln.CVSSv3, "3.1": vuln.CVSSv3, "4.0": vuln.CVSSv4}[c.Version]
	if s.Type != want {
		return CVSS{}, fmt.Errorf("score: %q: severity type %q does not match CVSS v%s", truncate(c.Vector), s.Type, c.Version)
	}
	c.Source = s.Source
	return c, nil
}

// truncate keeps error messages short when a vector is garbage.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
