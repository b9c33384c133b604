package vulndb

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// maxFeedSize bounds one downloaded feed file. The largest real feed (the
// npm OSV zip) is a few hundred MiB.
const maxFeedSize = 4 << 30

// UpdateOptions configures Update.
type UpdateOptions struct {
	// Client makes the requests; nil means http.DefaultClient.
	Client    *http.Client
	UserAgent string
	// Parallel is how many feeds are fetched at once (default 4).
	Parallel int
	// NVDAPIKey is sent to the NVD API, which allows faster paging with
	// one.
	NVDAPIKey string
	// Progress, if set, is called as feeds arrive.
	Progress func(FetchProgress)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// sleep waits, or returns early with ctx's error; tests replace it
	// with a clock of their own.
	sleep func(ctx context.Context, d time.Duration) error
}

// FetchProgress reports on one feed's download.
type FetchProgress struct {
	Source string
	// Bytes received so far and Total expected (-1 if unknown).
	Bytes, Total int64
	// Done is set when the feed has arrived, NotModified when the server
	// said the copy we have is current.
	Done, NotModified bool
}

// UpdateReport says what Update did.
type UpdateReport struct {
	// Fetched lists the feeds downloaded anew; Unchanged those the server
	// said were current.
	Fetched   []string     `json:"fetched"`
	Unchanged []string     `json:"unchanged"`
	Build     *BuildReport `json:"build"`
}

// Update fetches every source, with conditional requests for the ones
// already present. Only when every feed has arrived intact and the new
// database has been built from them are the feed files and the database
// replaced; if any feed fails to download or verify, nothing changes and
// the error names the feed.
func (d *Dir) Update(ctx context.Context, sources []Source, opts UpdateOptions) (*UpdateReport, error) {
	if opts.Client == nil {
		opts.Client = http.DefaultClient
	}
	if opts.Parallel < 1 {
		opts.Parallel = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var (
		mu  sync.Mutex
		got []*staged
	)
	keep := func(s *staged) {
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
	}
	discardAll := func() {
		for _, s := range got {
			s.discard()
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Parallel)
	for _, src := range sources {
		if err := validName(src.Name); err != nil {
			return nil, err
		}
		if src.URL == "" {
			continue
		}
		g.Go(func() error {
			if src.Kind == KindNVD {
				pages, err := d.fetchNVD(gctx, src, opts)
				for _, p := range pages {
					keep(p)
				}
				return err
			}
			fetch := d.fetch
			switch src.Kind {
			case KindUpdateInfo:
				fetch = d.fetchUpdateInfo
			case KindRedHatVEX:
				fetch = d.fetchRedHatVEX
			}
			s, err := fetch(gctx, src, opts)
			if err != nil {
				return fmt.Errorf("vulndb: %s (%s): %w", src.Name, src.URL, err)
			}
			keep(s)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		discardAll()
		return nil, err
	}

	// Build from the feeds present, the staged ones taking the place of
	// their older copies.
	present, err := d.feeds()
	if err != nil {
		discardAll()
		return nil, err
	}
	byName := map[string]*feed{}
	for _, f := range present {
		byName[f.Source.Name] = f
	}
	report := &UpdateReport{}
	for _, s := range got {
		byName[s.meta.Source.Name] = s.meta
		if s.tmp == "" {
			report.Unchanged = append(report.Unchanged, s.meta.Source.Name)
		} else {
			report.Fetched = append(report.Fetched, s.meta.Source.Name)
		}
	}
	var all []*feed
	for _, f := range byName {
		all = append(all, f)
	}
	// The build renames the new database into place only once it is
	// complete; the feed files follow it. A crash between the two
	// leaves a current database and older feed files, which the next
	// update replaces.
	build, err := d.build(ctx, all)
	if err != nil {
		discardAll()
		return nil, err
	}
	report.Build = build
	if err := d.commit(got); err != nil {
		discardAll()
		return nil, err
	}
	return report, nil
}

// fetch downloads one feed into a staged file, or notes that the copy we
// have is current.
func (d *Dir) fetch(ctx context.Context, src Source, opts UpdateOptions) (*staged, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL, nil)
	if err != nil {
		return nil, err
	}
	if opts.UserAgent != "" {
		req.Header.Set("User-Agent", opts.UserAgent)
	}
	old := d.feed(src.Name)
	if old != nil && old.Source.URL == src.URL {
		if old.ETag != "" {
			req.Header.Set("If-None-Match", old.ETag)
		}
		if old.LastModified != "" {
			req.Header.Set("If-Modified-Since", old.LastModified)
		}
	}
	resp, err := opts.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	now := opts.Now().UTC()
	switch {
	case resp.StatusCode == http.StatusNotModified && old != nil:
		m := *old
		m.Source, m.Checked = src, now
		if opts.Progress != nil {
			opts.Progress(FetchProgress{Source: src.Name, Done: true, NotModified: true})
		}
		return &staged{meta: &m}, nil
	case resp.StatusCode != http.StatusOK:
		return nil, &statusError{code: resp.StatusCode, status: resp.Status, retryAfter: resp.Header.Get("Retry-After")}
	}
	body := io.Reader(io.LimitReader(resp.Body, maxFeedSize+1))
	if opts.Progress != nil {
		body = &progressReader{r: body, p: FetchProgress{Source: src.Name, Total: resp.ContentLength}, fn: opts.Progress}
	}
	check, err := newIntegrity(resp)
	if err != nil {
		return nil, err
	}
	if check != nil {
		body = io.TeeReader(body, check)
	}
	s, err := d.stage(src, body)
	if err != nil {
		return nil, err
	}
	if err := verify(s.meta.Size, resp, check); err != nil {
		s.discard()
		return nil, err
	}
	s.meta.ETag = resp.Header.Get("ETag")
	s.meta.LastModified = resp.Header.Get("Last-Modified")
	s.meta.Fetched, s.meta.Checked = now, now
	if opts.Progress != nil {
		opts.Progress(FetchProgress{Source: src.Name, Bytes: s.meta.Size, Total: s.meta.Size, Done: true})
	}
	return s, nil
}

// integrity checks a download against the digest its server published:
// Google Cloud Storage (which serves osv.dev's data) sends
// "x-goog-hash: crc32c=…, md5=…"; a Content-MD5 header is honoured too.
type integrity struct {
	h    hash.Hash
	want []byte
}

func (i *integrity) Write(p []byte) (int, error) { return i.h.Write(p) }

func newIntegrity(resp *http.Response) (*integrity, error) {
	var b64 string
	for _, v := range resp.Header.Values("X-Goog-Hash") {
		for _, part := range strings.Split(v, ",") {
			if k, val, ok := strings.Cut(strings.TrimSpace(part), "="); ok && k == "md5" {
				b64 = val
			}
		}
	}
	if b64 == "" {
		b64 = resp.Header.Get("Content-MD5")
	}
	if b64 == "" {
		return nil, nil
	}
	want, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(want) != md5.Size {
		return nil, fmt.Errorf("malformed MD5 digest %q from the server", b64)
	}
	return &integrity{h: md5.New(), want: want}, nil
}

func verify(size int64, resp *http.Response, check *integrity) error {
	if size > maxFeedSize {
		return fmt.Errorf("larger than %d bytes", maxFeedSize)
	}
	if resp.ContentLength >= 0 && size != resp.ContentLength && resp.Header.Get("Content-Encoding") == "" {
		return fmt.Errorf("truncated download: %d of %d bytes", size, resp.ContentLength)
	}
	if check != nil {
		if got := check.h.Sum(nil); string(got) != string(check.want) {
			return fmt.Errorf("corrupt download: MD5 %x, the server published %x", got, check.want)
		}
	}
	return nil
}

type progressReader struct {
	r    io.Reader
	p    FetchProgress
	fn   func(FetchProgress)
	last time.Time
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.p.Bytes += int64(n)
	if now := time.Now(); now.Sub(r.last) > 100*time.Millisecond {
		r.last = now
		r.fn(r.p)
	}
	return n, err
}

// nvdPageSize is the NVD API's largest page.
const nvdPageSize = 2000

// NVD's documented public rate limits: 5 requests in a rolling 30-second
// window without an API key, 50 with one
// (https://nvd.nist.gov/developers/start-here).
const (
	nvdWindow       = 30 * time.Second
	nvdLimitNoKey   = 5
	nvdLimitWithKey = 50
	// nvdRetries bounds the retries of one page answered 429 or 503,
	// the answers NVD gives when it is throttling or overloaded.
	nvdRetries = 6
	nvdBackoff = 6 * time.Second
)

// statusError is a download answered with a status other than 200.
type statusError struct {
	code       int
	status     string
	retryAfter string
}

func (e *statusError) Error() string { return "HTTP " + e.status }

// nvdLimiter keeps requests within NVD's rolling window.
type nvdLimiter struct {
	limit int
	sent  []time.Time
}

// wait returns how long to wait before the next request at now.
func (l *nvdLimiter) wait(now time.Time) time.Duration {
	for len(l.sent) > 0 && now.Sub(l.sent[0]) >= nvdWindow {
		l.sent = l.sent[1:]
	}
	if len(l.sent) < l.limit {
		return 0
	}
	return l.sent[0].Add(nvdWindow).Sub(now)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fetchNVD pages through the NVD CVE API into one staged file per page
// (sources "nvd/page-0000", …), advancing startIndex by what each page
// held until totalResults, within NVD's rate limit, and retrying pages
// answered 429 or 503 with a growing pause (or the server's Retry-After).
func (d *Dir) fetchNVD(ctx context.Context, src Source, opts UpdateOptions) ([]*staged, error) {
	sleep := opts.sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	lim := &nvdLimiter{limit: nvdLimitNoKey}
	if opts.NVDAPIKey != "" {
		lim.limit = nvdLimitWithKey
	}
	var pages []*staged
	for start, total, n := 0, 1, 0; start < total; n++ {
		u, err := url.Parse(src.URL)
		if err != nil {
			return pages, err
		}
		q := u.Query()
		q.Set("startIndex", strconv.Itoa(start))
		q.Set("resultsPerPage", strconv.Itoa(nvdPageSize))
		u.RawQuery = q.Encode()
		page := Source{Name: fmt.Sprintf("%s/page-%04d", src.Name, n), Kind: KindNVD, URL: u.String()}
		var s *staged
		for attempt := 0; ; attempt++ {
			if err := sleep(ctx, lim.wait(opts.Now())); err != nil {
				return pages, err
			}
			lim.sent = append(lim.sent, opts.Now())
			s, err = d.fetchWith(ctx, page, opts, func(r *http.Request) {
				if opts.NVDAPIKey != "" {
					r.Header.Set("apiKey", opts.NVDAPIKey)
				}
			})
			var se *statusError
			if err == nil || !errors.As(err, &se) || (se.code != http.StatusTooManyRequests && se.code != http.StatusServiceUnavailable) || attempt == nvdRetries {
				break
			}
			pause := nvdBackoff << attempt
			if secs, perr := strconv.Atoi(se.retryAfter); perr == nil && secs > 0 {
				pause = time.Duration(secs) * time.Second
			}
			if err := sleep(ctx, pause); err != nil {
				return pages, err
			}
		}
		if err != nil {
			return pages, fmt.Errorf("vulndb: %s: %w", page.Name, err)
		}
		pages = append(pages, s)
		head, err := nvdHead(s.meta.path)
		if err != nil {
			return pages, fmt.Errorf("vulndb: %s: %w", page.Name, err)
		}
		total = head.total
		if head.count == 0 && start < total {
			return pages, fmt.Errorf("vulndb: %s: an empty page at startIndex %d of %d results", page.Name, start, total)
		}
		start += head.count
	}
	return pages, nil
}

// fetchWith is fetch with a hook to add request headers; the NVD API
// answers every request in full.
func (d *Dir) fetchWith(ctx context.Context, src Source, opts UpdateOptions, hook func(*http.Request)) (*staged, error) {
	client := *opts.Client
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		hook(r)
		r.Header.Del("If-None-Match")
		r.Header.Del("If-Modified-Since")
		return base.RoundTrip(r)
	})
	opts.Client = &client
	return d.fetch(ctx, src, opts)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// nvdPageHead is what paging needs of a staged NVD page.
type nvdPageHead struct{ total, count int }

// nvdHead reads totalResults and the number of CVEs of a staged page,
// one record in memory at a time. The CVEs are counted, not taken from
// resultsPerPage, which the API sets to the page size asked for.
func nvdHead(path string) (nvdPageHead, error) {
	f, err := os.Open(path)
	if err != nil {
		return nvdPageHead{}, err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReader(f))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nvdPageHead{}, errors.New("an NVD response is a JSON object")
	}
	var head nvdPageHead
	sawTotal := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return head, err
		}
		switch t {
		case "totalResults":
			if err := dec.Decode(&head.total); err != nil {
				return head, fmt.Errorf("totalResults: %w", err)
			}
			sawTotal = true
		case "vulnerabilities":
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				if t == nil && err == nil {
					continue // null: an empty page
				}
				return head, errors.New("vulnerabilities is not an array")
			}
			for dec.More() {
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return head, err
				}
				head.count++
			}
			if _, err := dec.Token(); err != nil {
				return head, err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return head, err
			}
		}
	}
	if !sawTotal {
		return head, errors.New("no totalResults in the NVD response")
	}
	return head, nil
}
