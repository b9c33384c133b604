package vulndb

import (
	"archive/zip"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// What a feed's data age was read from (SourceStatus.UpdatedFrom), best
// first. A feed's age is that of its data, never of the download or
// import: an old mirror imported today is old.
const (
	// AgeRecords: the newest modified (or published) date of its
	// records: OSV modified, NVD lastModified, a DSA's or DLA's date.
	AgeRecords = "newest record"
	// AgeFeedDate: the date line the feed itself carries: EPSS
	// score_date, KEV dateReleased, an NVD page's timestamp.
	AgeFeedDate = "feed date"
	// AgeZipEntries: the newest entry time of an OSV zip, for zips whose
	// records carry no usable dates (the Go vulnerability database's
	// repository copy zeroes them).
	AgeZipEntries = "zip entry times"
	// AgeLastModified: the Last-Modified the server sent with the file.
	AgeLastModified = "Last-Modified"
)

// OldMirrorAge is the data age at which an import warns that the mirror
// it read looks old.
const OldMirrorAge = 30 * 24 * time.Hour

// earliestData is before any vulnerability feed's data: dates before it
// are placeholders (Go's zero time, year 1; a zip's 1980 DOS epoch), not
// ages.
var earliestData = time.Date(1995, 1, 1, 0, 0, 0, 0, time.UTC)

func realTime(t time.Time) bool { return t.After(earliestData) }

// newer keeps the later of *t and c when c is a real date.
func newer(t *time.Time, c time.Time) {
	if realTime(c) && c.After(*t) {
		*t = c
	}
}

// fallbackAge is a feed's age when its contents give none: the newest
// entry time of an OSV zip, else the server's Last-Modified.
func fallbackAge(f *feed) (time.Time, string) {
	if f.Source.Kind == KindOSV {
		if t := newestZipEntry(f.path); realTime(t) {
			return t, AgeZipEntries
		}
	}
	if f.LastModified != "" {
		if t, err := http.ParseTime(f.LastModified); err == nil && realTime(t) {
			return t.UTC(), AgeLastModified
		}
	}
	return time.Time{}, ""
}

// newestZipEntry reads only the zip's central directory.
func newestZipEntry(path string) time.Time {
	zr, err := zip.OpenReader(path)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return time.Time{}
	}
	defer zr.Close()
	var t time.Time
	for _, f := range zr.File {
		newer(&t, f.Modified.UTC())
	}
	return t
}

// ReliedOn picks, of a database's feeds, those a scan that looked up
// advisories in the given ecosystems relied on: the feeds with
// advisories for one of them, and the CVE-wide feeds (EPSS, KEV, NVD)
// that score every finding.
func ReliedOn(sources []SourceStatus, ecosystems []string) []SourceStatus {
	want := map[string]bool{}
	for _, e := range ecosystems {
		want[e] = true
	}
	var out []SourceStatus
	for _, s := range sources {
		relied := s.Kind == KindEPSS || s.Kind == KindKEV || s.Kind == KindNVD
		for _, e := range s.Ecosystems {
			relied = relied || want[e]
		}
		if relied {
			out = append(out, s)
		}
	}
	return out
}

// Oldest returns the feed with the oldest known data, and the feeds whose
// data age is unknown; ok is false when no feed's age is known.
func Oldest(sources []SourceStatus) (oldest SourceStatus, unknown []SourceStatus, ok bool) {
	for _, s := range sources {
		switch {
		case !realTime(s.Updated):
			unknown = append(unknown, s)
		case !ok || s.Updated.Before(oldest.Updated):
			oldest, ok = s, true
		}
	}
	return oldest, unknown, ok
}

// AgeWarnings says which of the named feeds have data older than
// OldMirrorAge at now, or of unknown age.
func AgeWarnings(sources []SourceStatus, names []string, now time.Time) []string {
	pick := map[string]bool{}
	for _, n := range names {
		pick[n] = true
	}
	var out []string
	var unknown []string
	for _, s := range sources {
		if !pick[s.Name] {
			continue
		}
		age, known := s.DataAge(now)
		switch {
		case !known:
			unknown = append(unknown, s.Name)
		case age > OldMirrorAge:
			out = append(out, s.Name+": its data is from "+s.Updated.Format("2006-01-02")+" ("+s.UpdatedFrom+"), "+
				days(age)+" old at import, more than "+days(OldMirrorAge)+": the mirror it came from may be out of date")
		}
	}
	sort.Strings(out)
	if len(unknown) > 0 {
		sort.Strings(unknown)
		msg := "the age of the data of "
		for i, n := range unknown {
			if i > 0 {
				msg += ", "
			}
			msg += n
		}
		out = append(out, msg+" is unknown: neither the data nor its file carries a date")
	}
	return out
}

func days(d time.Duration) string {
	n := int(d.Hours() / 24)
	if n == 1 {
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}
