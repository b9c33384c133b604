package web

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vigilsec/vigil/internal/store"
)

type dashboardView struct {
	Counts       store.Counts
	Repositories int
	Images       int
	// Pending and Failed count images waiting for a scan and images whose
	// scan failed: "" for none, "100+" past a page.
	Pending, Failed string
	AtRisk          []store.Aggregate
	Vulns           []store.Aggregate
	Packages        []store.Aggregate
	Chart           *chart
	Decisions       []store.GateDecision
	// DecisionsError says why Decisions are missing.
	DecisionsError string
	// Feeds are the vulnerability database's feeds and their data's age.
	Feeds      []feedRow
	FeedsError string
}

// dashboard is a dozen aggregations and a bounded series of counts, run
// a few at a time.
func (c *console) dashboard(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	v := &dashboardView{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	g.Go(func() error {
		var err error
		v.Counts, err = c.count(gctx, store.FilterCriteria{FindingStatus: []store.StringFilter{{Comparison: "EQUALS", Value: store.Active}}})
		return err
	})
	g.Go(func() error {
		repos, err := c.opts.Store.ListRepositories(gctx)
		for _, r := range repos {
			v.Images += r.Images
		}
		v.Repositories = len(repos)
		return err
	})
	g.Go(func() error {
		for _, st := range []struct {
			status string
			n      *string
		}{{store.ScanPending, &v.Pending}, {store.ScanFailed, &v.Failed}} {
			ims, next, err := c.opts.Store.ListImages(gctx, store.ImageQuery{ScanStatus: st.status, Limit: 100})
			if err != nil {
				return err
			}
			switch {
			case next != "":
				*st.n = strconv.Itoa(len(ims)) + "+"
			case len(ims) > 0:
				*st.n = strconv.Itoa(len(ims))
			}
		}
		return nil
	})
	g.Go(func() error {
		var err error
		v.AtRisk, err = c.mostAtRisk(gctx, 6)
		return err
	})
	g.Go(func() error {
		var err error
		v.Vulns, _, err = c.opts.Store.AggregateFindings(gctx, store.AggregationQuery{Type: store.AggVulnerability, SortBy: "CRITICAL", Limit: 6})
		if err == nil && len(v.Vulns) > 0 && v.Vulns[0].Counts.Critical == 0 {
			v.Vulns, _, err = c.opts.Store.AggregateFindings(gctx, store.AggregationQuery{Type: store.AggVulnerability, SortBy: "HIGH", Limit: 6})
		}
		return err
	})
	g.Go(func() error {
		var err error
		v.Packages, _, err = c.opts.Store.AggregateFindings(gctx, store.AggregationQuery{Type: store.AggPackage, Limit: 6})
		return err
	})
	g.Go(func() error {
		var err error
		v.Chart, err = c.findingsChart(gctx, c.now(), chartDays)
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	var err error
	if v.Decisions, _, err = c.opts.Store.GateDecisions(ctx, store.GateDecisionQuery{Limit: 6}); err != nil {
		v.DecisionsError = c.errNote("Gate decisions", err)
	}
	if v.Feeds, err = c.feedRows(ctx); err != nil {
		v.FeedsError = c.errNote("Vulnerability data", err)
	}
	c.render(w, r, rc, http.StatusOK, "dashboard", "Dashboard", "dashboard", v)
	return nil
}

// mostAtRisk is the images with the most severe active findings:
// critical first, then high, and so on. Aggregations sort by one count,
// so the leaders by critical and by high are merged.
func (c *console) mostAtRisk(ctx context.Context, n int) ([]store.Aggregate, error) {
	seen := map[string]bool{}
	var all []store.Aggregate
	for _, by := range []string{"CRITICAL", "HIGH", "ALL"} {
		aggs, _, err := c.opts.Store.AggregateFindings(ctx, store.AggregationQuery{Type: store.AggImage, SortBy: by, Limit: 3 * n})
		if err != nil {
			return nil, err
		}
		for _, a := range aggs {
			if k := a.Repository + "@" + a.ImageDigest; !seen[k] {
				seen[k] = true
				all = append(all, a)
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return riskLess(all[j].Counts, all[i].Counts) })
	if len(all) > n {
		all = all[:n]
	}
	return all, nil
}

// chartDays is how far back the findings chart goes.
const chartDays = 30

// chart is the active findings of each day, by severity, as an SVG bar
// chart laid out here so that the template only draws.
type chart struct {
	Days []chartDay
	// Max is the tallest day's total, and Ticks the y axis' labels.
	Max    int
	Ticks  []chartTick
	W, H   float64
	Left   float64
	AxisX  float64 // where the y axis' labels end
	Bottom float64
	BarW   float64
	Labels []chartLabel
	Empty  bool
}

type chartDay struct {
	Day    time.Time
	Counts store.Counts
	X      float64
	Bars   []chartBar
	Label  string
}

type chartBar struct {
	Severity string
	Y, H     float64
}

type chartTick struct {
	Y     float64
	Label int
}

type chartLabel struct {
	X    float64
	Text string
}

// findingsChart counts, for each of the last days, the findings active at
// its end: those first observed by then that are ACTIVE now, or CLOSED
// after it. (A finding suppressed now is left out of every day: when it
// was suppressed is not recorded.) That is two aggregations a day,
// whatever the number of findings.
func (c *console) findingsChart(ctx context.Context, now time.Time, days int) (*chart, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	ch := &chart{Days: make([]chartDay, days)}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i := range ch.Days {
		day := today.AddDate(0, 0, i-days+1)
		end := day.Add(24*time.Hour - time.Millisecond)
		if end.After(now) {
			end = now
		}
		ch.Days[i].Day = day
		g.Go(func() error {
			after := end.Add(time.Millisecond)
			active, err := c.count(gctx, store.FilterCriteria{
				FindingStatus:   []store.StringFilter{{Comparison: "EQUALS", Value: store.Active}},
				FirstObservedAt: []store.DateFilter{{EndInclusive: &end}},
			})
			if err != nil {
				return err
			}
			closed, err := c.count(gctx, store.FilterCriteria{
				FindingStatus:   []store.StringFilter{{Comparison: "EQUALS", Value: store.Closed}},
				FirstObservedAt: []store.DateFilter{{EndInclusive: &end}},
				UpdatedAt:       []store.DateFilter{{StartInclusive: &after}},
			})
			if err != nil {
				return err
			}
			ch.Days[i].Counts = addCounts(active, closed)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	ch.layout()
	return ch, nil
}

func addCounts(a, b store.Counts) store.Counts {
	return store.Counts{
		Critical: a.Critical + b.Critical, High: a.High + b.High, Medium: a.Medium + b.Medium, Low: a.Low + b.Low,
		Informational: a.Informational + b.Informational, Untriaged: a.Untriaged + b.Untriaged, Total: a.Total + b.Total,
	}
}

// layout places the bars in a 720×220 viewBox.
func (ch *chart) layout() {
	ch.W, ch.H, ch.Left, ch.Bottom = 720, 220, 36, 24
	ch.AxisX = ch.Left - 6
	plotH := ch.H - ch.Bottom - 8
	for _, d := range ch.Days {
		ch.Max = max(ch.Max, d.Counts.Total)
	}
	ch.Empty = ch.Max == 0
	top := niceCeil(ch.Max)
	step := (ch.W - ch.Left) / float64(len(ch.Days))
	ch.BarW = step * 0.7
	for _, t := range []int{0, top / 2, top} {
		ch.Ticks = append(ch.Ticks, chartTick{Y: 8 + plotH - plotH*float64(t)/float64(top), Label: t})
	}
	for i := range ch.Days {
		d := &ch.Days[i]
		d.X = ch.Left + float64(i)*step + (step-ch.BarW)/2
		d.Label = d.Day.Format("Jan 2")
		y := 8 + plotH
		for _, sc := range countsList(d.Counts) {
			if sc.N == 0 {
				continue
			}
			h := plotH * float64(sc.N) / float64(top)
			y -= h
			d.Bars = append(d.Bars, chartBar{Severity: sc.Severity, Y: y, H: h})
		}
		if i%7 == 0 || i == len(ch.Days)-1 {
			ch.Labels = append(ch.Labels, chartLabel{X: d.X + ch.BarW/2, Text: d.Label})
		}
	}
}

// niceCeil rounds a chart's maximum up to 1, 2, 2.5 or 5 times a power
// of ten, and at least 4, so that the half-way tick is whole.
func niceCeil(n int) int {
	if n <= 4 {
		return 4
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{10, 20, 25, 50} {
			if v := m * p / 10; v >= n && v%2 == 0 {
				return v
			}
		}
	}
}
