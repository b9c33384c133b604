package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/vigilsec/vigil/internal/store"
)

// aggSpec groups findings for one aggregation type.
type aggSpec struct {
	keys   []string // GROUP BY columns, scanned in order into the Aggregate
	images string   // distinct images in the group, "" when not counted
	dest   func(a *store.Aggregate) []any
}

const distinctImages = "COUNT(DISTINCT f.repository || '@' || f.image_digest)"

var aggs = map[string]aggSpec{
	store.AggRepository: {
		keys: []string{"f.repository"}, images: "COUNT(DISTINCT f.image_digest)",
		dest: func(a *store.Aggregate) []any { return []any{&a.Repository} },
	},
	store.AggImage: {
		keys: []string{"f.repository", "f.image_digest"},
		dest: func(a *store.Aggregate) []any { return []any{&a.Repository, &a.ImageDigest} },
	},
	store.AggLayer: {
		keys: []string{"f.repository", "f.image_digest", "f.layer_diff_id"},
		dest: func(a *store.Aggregate) []any { return []any{&a.Repository, &a.ImageDigest, &a.LayerDiffID} },
	},
	store.AggPackage: {
		keys: []string{"f.package_name"}, images: distinctImages,
		dest: func(a *store.Aggregate) []any { return []any{&a.PackageName} },
	},
	store.AggTitle: {
		keys: []string{"f.title", "f.vulnerability_id"}, images: distinctImages,
		dest: func(a *store.Aggregate) []any { return []any{&a.Title, &a.VulnerabilityID} },
	},
	store.AggVulnerability: {
		keys: []string{"f.vulnerability_id"}, images: distinctImages,
		dest: func(a *store.Aggregate) []any { return []any{&a.VulnerabilityID} },
	},
	// Every finding Vigil makes is a package vulnerability: one group.
	store.AggType: {dest: func(*store.Aggregate) []any { return nil }},
}

// The count columns, named so that ORDER BY can use them.
var countCols = []struct{ name, expr string }{
	{"critical", "f.severity = 'CRITICAL'"},
	{"high", "f.severity = 'HIGH'"},
	{"medium", "f.severity = 'MEDIUM'"},
	{"low", "f.severity = 'LOW'"},
	{"informational", "f.severity = 'INFORMATIONAL'"},
	{"untriaged", "f.severity NOT IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL')"},
}

var aggSorts = map[string]string{
	"ALL": "total", "CRITICAL": "critical", "HIGH": "high", "MEDIUM": "medium",
	"LOW": "low", "INFORMATIONAL": "informational", "UNTRIAGED": "untriaged",
}

// AggregateFindings counts findings per group, most first by the chosen
// count, then by the group's key; pages are offsets into that order.
func (s *Store) AggregateFindings(ctx context.Context, q store.AggregationQuery) ([]store.Aggregate, string, error) {
	spec, ok := aggs[q.Type]
	if !ok {
		return nil, "", invalid("aggregation type %q", q.Type)
	}
	sortBy := q.SortBy
	if sortBy == "" {
		sortBy = "ALL"
	}
	sortCol, ok := aggSorts[sortBy]
	if !ok {
		return nil, "", invalid("aggregation sort %q (want ALL, CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL or UNTRIAGED)", sortBy)
	}
	c, err := buildFilter(&q.Filter)
	if err != nil {
		return nil, "", err
	}
	if len(q.Filter.FindingStatus) == 0 {
		c.sql = joinAnd(c.sql, "f.status = 'ACTIVE'")
	}
	hash := queryHash("aggregate", q.Type, q.Filter, sortBy)
	offset := 0
	if q.Next != "" {
		t, err := decodeToken(q.Next, hash)
		if err != nil {
			return nil, "", err
		}
		offset = t.Offset
	}
	n := limit(q.Limit)

	cols := append([]string(nil), spec.keys...)
	if spec.images != "" {
		cols = append(cols, spec.images)
	}
	for _, cc := range countCols {
		cols = append(cols, "COALESCE(SUM(CASE WHEN "+cc.expr+" THEN 1 ELSE 0 END), 0) AS "+cc.name)
	}
	cols = append(cols, "COUNT(*) AS total")
	query := "SELECT " + strings.Join(cols, ", ") + " FROM findings f"
	if c.image {
		query += joinImages
	}
	query += " WHERE " + c.sql
	order := sortCol + " DESC"
	if len(spec.keys) > 0 {
		query += " GROUP BY " + strings.Join(spec.keys, ", ")
		order += ", " + strings.Join(spec.keys, ", ")
	}
	query += " ORDER BY " + order + " LIMIT ? OFFSET ?"
	args := append(c.args, n+1, offset)

	var out []store.Aggregate
	err = s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.q(query), args...)
		if err != nil {
			return s.dbErr("aggregate findings", err)
		}
		defer rows.Close()
		for rows.Next() {
			var a store.Aggregate
			dest := spec.dest(&a)
			if spec.images != "" {
				dest = append(dest, &a.Images)
			}
			c := &a.Counts
			dest = append(dest, &c.Critical, &c.High, &c.Medium, &c.Low, &c.Informational, &c.Untriaged, &c.Total)
			if err := rows.Scan(dest...); err != nil {
				return s.dbErr("aggregate findings", err)
			}
			if q.Type == store.AggType {
				if a.Counts.Total == 0 {
					continue // no findings: no group
				}
				a.FindingType = "PACKAGE_VULNERABILITY"
			}
			out = append(out, a)
		}
		if err := rows.Err(); err != nil {
			return s.dbErr("aggregate findings", err)
		}
		rows.Close()
		if q.Type != store.AggImage || len(out) == 0 {
			return nil
		}
		page := out[:min(len(out), n)]
		ims := make([]store.Image, len(page))
		for i, a := range page {
			ims[i] = store.Image{Repository: a.Repository, Digest: a.ImageDigest}
		}
		values, args := imageKeys(ims)
		tags, err := s.tagsOf(ctx, tx, values, args)
		if err != nil {
			return err
		}
		for i := range page {
			page[i].Tags = tags[[2]string{page[i].Repository, page[i].ImageDigest}]
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > n {
		out = out[:n]
		next = encodeOffset(hash, offset+n)
	}
	return out, next, nil
}
