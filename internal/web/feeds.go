package web

import (
	"context"
	"strconv"
	"time"
)

// Feed is one vulnerability feed of the database scans use, as the
// dashboard shows it. DataAsOf is how recent its data is (zero when
// unknown), From what that was read from.
type Feed struct {
	Name     string
	Records  int
	DataAsOf time.Time
	From     string
}

// feedRow is a Feed laid out for the dashboard.
type feedRow struct {
	Name    string
	Records int
	AsOf    string // "2026-08-21 (104 days)", or "unknown"
	From    string
	// Old marks data more than a week old, the default --db-max-age.
	Old bool
}

func (c *console) feedRows(ctx context.Context) ([]feedRow, error) {
	if c.opts.Feeds == nil {
		return nil, nil
	}
	feeds, err := c.opts.Feeds(ctx)
	if err != nil {
		return nil, err
	}
	now := c.now()
	var rows []feedRow
	for _, f := range feeds {
		r := feedRow{Name: f.Name, Records: f.Records, AsOf: "unknown", From: "no date in the data or its file"}
		if !f.DataAsOf.IsZero() {
			age := now.Sub(f.DataAsOf)
			r.AsOf = f.DataAsOf.UTC().Format("2006-01-02") + " (" + strconv.Itoa(int(age.Hours()/24)) + " days)"
			r.From, r.Old = f.From, age > 7*24*time.Hour
		}
		rows = append(rows, r)
	}
	return rows, nil
}
