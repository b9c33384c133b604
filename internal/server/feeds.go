package server

import (
	"context"
	"time"

	"github.com/vigilsec/vigil/internal/vulndb"
	"github.com/vigilsec/vigil/internal/web"
)

// sources lists the feeds of the database in use; nil when there is none.
func (d *databases) sources(ctx context.Context) ([]vulndb.SourceStatus, error) {
	db, release, err := d.Acquire()
	if err != nil {
		return nil, nil
	}
	defer release()
	return db.Sources(ctx)
}

// logFeeds logs each feed of a newly opened database with the age of its
// data (not of its download), so that an operator sees at start-up, and
// after every update, how current each feed is.
func (s *Server) logFeeds(ctx context.Context) {
	srcs, err := s.dbs.sources(ctx)
	if err != nil {
		s.log.Error("vulnerability database: listing feeds", "err", err)
		return
	}
	now := time.Now()
	for _, f := range srcs {
		age, ok := f.DataAge(now)
		if !ok {
			s.log.Info("vulnerability feed", "feed", f.Name, "records", f.Records, "dataAsOf", "unknown", "why", "no date in the data or its file")
			continue
		}
		s.log.Info("vulnerability feed", "feed", f.Name, "records", f.Records, "dataAsOf", f.Updated.UTC().Format(time.RFC3339),
			"from", f.UpdatedFrom, "ageDays", int(age.Hours()/24))
	}
}

// webFeeds gives the console the database's feeds and their data's age.
func (s *Server) webFeeds(ctx context.Context) ([]web.Feed, error) {
	srcs, err := s.dbs.sources(ctx)
	if err != nil {
		return nil, err
	}
	var out []web.Feed
	for _, f := range srcs {
		wf := web.Feed{Name: f.Name, Records: f.Records}
		if _, ok := f.DataAge(time.Now()); ok {
			wf.DataAsOf, wf.From = f.Updated, f.UpdatedFrom
		}
		out = append(out, wf)
	}
	return out, nil
}
