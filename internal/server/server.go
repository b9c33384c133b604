// Package server is `vigil serve`: the registry under /v2/, the API under
// /api/, and scan workers, on one address, sharing one store. Everything a
// request acknowledges is in the store before the response goes out, and
// no process keeps state another could not take over: several servers (and
// `vigil worker` processes) can share one PostgreSQL store and one object
// storage.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/catalog"
	"github.com/vigilsec/vigil/internal/api"
	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/bus"
	"github.com/vigilsec/vigil/internal/egress"
	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/gate"
	"github.com/vigilsec/vigil/internal/lifecycle"
	"github.com/vigilsec/vigil/internal/registry"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/open"
	"github.com/vigilsec/vigil/internal/tempdir"
	"github.com/vigilsec/vigil/internal/vulndb"
	"github.com/vigilsec/vigil/internal/web"
	"github.com/vigilsec/vigil/internal/worker"
)

// Config is what `vigil serve` and `vigil worker` are told.
type Config struct {
	// Addr is the listening address (":5000").
	Addr string
	// DataDir holds the SQLite store, registry blobs (unless S3 is
	// used), the registry secret and the initial admin token.
	DataDir string
	// Store is the store's DSN: empty for SQLite in DataDir,
	// "postgres://…" for PostgreSQL.
	Store string
	// S3, when set, keeps registry blobs in S3-compatible storage.
	S3 *registry.S3Options
	// NoAuth switches authentication off, for local use only.
	NoAuth bool
	// Workers is the number of scan workers in this process (0: none).
	Workers int
	// DBDir is the vulnerability database directory; DBCheck how often
	// to look for a new database; DBUpdate how often to download feeds
	// (0: never — run `vigil db update` instead).
	DBDir    string
	DBCheck  time.Duration
	DBUpdate time.Duration
	// KeepDBVersions is how many database versions are kept, in
	// DBDir/versions, for gate decisions pinned to one (0:
	// DefaultKeepDBVersions; negative: none).
	KeepDBVersions int
	Upstream       vulndb.Upstream
	// NVDAPIKey is sent (header apiKey) to the NVD API by the scheduled
	// updates; it is never logged.
	NVDAPIKey string
	// Account and Region go into ARNs and events.
	Account, Region string
	// RegistryHost names the registry in findings; default from Addr.
	RegistryHost string
	// Lease is how long a job claim lasts without renewal.
	Lease time.Duration
	// ExpiryCheck is how often images past their repository's rescan
	// duration are looked for and made inactive (default 5 minutes).
	ExpiryCheck time.Duration
	// Secret signs registry upload state; processes sharing storage must
	// share it. Empty: read from (or created in) DataDir.
	Secret  string
	TempDir string
	// Rules and GatePolicies come from the configuration file: they are
	// written to the store at start, and rules the file no longer has
	// are removed.
	Rules        []store.EventRule
	GatePolicies []store.GatePolicy
	// GateTimeout is how long a gate request waits for a scan when
	// neither the request nor its policy says (default 30 minutes).
	GateTimeout time.Duration
	// SessionIdle, SessionLifetime and SecureCookies configure the
	// console's sessions (web.Options; zero durations: its defaults).
	SessionIdle, SessionLifetime time.Duration
	SecureCookies                bool
	// BusPoll, BackoffBase and BackoffMax tune event delivery (defaults
	// 250 ms, 1 s and 5 min).
	BusPoll, BackoffBase, BackoffMax time.Duration
	Log                              *slog.Logger

	// EgressAllow opens addresses the egress policy refuses by default
	// to webhooks and gate callbacks (CIDRs, addresses, host names; see
	// egress.Options); DeliveryTimeout bounds one attempt at one target
	// (default bus.DefaultTimeout).
	EgressAllow     []string
	DeliveryTimeout time.Duration
}

// Server is a running `vigil serve`.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    store.Store
	registry *registry.Registry
	dbs      *databases
	emitter  events.Emitter
	auth     *auth.Authenticator
	wake     chan struct{}
	analyzer *analyze.Analyzer
	warm     *warmer
	stream   *streamer
	gate     *gate.Gate
	kept     *keptVersions
	bus      *bus.Bus
	busWake  chan struct{}
	egress   *egress.Policy
	handler  http.Handler
	tmp      *tempdir.Dir
}

// New opens the store (applying migrations), the registry storage and the
// vulnerability database.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.DBCheck <= 0 {
		cfg.DBCheck = 30 * time.Second
	}
	if cfg.ExpiryCheck <= 0 {
		cfg.ExpiryCheck = 5 * time.Minute
	}
	if cfg.DataDir == "" {
		return nil, errors.New("server: no data directory")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if cfg.RegistryHost == "" {
		cfg.RegistryHost = hostOf(cfg.Addr)
	}
	policy, err := egress.New(egress.Options{Allow: cfg.EgressAllow})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	dsn := cfg.Store
	if dsn == "" {
		dsn = filepath.Join(cfg.DataDir, "vigil.db")
	}
	st, err := open.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, log: cfg.Log, store: st, egress: policy,
		dbs:     &databases{path: filepath.Join(cfg.DBDir, "vulndb.sqlite")},
		emitter: events.Emitter{Account: cfg.Account, Region: cfg.Region},
		auth:    &auth.Authenticator{Tokens: st, Disabled: cfg.NoAuth},
		wake:    make(chan struct{}, 1),
	}
	ok := false
	defer func() {
		if !ok {
			st.Close()
		}
	}()
	secret := cfg.Secret
	if secret == "" {
		if secret, err = fileSecret(filepath.Join(cfg.DataDir, "registry-secret")); err != nil {
			return nil, err
		}
	}
	ropts := registry.Options{
		Secret:    secret,
		Authorize: s.authorizeRegistry,
		OnPush:    s.onPush,
		OnDelete:  s.onDelete,
		OnPull:    s.onPull,
		OnBlob:    s.onBlob,
		Logger:    cfg.Log,
	}
	// Registry state: tag deletion and index references.
	ropts.OnUntag, ropts.BeforeDelete = s.onUntag, s.beforeDelete
	// Repository settings: immutable tags.
	ropts.BeforeRetag = s.beforeRetag
	if cfg.S3 != nil {
		ropts.S3 = cfg.S3
	} else {
		ropts.FilesystemRoot = filepath.Join(cfg.DataDir, "registry")
	}
	if s.registry, err = registry.New(ctx, ropts); err != nil {
		return nil, err
	}
	// Scans spool to a directory of the data directory's (or the
	// configured one), swept at start of what a crashed process left.
	tmpRoot := cfg.TempDir
	if tmpRoot == "" {
		tmpRoot = filepath.Join(cfg.DataDir, "tmp")
	}
	tmp, swept, err := tempdir.Create(tmpRoot)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	for _, p := range swept {
		cfg.Log.Info("removed the temporary directory of a process that is gone", "dir", p)
	}
	s.tmp = tmp
	defer func() {
		if !ok {
			tmp.Close()
		}
	}()
	aopts := []analyze.Option{analyze.WithCache(worker.LayerCache{Store: st, TempDir: tmp.Path()}), analyze.WithTempDir(tmp.Path())}
	if s.analyzer, err = analyze.New(catalog.Default(), aopts...); err != nil {
		return nil, err
	}
	s.warm = newWarmer(s.analyzer, s.registry, st, cfg.Log)
	s.gate = &gate.Gate{Store: st, Emitter: s.emitter, Timeout: cfg.GateTimeout, Egress: policy, Log: cfg.Log}
	keep := cfg.KeepDBVersions
	if keep == 0 {
		keep = DefaultKeepDBVersions
	}
	s.kept = &keptVersions{dir: filepath.Join(cfg.DBDir, "versions"), keep: keep}
	s.gate.Rematcher = rematcher{kept: s.kept, worker: s.newWorker("gate")}
	s.busWake = make(chan struct{}, 1)
	host, _ := os.Hostname()
	s.bus = &bus.Bus{
		Store: st, Gate: s.gate, Callbacks: s.gate, Egress: policy, Timeout: cfg.DeliveryTimeout, Log: cfg.Log,
		Owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), randomID()[:8]), Lease: time.Minute,
		Poll: cfg.BusPoll, BackoffBase: cfg.BackoffBase, BackoffMax: cfg.BackoffMax,
		Account: cfg.Account, Region: cfg.Region, Wake: s.busWake,
	}
	if err := s.configure(ctx); err != nil {
		return nil, err
	}
	if fresh, err := s.dbs.refresh(ctx); err != nil {
		cfg.Log.Warn("vulnerability database unreadable", "err", err)
	} else if fresh {
		s.keepVersion(ctx)
	}
	s.warnNoDatabase()
	mux := http.NewServeMux()
	s.stream = newStreamer(s.warm)
	mux.Handle("/v2/", s.stream.wrap(s.registry))
	mux.Handle("/v2", s.registry)
	mux.Handle("/api/", api.New(api.Options{
		Store: st, Auth: s.auth, ApplyRules: s.applyRules, Gate: s.gate, Wake: s.wakeBus, Egress: policy,
		Account: cfg.Account, Region: cfg.Region, Log: cfg.Log, DB: s.dbs, Referrers: s.referrers,
	}))
	mux.Handle("/", web.New(web.Options{
		Store: st, Auth: s.auth, ApplyRules: s.applyRules, Secret: secret,
		Account: cfg.Account, Region: cfg.Region, Log: cfg.Log, Feeds: s.webFeeds, Attachments: s.attachments,
		SessionIdle: cfg.SessionIdle, SessionLifetime: cfg.SessionLifetime, SecureCookies: cfg.SecureCookies,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	s.handler = mux
	ok = true
	return s, nil
}

// Handler serves everything the server serves (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

// Store is the server's store.
func (s *Server) Store() store.Store { return s.store }

// Close releases the store and database.
func (s *Server) Close() error {
	s.dbs.close()
	s.tmp.Close()
	return s.store.Close()
}

// Bootstrap makes sure someone can log in: when authentication is on and
// no token exists, it creates an admin token and writes it to a file in
// the data directory (readable by the owner only), never to the log. It
// returns the file's name, or "" when nothing was created.
func (s *Server) Bootstrap(ctx context.Context) (string, error) {
	if s.cfg.NoAuth {
		return "", nil
	}
	tokens, err := s.store.Tokens(ctx)
	if err != nil || len(tokens) > 0 {
		return "", err
	}
	secret, hash := auth.NewToken()
	id := randomID()
	if err := s.store.CreateToken(ctx, store.Token{ID: id, Name: "initial-admin", Role: store.RoleAdmin, Hash: hash, CreatedAt: time.Now().UTC()}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", nil // another process made it first
		}
		return "", err
	}
	file := filepath.Join(s.cfg.DataDir, "initial-admin-token")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		return "", err
	}
	return file, nil
}

// Run serves until ctx is done, then shuts down gracefully: it stops
// accepting, lets requests finish (up to 30 s), and stops workers, whose
// jobs go back to the queue at once.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	var wg sync.WaitGroup
	wctx, stopWorkers := context.WithCancel(context.Background())
	s.startBackground(wctx, &wg)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	// Workers stop first, so that their jobs go back at once rather than
	// after the last request (a long upload, say) has finished.
	stopWorkers()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && err == nil {
		err = serr
	}
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// RunWorkers runs only workers and the database watcher (`vigil worker`).
func (s *Server) RunWorkers(ctx context.Context) error {
	var wg sync.WaitGroup
	s.startBackground(ctx, &wg)
	<-ctx.Done()
	wg.Wait()
	return nil
}

func (s *Server) startBackground(ctx context.Context, wg *sync.WaitGroup) {
	host, _ := os.Hostname()
	for i := 0; i < s.cfg.Workers; i++ {
		w := s.newWorker(fmt.Sprintf("%s/%d/%s", host, os.Getpid(), randomID()[:8]))
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Run(ctx)
		}()
	}
	wg.Add(5)
	go func() {
		defer wg.Done()
		s.watchDatabase(ctx)
	}()
	go func() {
		defer wg.Done()
		s.watchExpiry(ctx, s.newWorker("expiry"))
	}()
	go func() {
		defer wg.Done()
		s.warm.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		s.bus.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		s.reconcileGate(ctx)
	}()
}

// reconcileGate settles, every two seconds, what the gate's events may
// have missed, and times out requests past their deadline.
func (s *Server) reconcileGate(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.gate.Reconcile(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("gate", "err", err)
			}
			if err := s.expireRules(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("suppression rules", "err", err)
			}
		}
	}
}

// metaRulesChecked is when expired suppression rules were last looked for.
const metaRulesChecked = "rules.expiry-checked"

// expireRules re-applies the suppression rules when one has expired since
// the last look, so that the findings it suppressed become ACTIVE when it
// ends rather than at the next scan.
func (s *Server) expireRules(ctx context.Context) error {
	now := time.Now().UTC()
	last, err := s.store.GetMeta(ctx, metaRulesChecked)
	if err != nil {
		return err
	}
	since, _ := time.Parse(time.RFC3339Nano, last)
	rules, err := s.store.Rules(ctx)
	if err != nil {
		return err
	}
	due := false
	for _, r := range rules {
		if !r.ExpiresAt.IsZero() && r.ExpiresAt.After(since) && !r.ExpiresAt.After(now) {
			due = true
		}
	}
	if due {
		if err := s.applyRules(ctx); err != nil {
			return err
		}
		s.log.Info("a suppression rule expired: rules re-applied")
	}
	if due || last == "" {
		return s.store.SetMeta(ctx, metaRulesChecked, now.Format(time.RFC3339Nano))
	}
	return nil
}

func (s *Server) wakeBus() {
	select {
	case s.busWake <- struct{}{}:
	default:
	}
}

// onBlob hands uploaded blobs to the warmer (set before serving starts).
func (s *Server) onBlob(repository, digest string) {
	if s.warm != nil && !isDatabaseArtifact(repository, "") {
		s.warm.notify(repository, digest)
	}
}

func (s *Server) newWorker(owner string) *worker.Worker {
	return &worker.Worker{
		Store: s.store, Images: warmImages{images: s.registry, warm: s.warm}, Analyzer: s.analyzer, DB: s.dbs, Emitter: s.emitter,
		RegistryHost: s.cfg.RegistryHost, Owner: owner, Lease: s.cfg.Lease, Poll: worker.DefaultPoll,
		Wake: s.wake, Log: s.log.With("worker", owner), Attach: s.registry,
	}
}

// watchExpiry makes images inactive when their rescan duration runs out,
// whether or not the database changes meanwhile.
func (s *Server) watchExpiry(ctx context.Context, w *worker.Worker) {
	t := time.NewTicker(s.cfg.ExpiryCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := w.Expire(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Error("rescan durations", "err", err)
			}
			if n > 0 {
				s.log.Info("images past their rescan duration made inactive", "images", n)
			}
		}
	}
}

// watchDatabase notices a new vulnerability database and has every stored
// image re-evaluated against it; with DBUpdate set it also downloads the
// feeds on that schedule.
func (s *Server) watchDatabase(ctx context.Context) {
	check := time.NewTicker(s.cfg.DBCheck)
	defer check.Stop()
	var update <-chan time.Time
	if s.cfg.DBUpdate > 0 {
		t := time.NewTicker(s.cfg.DBUpdate)
		defer t.Stop()
		update = t.C
	}
	s.databaseChanged(ctx)
	s.publishDatabase(ctx) // the database opened at start
	for {
		select {
		case <-ctx.Done():
			return
		case <-update:
			s.updateDatabase(ctx)
			s.databaseChanged(ctx)
		case <-check.C:
			s.databaseChanged(ctx)
		}
	}
}

func (s *Server) updateDatabase(ctx context.Context) {
	dir, err := vulndb.NewDir(s.cfg.DBDir)
	if err != nil {
		s.log.Error("vulnerability database update", "err", err)
		return
	}
	rep, err := dir.Update(ctx, s.cfg.Upstream.Sources(), vulndb.UpdateOptions{Client: &http.Client{Timeout: 30 * time.Minute}, NVDAPIKey: s.cfg.NVDAPIKey})
	if err != nil {
		s.log.Error("vulnerability database update failed; the previous database stays", "err", err)
		return
	}
	s.log.Info("vulnerability database updated", "fetched", len(rep.Fetched), "unchanged", len(rep.Unchanged), "advisories", rep.Build.Advisories)
}

// metaApplied records the database build every image was last re-evaluated
// against, so that each build is applied once however many processes see
// it.
const metaApplied = "vulndb.applied"

func (s *Server) databaseChanged(ctx context.Context) {
	fresh, err := s.dbs.refresh(ctx)
	if err != nil {
		s.log.Error("vulnerability database", "err", err)
		return
	}
	if fresh {
		s.logFeeds(ctx)
		s.keepVersion(ctx)
		defer s.publishDatabase(ctx)
	}
	built := s.dbs.built()
	if built.IsZero() {
		return
	}
	stamp := built.UTC().Format(time.RFC3339Nano)
	applied, err := s.store.GetMeta(ctx, metaApplied)
	if err != nil || applied == stamp {
		return
	}
	if applied == "" {
		// The first database this store has seen: no image was matched
		// before it, but those whose scan failed for want of one
		// complete with it.
		if err := s.retryFailed(ctx); err != nil {
			s.log.Error("enqueueing failed scans", "err", err)
			return
		}
		if err := s.store.SetMeta(ctx, metaApplied, stamp); err != nil {
			s.log.Error("recording the database build", "err", err)
		}
		return
	}
	if _, err := s.store.EnqueueJob(ctx, store.Job{Kind: store.JobRescan, CreatedAt: time.Now().UTC()}); err != nil {
		s.log.Error("enqueueing re-evaluation", "err", err)
		return
	}
	if err := s.store.SetMeta(ctx, metaApplied, stamp); err != nil {
		s.log.Error("recording the database build", "err", err)
	}
	s.log.Info("new vulnerability database: re-evaluating every image", "built", stamp)
	s.poke()
}

// retryFailed enqueues a re-evaluation of every image whose scan failed
// after its inventory was taken.
func (s *Server) retryFailed(ctx context.Context) error {
	next := ""
	for {
		page, n, err := s.store.ListImages(ctx, store.ImageQuery{ScanStatus: store.ScanFailed, Limit: 1000, Next: next})
		if err != nil {
			return err
		}
		for _, im := range page {
			if im.InventoryHash == "" {
				continue
			}
			if _, err := s.store.EnqueueJob(ctx, store.Job{Kind: store.JobRescan, Repository: im.Repository, Digest: im.Digest, CreatedAt: time.Now().UTC()}); err != nil {
				return err
			}
			s.poke()
		}
		if n == "" {
			return nil
		}
		next = n
	}
}

func (s *Server) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// applyRules re-applies suppression rules to every open finding, after a
// rule was created or deleted.
func (s *Server) applyRules(ctx context.Context) error {
	rules, err := s.store.Rules(ctx)
	if err != nil {
		return err
	}
	images := map[string]store.FindingContext{}
	next := ""
	for {
		page, n, err := s.store.ListImages(ctx, store.ImageQuery{Limit: 1000, Next: next})
		if err != nil {
			return err
		}
		for _, im := range page {
			images[im.Repository+"@"+im.Digest] = store.FindingContext{Tags: im.Tags, PushedAt: im.PushedAt}
		}
		if n == "" {
			break
		}
		next = n
	}
	rc := lifecycle.Reconciler{Emitter: s.emitter, Region: s.cfg.Region, Account: s.cfg.Account}
	touched := map[[2]string]bool{}
	err = s.store.UpdateAllFindings(ctx, func(existing []store.Finding) ([]store.Finding, []store.Event, error) {
		changed, evs, err := rc.Rules(existing, rules, images, time.Now().UTC())
		for _, f := range changed {
			touched[[2]string{f.Repository, f.ImageDigest}] = true
		}
		return changed, evs, err
	})
	if err != nil {
		return err
	}
	// The OpenVEX attached to each image touched says what triage decided.
	s.reattach(ctx, touched)
	return nil
}

func hostOf(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "localhost"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	if port == "443" {
		return host
	}
	return net.JoinHostPort(host, port)
}

// fileSecret reads a secret from a file, creating it on first use. The
// file is created exclusively, so processes starting together on one data
// directory end up with the same secret.
func fileSecret(name string) (string, error) {
	for i := 0; i < 50; i++ {
		b, err := os.ReadFile(name)
		if err == nil {
			if s := strings.TrimSpace(string(b)); len(s) >= 32 {
				return s, nil
			}
			time.Sleep(20 * time.Millisecond) // being written by another process
			continue
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("server: %w", err)
		}
		secret := randomID() + randomID()
		_, err = f.WriteString(secret + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("server: %w", err)
		}
		return secret, nil
	}
	return "", fmt.Errorf("server: %s is empty or too short", name)
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}
