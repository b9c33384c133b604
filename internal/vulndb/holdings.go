package vulndb

import (
	"context"
	"fmt"
)

// Ecosystems lists every ecosystem the database holds advisories for
// ("Alpine:v3.11", "Debian:11", "npm"), sorted: what a scan's coverage is
// judged against.
func (d *DB) Ecosystems(ctx context.Context) ([]string, error) {
	// A skip scan over the (ecosystem, name) index: one seek per
	// ecosystem instead of a pass over every affected row.
	rows, err := d.db.QueryContext(ctx, `WITH RECURSIVE e(x) AS (
		SELECT MIN(ecosystem) FROM affected
		UNION ALL
		SELECT (SELECT MIN(ecosystem) FROM affected WHERE ecosystem > e.x) FROM e WHERE e.x IS NOT NULL
	) SELECT x FROM e WHERE x IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("vulndb: ecosystems: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, fmt.Errorf("vulndb: ecosystems: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// EcosystemSources lists the feeds whose advisories name packages of an
// ecosystem ("debian-dsa", "debian-dla" for "Debian:11"), sorted; none
// when the database holds nothing for it. The build works it out once
// (see derived).
func (d *DB) EcosystemSources(ctx context.Context, ecosystem string) ([]string, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT source FROM ecosystem_sources WHERE ecosystem = ? ORDER BY source`, ecosystem)
	if err != nil {
		return nil, fmt.Errorf("vulndb: sources of %s: %w", ecosystem, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("vulndb: sources of %s: %w", ecosystem, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
