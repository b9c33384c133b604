package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/store"
)

//go:embed templates
var templateFS embed.FS

// pages holds one template set per page: the layout, the shared partials
// and the page's own "content".
type pages struct {
	sets map[string]*template.Template
}

func mustParsePages(a *assets) *pages {
	funcs := templateFuncs(a)
	p := &pages{sets: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err) // a bad pattern: a programming error
	}
	for _, n := range names {
		base := strings.TrimSuffix(n[len("templates/"):], ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		// The templates are compiled into the binary: a failure here is
		// a programming error that every test run shows.
		p.sets[base] = template.Must(template.New(base).Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/partials.html", n))
	}
	return p
}

// frame is what the layout needs around a page's body.
type frame struct {
	Title        string
	Nav          string // the section the page belongs to
	User         *auth.Principal
	CanWrite     bool
	CSRF         string
	AuthDisabled bool
	Flash        string
	Body         any
}

// flashes are the messages a redirect after a change may ask for
// (?msg=…): a fixed set, so that a link cannot put words in the
// console's mouth.
var flashes = map[string]string{
	"suppression-created": "Suppression rule created; matching findings are now SUPPRESSED.",
	"suppression-deleted": "Suppression rule deleted; the findings it suppressed are ACTIVE again unless another rule matches them.",
	"rule-enabled":        "Event rule enabled.",
	"rule-disabled":       "Event rule disabled: it matches no events until it is enabled again.",
	"rule-deleted":        "Event rule deleted.",
	"redriven":            "Dead deliveries moved back to pending; they are attempted again now.",
	"policy-deleted":      "Gate policy deleted.",
}

// render writes a page inside the layout. The page is rendered to a
// buffer first, so that a template failure is an error page rather than
// half a page.
func (c *console) render(w http.ResponseWriter, r *http.Request, rc *reqCtx, status int, page, title, nav string, body any) {
	f := frame{
		Title: title, Nav: nav, User: rc.principal, CanWrite: rc.canWrite, CSRF: rc.csrf,
		AuthDisabled: c.opts.Auth.Disabled, Flash: flashes[r.URL.Query().Get("msg")], Body: body,
	}
	c.pages.execute(w, status, page, "layout", f, c)
}

// renderBare writes a page without navigation (sign-in, and errors
// before sign-in).
func (p *pages) renderBare(w http.ResponseWriter, status int, page string, body any) {
	p.execute(w, status, page, "bare", frame{Body: body}, nil)
}

func (p *pages) execute(w http.ResponseWriter, status int, page, layout string, f frame, c *console) {
	var buf bytes.Buffer
	t, ok := p.sets[page]
	if !ok {
		http.Error(w, "web: no page "+page, http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, layout, f); err != nil {
		if c != nil {
			c.opts.Log.Error("web: rendering failed", "page", page, "err", err)
		}
		http.Error(w, "The console could not render this page; the server log has the details.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// redirect answers a POST with a redirect to a page, with a flash
// message.
func redirect(w http.ResponseWriter, r *http.Request, to, msg string) {
	if msg != "" {
		sep := "?"
		if strings.Contains(to, "?") {
			sep = "&"
		}
		to += sep + "msg=" + url.QueryEscape(msg)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

var severityOrder = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNTRIAGED"}

// sevCount is one severity's count, for the templates.
type sevCount struct {
	Severity string
	N        int
}

func countsList(cs store.Counts) []sevCount {
	return []sevCount{
		{"CRITICAL", cs.Critical}, {"HIGH", cs.High}, {"MEDIUM", cs.Medium},
		{"LOW", cs.Low}, {"INFORMATIONAL", cs.Informational}, {"UNTRIAGED", cs.Untriaged},
	}
}

// barSeg is one severity's part of a stacked bar, in SVG user units.
type barSeg struct {
	Severity string
	X, W     float64
	N        int
}

// sevBar lays a counts' severities out along a bar of width units.
func sevBar(cs store.Counts, width float64) []barSeg {
	total := cs.Total
	if total == 0 {
		return nil
	}
	var out []barSeg
	x := 0.0
	for _, sc := range countsList(cs) {
		if sc.N == 0 {
			continue
		}
		w := width * float64(sc.N) / float64(total)
		out = append(out, barSeg{Severity: sc.Severity, X: x, W: w, N: sc.N})
		x += w
	}
	return out
}

func sevClass(s string) string {
	switch s {
	case "CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL":
		return "sev-" + strings.ToLower(s)
	}
	return "sev-untriaged"
}

func sevLabel(s string) string {
	if s == "INFORMATIONAL" {
		return "Info"
	}
	if s == "" {
		return "Untriaged"
	}
	return s[:1] + strings.ToLower(s[1:])
}

// shortDigest is "sha256:" and the first 12 hex digits.
func shortDigest(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return algo + ":" + hex[:12]
}

func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = "just now"
		return s
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		s = plural(int(d/time.Hour), "hour")
	case d < 60*24*time.Hour:
		s = plural(int(d/(24*time.Hour)), "day")
	default:
		return t.UTC().Format("2006-01-02")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") && !strings.HasSuffix(word, "ay") {
		return strconv.Itoa(n) + " " + word[:len(word)-1] + "ies"
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func fmtScore(p *float64) string {
	if p == nil {
		return "—"
	}
	return strconv.FormatFloat(*p, 'f', 1, 64)
}

// fmtEPSS shows a probability as a percentage, with enough digits to
// tell small ones apart.
func fmtEPSS(p *float64) string {
	if p == nil {
		return "—"
	}
	v := *p * 100
	switch {
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + "%"
	case v >= 0.01:
		return strconv.FormatFloat(v, 'f', 2, 64) + "%"
	}
	return strconv.FormatFloat(v, 'f', 3, 64) + "%"
}

func imageURL(repo, digest string) string { return "/images/" + escapePath(repo) + "@" + digest }
func repoURL(repo string) string          { return "/repositories/" + escapePath(repo) }
func findingURL(id string) string         { return "/findings/" + url.PathEscape(id) }

// escapePath escapes each segment of a repository name, keeping its
// slashes.
func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

func prettyJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

func templateFuncs(a *assets) template.FuncMap {
	return template.FuncMap{
		"asset":       a.url,
		"sevClass":    sevClass,
		"sevLabel":    sevLabel,
		"severities":  func() []string { return severityOrder },
		"counts":      countsList,
		"sevBar":      sevBar,
		"short":       shortDigest,
		"when":        when,
		"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"ago":         func(t time.Time) string { return ago(time.Now(), t) },
		"score":       fmtScore,
		"epss":        fmtEPSS,
		"imageURL":    imageURL,
		"repoURL":     repoURL,
		"findingURL":  findingURL,
		"pretty":      prettyJSON,
		"plural":      plural,
		"join":        strings.Join,
		"lower":       strings.ToLower,
		"contains":    func(list []string, s string) bool { return contains(list, s) },
		"add":         func(a, b int) int { return a + b },
		"fmtf":        func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
		"pct":         func(n, total int) string { return pct(n, total) },
		"stateClass":  stateClass,
		"upper":       strings.ToUpper,
		"trimPrefix":  strings.TrimPrefix,
		"derefInt":    derefInt,
		"derefFloat":  derefFloat,
		"arnID":       arnID,
		"sub":         func(a, b int) int { return a - b },
		"int64":       func(i int64) string { return strconv.FormatInt(i, 10) },
		"statusClass": func(s string) string { return "st-" + strings.ToLower(s) },
		"dict":        dict,
		"osName":      osName,
		"epochTime":   func(e report.Epoch) time.Time { return time.Time(e) },
		"bytes":       humanBytes,
		"printf":      fmt.Sprintf,
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func pct(n, total int) string {
	if total == 0 {
		return "0"
	}
	return strconv.FormatFloat(math.Round(1000*float64(n)/float64(total))/10, 'f', -1, 64)
}

// stateClass colours states of rules, deliveries and decisions.
func stateClass(s string) string {
	switch strings.ToUpper(s) {
	case "ENABLED", "DELIVERED", "APPROVED", "COMPLETE", "ACTIVE":
		return "ok"
	case "DISABLED", "PENDING", "SCANNING", "SUPPRESSED", "INACTIVE":
		return "muted"
	case "DEAD", "REJECTED", "FAILED", "UNSUPPORTED":
		return "bad"
	}
	return "muted"
}

func derefInt(p *int) string {
	if p == nil {
		return "any"
	}
	return strconv.Itoa(*p)
}

func derefFloat(p *float64) string {
	if p == nil {
		return "none"
	}
	return strconv.FormatFloat(*p, 'f', -1, 64)
}

// arnID is the finding id at the end of a finding ARN.
func arnID(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// invalidMessage is the part of a store's ErrInvalid meant for the user.
func invalidMessage(err error) string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, store.ErrInvalid.Error()+": "); ok {
		return rest
	}
	return strings.TrimPrefix(msg, "store: ")
}

// errNote is a section of a page that could not be loaded: the page
// still renders, with the note in the section's place.
func (c *console) errNote(what string, err error) string {
	c.opts.Log.Warn("web: section unavailable", "what", what, "err", err)
	return fmt.Sprintf("%s could not be loaded; the server log has the details.", what)
}

// dict passes several values to a partial template: dict "k1" v1 "k2" v2.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("web: dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("web: dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// humanBytes is a size in binary units ("31.5 MiB").
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}

// osName writes a stored distribution ("debian 12") as people do.
func osName(d string) string {
	id, ver, _ := strings.Cut(d, " ")
	names := map[string]string{"debian": "Debian", "ubuntu": "Ubuntu", "alpine": "Alpine Linux", "rhel": "Red Hat Enterprise Linux",
		"almalinux": "AlmaLinux", "rocky": "Rocky Linux", "centos": "CentOS", "fedora": "Fedora", "amzn": "Amazon Linux",
		"opensuse-leap": "openSUSE Leap", "sles": "SUSE Linux Enterprise", "wolfi": "Wolfi", "chainguard": "Chainguard", "distroless": "Distroless"}
	if n, ok := names[id]; ok {
		id = n
	}
	return strings.TrimSpace(id + " " + ver)
}
