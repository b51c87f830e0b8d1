package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/bench/load"
	"github.com/taskgraph/taskgraph/internal/pgwire"
)

// runner holds one `make bench` run.
type runner struct {
	cfg     config
	root    string
	log     *logger
	machine machineInfo
	admin   *sqlx.DB
	key     *signingKey
	builds  []*build
	tmp     string
	live    []*liveRow // the subscribe scenarios, when run
	// createLive and writers are issue 19's rows, when run (bench/live.go).
	createLive *createLiveRow
	writers    *writersRow

	mu       sync.Mutex
	cleanups []func()
}

// build is one server binary under test, with its own database, issuer and tokens.
type build struct {
	name  string // "current" or "baseline"
	rev   string // what was built, for the report
	src   string
	bin   string
	out   string // its folder in the run's output
	db    *benchDB
	admin *sqlx.DB // a superuser session on db's cluster (sessions, backends' CPU)
	data  *dataset
	iss   *issuer
	toks  tokens
	state buildState
	srv   *serverProc // the load server (direct to PostgreSQL)

	captures map[string][]capture
	requests map[string][]request
	rows     map[string]*row

	buildTime, seedTime time.Duration
	jwks                jwksCount
}

// capture is one calibrated request and what the proxy saw of it.
type capture struct {
	i   int
	req request
	rec pgwire.Recording
}

type jwksCount struct {
	start   int64
	since   time.Time
	fetches int64
	elapsed time.Duration
}

func (r *runner) onCleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

func (r *runner) cleanup() {
	r.mu.Lock()
	fs := r.cleanups
	r.cleanups = nil
	r.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// tempDir is the run's scratch folder (binaries, a baseline's sources), removed at the end.
func (r *runner) tempDir() (string, error) {
	if r.tmp != "" {
		return r.tmp, nil
	}
	d, err := os.MkdirTemp("", "taskgraph-bench-")
	if err != nil {
		return "", err
	}
	r.tmp = d
	r.onCleanup(func() { _ = os.RemoveAll(d) })
	return d, nil
}

// prepareBuild compiles rev ("" = the working tree), gives it a seeded database, tokens and a
// calibration, and starts its load server.
func (r *runner) prepareBuild(ctx context.Context, name, rev string) (*build, error) {
	b := &build{name: name, out: filepath.Join(r.cfg.Out, name), admin: r.admin,
		captures: map[string][]capture{}, requests: map[string][]request{}, rows: map[string]*row{}}
	if err := os.MkdirAll(b.out, 0o755); err != nil {
		return nil, err
	}
	if err := r.compile(ctx, b, rev); err != nil {
		return nil, err
	}
	if len(r.cfg.Scenarios) == 0 { // only live rows: they have a database of their own (bench/live.go)
		return b, nil
	}
	if err := r.seedBuild(ctx, b); err != nil {
		return nil, err
	}
	if err := r.calibrate(ctx, b); err != nil {
		return nil, fmt.Errorf("%s: calibration: %w", name, err)
	}
	return b, r.startLoadServer(ctx, b)
}

// compile extracts rev ("" = the working tree) and builds b's binary.
func (r *runner) compile(ctx context.Context, b *build, rev string) error {
	tmp, err := r.tempDir()
	if err != nil {
		return err
	}
	t0 := time.Now()
	if b.src, b.rev, err = source(ctx, r.root, rev, filepath.Join(tmp, b.name+"-src")); err != nil {
		return err
	}
	b.bin = filepath.Join(tmp, "taskgraph-"+b.name)
	r.log.printf("%s: building %s", b.name, b.rev)
	if err := goBuild(ctx, b.src, b.bin, nil); err != nil {
		return err
	}
	b.buildTime = time.Since(t0)
	return nil
}

// seedBuild gives b a database of its own (migrated by its binary, seeded, dropped at the end
// unless BENCH_KEEP), its users, an issuer and their tokens.
func (r *runner) seedBuild(ctx context.Context, b *build) (err error) {
	t0 := time.Now()
	if b.db, err = createDB(ctx, r.admin, r.cfg.PGURL, b.name); err != nil {
		return err
	}
	r.onCleanup(func() {
		if r.cfg.Keep {
			r.log.printf("%s: kept database %s", b.name, b.db.name)
			return
		}
		if err := dropDB(r.admin, b.db); err != nil {
			r.log.printf("%s: drop %s: %v", b.name, b.db.name, err)
		}
	})
	r.log.printf("%s: database %s: migrate (with the binary), seed %d users × %d tasks + %d heavy",
		b.name, b.db.name, r.cfg.Users, r.cfg.Tasks, r.cfg.HeavyTasks)
	if err := migrate(ctx, b.bin, b.db); err != nil {
		return err
	}
	if err := seed(ctx, r.cfg, b.db); err != nil {
		return err
	}
	b.seedTime = time.Since(t0)
	r.log.printf("%s: seeded in %s", b.name, b.seedTime.Round(100*time.Millisecond))
	if b.data, err = loadDataset(ctx, b.db, r.cfg.TokenUsers); err != nil {
		return err
	}
	if b.iss, err = startIssuer(r.key); err != nil {
		return err
	}
	r.onCleanup(b.iss.close)
	b.toks, err = b.iss.mintAll(r.key, b.data)
	return err
}

// startLoadServer starts b's load server and prepares every scenario's requests against it.
func (r *runner) startLoadServer(ctx context.Context, b *build) (err error) {
	if b.srv, err = startServer(ctx, b.bin, b.db.url, b.iss, filepath.Join(b.out, "server.log"), r.cfg.ServerEnv); err != nil {
		return err
	}
	r.onCleanup(b.srv.stop)
	b.jwks.start, b.jwks.since = b.iss.fetches.Load(), time.Now()
	if b.state.cursor500, err = walkToPage(ctx, b.srv.url, b.toks.heavy[0], pageDepth); err != nil {
		return err
	}
	for _, name := range r.cfg.Scenarios {
		if b.requests[name], err = scenarioByName(name).prepare(b, &b.state); err != nil {
			return err
		}
	}
	return nil
}

// walkToPage follows after-cursors through pages of 20 and returns the cursor after page
// depth-1, i.e. the one that asks for page depth.
func walkToPage(ctx context.Context, url, token string, depth int) (string, error) {
	client := load.NewClient(1)
	defer client.CloseIdleConnections()
	var after any
	for page := 1; page < depth; page++ {
		body := fmt.Sprintf(`{"query":%q,"variables":{"first":20,"after":%s}}`, docPage, jsonValue(after))
		status, resp, err := load.Do(ctx, client, url, load.Request{Body: []byte(body), Token: token})
		if err == nil {
			err = load.DefaultCheck(status, resp)
		}
		if err != nil {
			return "", fmt.Errorf("walking to page %d, page %d: %w", depth, page, err)
		}
		c, ok := endCursor(resp)
		if !ok {
			return "", fmt.Errorf("walking to page %d: page %d has no next page", depth, page)
		}
		after = c
	}
	s, _ := after.(string)
	return s, nil
}

// calibrate runs each scenario's sample requests one at a time through the recording proxy, on
// a server of its own, and keeps what PostgreSQL was asked for each.
func (r *runner) calibrate(ctx context.Context, b *build) error {
	proxy, err := pgwire.Listen(hostPort(r.cfg.PGURL))
	if err != nil {
		return err
	}
	defer proxy.Close()
	purl, err := proxy.RewriteURL(b.db.url)
	if err != nil {
		return err
	}
	// The live-updates feed stays direct: a replication stream is never idle, and is no request's.
	env := append([]string{"DATABASE_LISTEN_URL=" + b.db.url}, r.cfg.ServerEnv...)
	srv, err := startServer(ctx, b.bin, purl, b.iss, filepath.Join(b.out, "server-calibration.log"), env)
	if err != nil {
		return err
	}
	defer srv.stop()
	st := buildState{}
	if st.cursor500, err = walkToPage(ctx, srv.url, b.toks.heavy[0], pageDepth); err != nil {
		return err
	}
	var pooled *pooledServer // started for the first scenario through PgBouncer
	defer func() { pooled.stop() }()
	client := load.NewClient(1)
	defer client.CloseIdleConnections()
	names := append(append([]string(nil), r.cfg.Scenarios...), "page100")
	for _, name := range names {
		s := scenarioByName(name)
		url := srv.url
		if s.pooled { // PgBouncer in front of the proxy: its round trips are what PostgreSQL sees
			if pooled == nil {
				if pooled, err = r.startPooled(ctx, b, "postgres://"+proxy.Addr(), "-calibration"); err != nil {
					return err
				}
			}
			url = pooled.srv.url
		}
		reqs, err := s.prepare(b, &st)
		if err != nil {
			return err
		}
		if err := r.record(ctx, b, proxy, client, url, name, reqs[:min(r.cfg.Samples, len(reqs))]); err != nil {
			return err
		}
	}
	r.log.printf("%s: calibrated %d scenarios through the proxy (%d requests each); page1: %.1f round trips",
		b.name, len(names), r.cfg.Samples, meanRoundTrips(b.captures["page1"]))
	return nil
}

// record sends reqs to url once to warm up, then again one at a time, keeping what the proxy saw
// for each, and writes the scenario's statements and captures.
func (r *runner) record(ctx context.Context, b *build, proxy *pgwire.Proxy, client *http.Client, url, name string, reqs []request) error {
	send := func(q request) error {
		status, body, err := load.Do(ctx, client, url, q.Request)
		if err == nil {
			err = q.checkAnswer(status, body)
		}
		return err
	}
	for _, q := range reqs { // warm: pool connections, plans, caches
		if err := send(q); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	for i, q := range reqs {
		proxy.Reset()
		if err := send(q); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := proxy.WaitIdle(wctx)
		cancel()
		if err != nil {
			return err
		}
		b.captures[name] = append(b.captures[name], capture{i: i, req: q, rec: proxy.Snapshot()})
	}
	if err := writeStatements(filepath.Join(b.out, "statements-"+name+".txt"), name, b.captures[name]); err != nil {
		return err
	}
	return writeCaptures(filepath.Join(b.out, "captures-"+name+".json"), b.captures[name])
}

func meanRoundTrips(cs []capture) float64 {
	if len(cs) == 0 {
		return 0
	}
	n := 0
	for _, c := range cs {
		n += c.rec.RoundTrips
	}
	return float64(n) / float64(len(cs))
}

func meanStatements(cs []capture) float64 {
	if len(cs) == 0 {
		return 0
	}
	n := 0
	for _, c := range cs {
		n += len(c.rec.Statements)
	}
	return float64(n) / float64(len(cs))
}

// writeCaptures keeps the proxy's recordings as JSON, for reading or regenerating scripts.
func writeCaptures(path string, cs []capture) error {
	recs := make([]pgwire.Recording, len(cs))
	for i, c := range cs {
		recs[i] = c.rec
	}
	j, err := json.MarshalIndent(recs, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, j, 0o644)
}

// writeStatements lists the first request's statements in full and every request's counts.
func writeStatements(path, name string, cs []capture) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for n, c := range cs {
		fmt.Fprintf(f, "# %s request %d (%s, %s): %d round trips, %d statements, %d new connections\n",
			name, c.i, c.req.kind.name, c.req.user.sub, c.rec.RoundTrips, len(c.rec.Statements), c.rec.Connections)
		if n > 0 {
			continue
		}
		for _, st := range c.rec.Statements {
			how := "extended, parsed"
			switch {
			case st.Simple:
				how = "simple query"
			case !st.Parsed:
				how = "extended, prepared " + st.Name
			}
			fmt.Fprintf(f, "  [conn %d, %s] %s\n", st.Conn, how, oneLine(st.SQL))
			for i, p := range st.Params {
				v, err := p.Text()
				if p.Null {
					v = "NULL"
				} else if err != nil {
					v = "<" + err.Error() + ">"
				}
				fmt.Fprintf(f, "      $%d = %s\n", i+1, v)
			}
			cols := ""
			if len(st.Columns) > 0 {
				cols = " (" + strings.Join(st.Columns, ", ") + ")"
			}
			fmt.Fprintf(f, "      → %s, %d rows%s%s\n", st.Tag, st.RowCount, cols, map[bool]string{true: ", ERROR " + st.Err}[st.Err != ""])
		}
	}
	return nil
}

// measureAll runs every scenario: under load against each build, then pgbench (b) for each
// build and (a) once, back to back, so that the ratios compare figures of the same minutes.
func (r *runner) measureAll(ctx context.Context) error {
	for _, name := range r.cfg.Scenarios {
		s := scenarioByName(name)
		for _, b := range r.builds {
			row, err := r.loadScenario(ctx, b, s)
			if err != nil {
				return fmt.Errorf("%s %s: %w", b.name, name, err)
			}
			b.rows[name] = row
			r.log.printf("%s %-8s %7.0f req/s  p50 %6.2f  p99 %6.2f ms  %d errors  %.2f CPU ms/req",
				b.name, name, row.RPS, row.P50, row.P99, row.Errors, row.CPUms)
		}
		for _, b := range r.builds {
			if err := r.pgbenchB(ctx, b, name); err != nil {
				return err
			}
		}
		tps, err := r.pgbenchA(ctx, name)
		if err != nil {
			return err
		}
		r.log.printf("pgbench  %-8s (a) %7.0f/s  (b) %s", name, tps, pgbList(r.builds, name))
	}
	for _, b := range r.builds {
		if b.iss == nil {
			continue
		}
		b.jwks.fetches = b.iss.fetches.Load() - b.jwks.start
		b.jwks.elapsed = time.Since(b.jwks.since)
	}
	return nil
}

// pgbenchB replays the statements b's server issued for the scenario in the calibration.
func (r *runner) pgbenchB(ctx context.Context, b *build, name string) error {
	var scripts []pgScript
	var recs []pgwire.Recording
	for _, c := range b.captures[name] {
		s, err := scriptFromCapture(fmt.Sprintf("(b) %s %s request %d", name, c.req.user.sub, c.i), c.rec)
		if err != nil {
			return err
		}
		scripts = append(scripts, s)
		recs = append(recs, c.rec)
	}
	res, err := runPgbench(ctx, r.cfg, b.db.name, protocolOf(recs), b.out, "pgbench-b-"+name, scripts)
	if err != nil {
		return fmt.Errorf("%s %s pgbench (b): %w", b.name, name, err)
	}
	b.rows[name].PgB, b.rows[name].PgBMode = res.TPS, protocolOf(recs)
	return nil
}

// pgbenchA runs the minimal SQL for the scenario's calibrated requests on the current build's
// database, once for every build's row.
func (r *runner) pgbenchA(ctx context.Context, name string) (float64, error) {
	cur := r.builds[len(r.builds)-1]
	var refs []pgScript
	for _, c := range cur.captures[name] {
		s, err := referenceScript(ctx, cur.db, c.req.kind, c.req.user, c.i)
		if err != nil {
			return 0, err
		}
		refs = append(refs, s)
	}
	res, err := runPgbench(ctx, r.cfg, cur.db.name, "prepared", cur.out, "pgbench-a-"+name, refs)
	if err != nil {
		return 0, fmt.Errorf("%s pgbench (a): %w", name, err)
	}
	for _, b := range r.builds {
		b.rows[name].PgA = res.TPS
	}
	return res.TPS, nil
}

func pgbList(builds []*build, name string) string {
	var parts []string
	for _, b := range builds {
		parts = append(parts, fmt.Sprintf("%s %.0f/s", b.name, b.rows[name].PgB))
	}
	return strings.Join(parts, ", ")
}

// loadOne drives one scenario against srv, a server of build b, and samples the server's process,
// PostgreSQL's session count and, when poolerPid is not 0, PgBouncer's CPU at the window's edges.
func (r *runner) loadOne(ctx context.Context, b *build, s *scenario, srv *serverProc, poolerPid int) (*row, error) {
	reqs := b.requests[s.name]
	w := &loadWindow{ctx: ctx, b: b, srv: srv, pid: srv.pid(), poolerPid: poolerPid}
	res, err := load.Run(ctx, load.Options{
		URL: srv.url, Conns: r.cfg.Conns, Warmup: r.cfg.Warmup, Duration: r.cfg.Duration,
		Next:   func(i uint64) load.Request { return reqs[i%uint64(len(reqs))].Request },
		Window: w.edge,
	})
	if err != nil {
		return nil, err
	}
	if w.err != nil {
		return nil, w.err
	}
	n := float64(max(1, res.Requests()))
	o, c := w.open, w.close
	row := &row{
		Scenario: s.name, Requests: res.Requests(), Errors: res.Errors, FirstErrors: res.FirstErrors,
		RPS: res.RPS(),
		P50: ms(res.Percentile(0.50)), P90: ms(res.Percentile(0.90)), P99: ms(res.Percentile(0.99)), Max: ms(res.Max()),
		RoundTrips:     meanRoundTrips(b.captures[s.name]),
		Statements:     meanStatements(b.captures[s.name]),
		CPUms:          ms(c.cpu-o.cpu) / n,
		LoadgenCPUms:   ms(c.self-o.self) / n,
		PoolerCPUms:    ms(c.pooler-o.pooler) / n,
		PGCPUms:        ms(c.pg-o.pg) / n,
		RSSMB:          float64(w.rss) / (1 << 20),
		SessionsPerSec: float64(c.sessions-o.sessions) / r.cfg.Duration.Seconds(),
		AllocKB:        -1,
		GCs:            -1,
	}
	if c.total > o.total {
		row.HostBusyPct = 100 * float64(c.busy-o.busy) / float64(c.total-o.total)
	}
	if o.m.ok && c.m.ok {
		row.AllocKB = (c.m.allocBytes - o.m.allocBytes) / 1024 / n
		row.GCs = c.m.gcCount - o.m.gcCount
	}
	return row, nil
}

// loadWindow samples loadOne's figures at the window's edges; the first error is kept.
type loadWindow struct {
	ctx         context.Context
	b           *build
	srv         *serverProc
	pid         int
	poolerPid   int
	open, close loadSample
	rss         int64 // the server's peak RSS in the window
	err         error
}

// loadSample is one edge's counters.
type loadSample struct {
	m                     goMetrics
	cpu, self, pooler, pg time.Duration
	sessions, busy, total int64
}

func (w *loadWindow) note(err error) {
	if err != nil && w.err == nil {
		w.err = err
	}
}

// edge samples at the window's opening (the server's CPU last) and closing (its CPU first), so
// that the server's CPU is read over the window itself.
func (w *loadWindow) edge(open bool) {
	var err error
	if open {
		o := &w.open
		o.m = scrapeGoMetrics(w.srv.base)
		w.note(resetPeakRSS(w.pid))
		o.sessions, err = sessions(w.ctx, w.b.admin, w.b.db.name)
		w.note(err)
		o.busy, o.total = hostBusy()
		o.self, _ = cpuTime(os.Getpid())
		o.pooler = w.poolerCPU()
		o.pg = backendsCPU(w.ctx, w.b)
		o.cpu, err = cpuTime(w.pid)
		w.note(err)
		return
	}
	c := &w.close
	c.cpu, err = cpuTime(w.pid)
	w.note(err)
	c.pg = backendsCPU(w.ctx, w.b)
	c.pooler = w.poolerCPU()
	c.self, _ = cpuTime(os.Getpid())
	c.busy, c.total = hostBusy()
	w.rss, err = peakRSS(w.pid)
	w.note(err)
	c.sessions, err = sessions(w.ctx, w.b.admin, w.b.db.name)
	w.note(err)
	c.m = scrapeGoMetrics(w.srv.base)
}

// poolerCPU is PgBouncer's CPU so far (0 without one).
func (w *loadWindow) poolerCPU() time.Duration {
	if w.poolerPid == 0 {
		return 0
	}
	d, err := cpuTime(w.poolerPid)
	w.note(err)
	return d
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// logger prints progress to stderr and keeps it in the run's log.txt.
type logger struct {
	start time.Time
	w     io.Writer
}

func newLog(dir string) *logger {
	l := &logger{start: time.Now(), w: os.Stderr}
	if err := os.MkdirAll(dir, 0o755); err == nil {
		if f, err := os.Create(filepath.Join(dir, "log.txt")); err == nil {
			l.w = io.MultiWriter(os.Stderr, f)
		}
	}
	return l
}

func (l *logger) printf(format string, args ...any) {
	fmt.Fprintf(l.w, "[%5.1fs] %s\n", time.Since(l.start).Seconds(), fmt.Sprintf(format, args...))
}
