package sqlstore

import (
	"fmt"
	"strings"

	"github.com/vigilsec/vigil/internal/store"
)

// cond is a SQL condition on findings (alias f; images as i when image is
// set, joined with LEFT JOIN because a deleted image's findings remain).
type cond struct {
	sql   string
	args  []any
	image bool
}

// buildFilter translates filter criteria into SQL with the meaning of
// store.FilterCriteria.Match: filters of one field OR together, except
// NOT_EQUALS filters which AND together; fields AND together. Every value
// is a parameter.
func buildFilter(fc *store.FilterCriteria) (cond, error) {
	var c cond
	add := func(sql string, args []any) {
		if sql != "" {
			c.sql = joinAnd(c.sql, sql)
			c.args = append(c.args, args...)
		}
	}
	sql, args, err := strCond("findingArn", fc.FindingArn, arnTerm)
	if err != nil {
		return c, err
	}
	add(sql, args)
	for _, f := range []struct {
		field, col string
		filters    []store.StringFilter
	}{
		{"ecrImageRepositoryName", "f.repository", fc.EcrImageRepositoryName},
		{"ecrImageHash", "f.image_digest", fc.EcrImageHash},
		{"severity", "f.severity", fc.Severity},
		{"findingStatus", "f.status", fc.FindingStatus},
		{"fixAvailable", "f.fix_available", fc.FixAvailable},
		{"exploitAvailable", "f.exploit_available", fc.ExploitAvailable},
		{"vulnerabilityId", "f.vulnerability_id", fc.VulnerabilityID},
		{"title", "f.title", fc.Title},
	} {
		sql, args, err := strCond(f.field, f.filters, colTerm(f.col))
		if err != nil {
			return c, err
		}
		add(sql, args)
	}
	sql, args, err = tagCond(fc.EcrImageTags)
	if err != nil {
		return c, err
	}
	add(sql, args)
	sql, args, err = packageCond(fc.VulnerablePackages)
	if err != nil {
		return c, err
	}
	add(sql, args)
	for _, n := range []struct {
		col     string
		filters []store.NumberFilter
	}{{"f.epss", fc.EpssScore}, {"f.score", fc.InspectorScore}} {
		add(numberCond(n.col, n.filters))
	}
	for _, d := range []struct {
		col     string
		filters []store.DateFilter
	}{
		{"f.first_observed_at", fc.FirstObservedAt}, {"f.last_observed_at", fc.LastObservedAt},
		// A deleted image has no push time: 0, the zero time, as
		// Match sees it in an empty FindingContext.
		{"f.updated_at", fc.UpdatedAt}, {"COALESCE(i.pushed_at, 0)", fc.EcrImagePushedAt},
	} {
		add(dateCond(d.col, d.filters))
	}
	c.image = len(fc.EcrImagePushedAt) > 0
	return c, nil
}

func joinAnd(a, b string) string {
	if a == "" {
		return b
	}
	return a + " AND " + b
}

// term renders one string comparison. For NOT_EQUALS it renders the
// equality, which strCond negates.
type term func(comparison, value string) (sql string, args []any)

func colTerm(col string) term {
	return func(cmp, v string) (string, []any) {
		if cmp == "PREFIX" {
			return col + ` LIKE ? ESCAPE '\'`, []any{likePrefix(v)}
		}
		return col + " = ?", []any{v}
	}
}

// likePrefix escapes LIKE's wildcards in a prefix and appends one.
func likePrefix(v string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(v) + "%"
}

// checkString rejects what Match rejects, naming the field.
func checkString(field string, f store.StringFilter) error {
	if f.Value == "" {
		return invalid("filter %s: empty value", field)
	}
	switch f.Comparison {
	case "EQUALS", "PREFIX", "NOT_EQUALS":
		return nil
	}
	return invalid("filter %s: unknown comparison %q (want EQUALS, PREFIX or NOT_EQUALS)", field, f.Comparison)
}

// strCond combines one field's filters: (any positive) AND NOT (any
// NOT_EQUALS).
func strCond(field string, fs []store.StringFilter, t term) (string, []any, error) {
	if len(fs) == 0 {
		return "", nil, nil
	}
	var pos, neg []string
	var posArgs, negArgs []any
	for _, f := range fs {
		if err := checkString(field, f); err != nil {
			return "", nil, err
		}
		sql, args := t(f.Comparison, f.Value)
		if f.Comparison == "NOT_EQUALS" {
			neg, negArgs = append(neg, sql), append(negArgs, args...)
		} else {
			pos, posArgs = append(pos, sql), append(posArgs, args...)
		}
	}
	var out string
	if len(pos) > 0 {
		out = "(" + strings.Join(pos, " OR ") + ")"
	}
	if len(neg) > 0 {
		out = joinAnd(out, "NOT ("+strings.Join(neg, " OR ")+")")
	}
	return "(" + out + ")", append(posArgs, negArgs...), nil
}

// arnPrefix begins every finding ARN. Only a finding's id is stored, so a
// findingArn filter is compared by the id it names; the region and
// account parts are not compared (one Vigil has one of each).
const arnPrefix = "arn:aws:inspector2:"

func arnTerm(cmp, v string) (string, []any) {
	const all, none = "1 = 1", "1 = 0"
	if !strings.HasPrefix(v, arnPrefix) {
		if cmp == "PREFIX" && strings.HasPrefix(arnPrefix, v) {
			return all, nil
		}
		return none, nil
	}
	parts := strings.SplitN(v[len(arnPrefix):], ":", 3)
	if len(parts) < 3 {
		if cmp == "PREFIX" {
			return all, nil // a prefix of some region and account
		}
		return none, nil
	}
	tail := parts[2]
	if cmp == "PREFIX" && strings.HasPrefix("finding/", tail) {
		return all, nil
	}
	id, ok := strings.CutPrefix(tail, "finding/")
	if !ok || (cmp != "PREFIX" && id == "") {
		return none, nil
	}
	if cmp == "PREFIX" {
		return `f.id LIKE ? ESCAPE '\'`, []any{likePrefix(id)}
	}
	return "f.id = ?", []any{id}
}

// tagCond matches when any tag of the finding's image matches a positive
// filter and no tag equals a NOT_EQUALS one.
func tagCond(fs []store.StringFilter) (string, []any, error) {
	if len(fs) == 0 {
		return "", nil, nil
	}
	// Not correlated: the database finds the matching images once,
	// instead of looking up tags for every finding it considers.
	const tags = "(f.repository, f.image_digest) IN (SELECT t.repository, t.digest FROM tags t WHERE "
	var pos, neg []string
	var posArgs, negArgs []any
	t := colTerm("t.tag")
	for _, f := range fs {
		if err := checkString("ecrImageTags", f); err != nil {
			return "", nil, err
		}
		sql, args := t(f.Comparison, f.Value)
		if f.Comparison == "NOT_EQUALS" {
			neg, negArgs = append(neg, sql), append(negArgs, args...)
		} else {
			pos, posArgs = append(pos, sql), append(posArgs, args...)
		}
	}
	var out string
	if len(pos) > 0 {
		out = tags + strings.Join(pos, " OR ") + ")"
	}
	if len(neg) > 0 {
		out = joinAnd(out, "NOT "+tags+strings.Join(neg, " OR ")+")")
	}
	return "(" + out + ")", append(posArgs, negArgs...), nil
}

// packageCond matches when any package filter matches, a package filter
// matching when every field it sets does.
func packageCond(pfs []store.PackageFilter) (string, []any, error) {
	if len(pfs) == 0 {
		return "", nil, nil
	}
	var alts []string
	var args []any
	for i, pf := range pfs {
		var all string
		for _, part := range []struct {
			name, col string
			f         *store.StringFilter
		}{
			{"name", "f.package_name", pf.Name}, {"version", "f.package_version", pf.Version},
			{"filePath", "f.file_path", pf.FilePath}, {"sourceLayerHash", "f.layer_diff_id", pf.SourceLayerHash},
		} {
			if part.f == nil {
				continue
			}
			sql, a, err := strCond(fmt.Sprintf("vulnerablePackages[%d].%s", i, part.name), []store.StringFilter{*part.f}, colTerm(part.col))
			if err != nil {
				return "", nil, err
			}
			all, args = joinAnd(all, sql), append(args, a...)
		}
		if all == "" {
			all = "1 = 1"
		}
		alts = append(alts, "("+all+")")
	}
	return "(" + strings.Join(alts, " OR ") + ")", args, nil
}

// numberCond matches a value in any of the inclusive ranges; a finding
// without the value matches none.
func numberCond(col string, fs []store.NumberFilter) (string, []any) {
	if len(fs) == 0 {
		return "", nil
	}
	var ranges []string
	var args []any
	for _, f := range fs {
		r := "1 = 1"
		if f.LowerInclusive != nil {
			r, args = joinAnd(r, col+" >= ?"), append(args, *f.LowerInclusive)
		}
		if f.UpperInclusive != nil {
			r, args = joinAnd(r, col+" <= ?"), append(args, *f.UpperInclusive)
		}
		ranges = append(ranges, "("+r+")")
	}
	return "(" + col + " IS NOT NULL AND (" + strings.Join(ranges, " OR ") + "))", args
}

// dateCond matches a time in any of the inclusive ranges. Stored times
// are whole milliseconds, so the bounds are rounded inwards.
func dateCond(col string, fs []store.DateFilter) (string, []any) {
	if len(fs) == 0 {
		return "", nil
	}
	var ranges []string
	var args []any
	for _, f := range fs {
		r := "1 = 1"
		if f.StartInclusive != nil {
			r, args = joinAnd(r, col+" >= ?"), append(args, msCeil(*f.StartInclusive))
		}
		if f.EndInclusive != nil {
			r, args = joinAnd(r, col+" <= ?"), append(args, f.EndInclusive.UnixMilli())
		}
		ranges = append(ranges, "("+r+")")
	}
	return "(" + strings.Join(ranges, " OR ") + ")", args
}
