package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/store"
)

// repoRow is a repository with its active findings' counts.
type repoRow struct {
	store.Repository
	Counts store.Counts
}

type repositoriesView struct {
	Repos []repoRow
	// Images counts the images of every repository.
	Images int
}

func (c *console) repositories(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	repos, err := c.opts.Store.ListRepositories(ctx)
	if err != nil {
		return err
	}
	aggs, _, err := c.opts.Store.AggregateFindings(ctx, store.AggregationQuery{Type: store.AggRepository, Limit: 1000})
	if err != nil {
		return err
	}
	counts := map[string]store.Counts{}
	for _, a := range aggs {
		counts[a.Repository] = a.Counts
	}
	v := repositoriesView{}
	for _, repo := range repos {
		v.Repos = append(v.Repos, repoRow{Repository: repo, Counts: counts[repo.Name]})
		v.Images += repo.Images
	}
	sort.SliceStable(v.Repos, func(i, j int) bool { return riskLess(v.Repos[j].Counts, v.Repos[i].Counts) })
	c.render(w, r, rc, http.StatusOK, "repositories", "Repositories", "repositories", v)
	return nil
}

// riskLess orders counts by the most severe findings first: critical,
// then high, and so on.
func riskLess(a, b store.Counts) bool {
	for _, p := range [][2]int{{a.Critical, b.Critical}, {a.High, b.High}, {a.Medium, b.Medium}, {a.Low, b.Low}, {a.Untriaged, b.Untriaged}, {a.Informational, b.Informational}} {
		if p[0] != p[1] {
			return p[0] < p[1]
		}
	}
	return false
}

type repositoryView struct {
	Repo     *store.Repository
	Images   []store.Image
	Next     string
	NextURL  string
	Counts   store.Counts
	Packages []store.Aggregate
	Error    string
}

func (c *console) repository(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	name := r.PathValue("name")
	repo, err := c.opts.Store.Repository(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("Repository %q does not exist: nothing was pushed to it.", name))
	}
	if err != nil {
		return err
	}
	v := repositoryView{Repo: repo}
	images, next, err := c.opts.Store.ListImages(ctx, store.ImageQuery{Repository: name, Limit: pageSize, Next: r.URL.Query().Get("next")})
	if errors.Is(err, store.ErrInvalid) {
		v.Error = invalidMessage(err)
	} else if err != nil {
		return err
	}
	v.Images, v.Next = images, next
	if next != "" {
		v.NextURL = repoURL(name) + "?next=" + next
	}
	repoFilter := store.FilterCriteria{EcrImageRepositoryName: []store.StringFilter{{Comparison: "EQUALS", Value: name}}}
	aggs, _, err := c.opts.Store.AggregateFindings(ctx, store.AggregationQuery{Type: store.AggRepository, Filter: repoFilter, Limit: 1})
	if err != nil {
		return err
	}
	if len(aggs) > 0 {
		v.Counts = aggs[0].Counts
	}
	if v.Packages, _, err = c.opts.Store.AggregateFindings(ctx, store.AggregationQuery{Type: store.AggPackage, Filter: repoFilter, SortBy: "CRITICAL", Limit: 8}); err != nil {
		return err
	}
	status := http.StatusOK
	if v.Error != "" {
		status = http.StatusBadRequest
	}
	c.render(w, r, rc, status, "repository", name, "repositories", v)
	return nil
}

type imageView struct {
	Image    *store.Image
	Layers   []store.Aggregate
	Findings *findingList
	// Decisions are the gate's latest on the image; DecisionsError says
	// why they are missing.
	Decisions      []store.GateDecision
	DecisionsError string
	// Gaps and Limits are what the last scan could not assess and what
	// limits what it could; Warnings its analysis' per-file warnings
	// (the first maxPageWarnings; WarningsMore counts the rest).
	Gaps, Limits  []string
	Warnings      []pageWarning
	WarningsMore  int
	CoverageError string
	// Attachments are the artifacts attached to the image.
	Attachments      []Attachment
	AttachmentsError string
}

// pageWarning is an analysis warning as the scanner stores it.
type pageWarning struct {
	Layer      int    `json:"layer"`
	Path       string `json:"path"`
	Message    string `json:"message"`
	Incomplete string `json:"incomplete"`
}

// maxPageWarnings bounds the warnings an image page lists.
const maxPageWarnings = 200

// coverageOf fills in the image's coverage and warnings.
func (c *console) coverageOf(ctx context.Context, v *imageView) {
	rec, err := c.opts.Store.ImageCoverage(ctx, v.Image.Repository, v.Image.Digest)
	if errors.Is(err, store.ErrNotFound) {
		return
	}
	if err != nil {
		v.CoverageError = c.errNote("Coverage", err)
		return
	}
	var cov *coverage.Coverage
	if err := json.Unmarshal(rec.Coverage, &cov); err != nil {
		v.CoverageError = c.errNote("Coverage", err)
		return
	}
	v.Gaps, v.Limits = cov.Gaps(), cov.Limits()
	if err := json.Unmarshal(rec.Warnings, &v.Warnings); err != nil {
		v.CoverageError = c.errNote("Warnings", err)
		return
	}
	if n := len(v.Warnings); n > maxPageWarnings {
		v.Warnings, v.WarningsMore = v.Warnings[:maxPageWarnings], n-maxPageWarnings
	}
}

// image is /images/{repository}@{digest}: the image, its layers, the
// gate's decisions on it and its findings under the page's filter.
func (c *console) image(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	ref := r.PathValue("ref")
	i := strings.LastIndex(ref, "@")
	if i <= 0 || !digestRE.MatchString(ref[i+1:]) {
		return notFound(fmt.Sprintf("%q is not an image reference (repository@sha256:…).", ref))
	}
	repo, digest := ref[:i], ref[i+1:]
	im, err := c.opts.Store.Image(ctx, repo, digest)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("Image %s@%s does not exist; it may have been deleted.", repo, digest))
	}
	if err != nil {
		return err
	}
	f := parseFilter(r.URL.Query(), imageURL(repo, digest))
	f.scope(repo, digest)
	l, err := c.listFindings(ctx, f)
	if err != nil {
		return err
	}
	v := imageView{Image: im, Findings: l}
	layerFilter := store.FilterCriteria{
		EcrImageRepositoryName: []store.StringFilter{{Comparison: "EQUALS", Value: repo}},
		EcrImageHash:           []store.StringFilter{{Comparison: "EQUALS", Value: digest}},
	}
	if v.Layers, _, err = c.opts.Store.AggregateFindings(ctx, store.AggregationQuery{Type: store.AggLayer, Filter: layerFilter, Limit: 100}); err != nil {
		return err
	}
	if v.Decisions, _, err = c.opts.Store.GateDecisions(ctx, store.GateDecisionQuery{Repository: repo, Digest: digest, Limit: 5}); err != nil {
		v.DecisionsError = c.errNote("Gate decisions", err)
	}
	c.coverageOf(ctx, &v)
	c.attachmentsOf(ctx, &v)
	status := http.StatusOK
	if len(f.Errors) > 0 {
		status = http.StatusBadRequest
	}
	title := repo + "@" + shortDigest(digest)
	if len(im.Tags) > 0 {
		title = repo + ":" + im.Tags[0]
	}
	c.render(w, r, rc, status, "image", title, "repositories", v)
	return nil
}
