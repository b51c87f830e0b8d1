package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	tmp, err := r.tempDir()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if b.src, b.rev, err = source(ctx, r.root, rev, filepath.Join(tmp, name+"-src")); err != nil {
		return nil, err
	}
	b.bin = filepath.Join(tmp, "taskgraph-"+name)
	r.log.printf("%s: building %s", name, b.rev)
	if err := goBuild(ctx, b.src, b.bin, nil); err != nil {
		return nil, err
	}
	b.buildTime = time.Since(t0)
	if len(r.cfg.Scenarios) == 0 { // only live rows: they have a database of their own (bench/live.go)
		return b, nil
	}

	t0 = time.Now()
	if b.db, err = createDB(ctx, r.admin, r.cfg.PGURL, name); err != nil {
		return nil, err
	}
	r.onCleanup(func() {
		if r.cfg.Keep {
			r.log.printf("%s: kept database %s", name, b.db.name)
			return
		}
		if err := dropDB(r.admin, b.db); err != nil {
			r.log.printf("%s: drop %s: %v", name, b.db.name, err)
		}
	})
	r.log.printf("%s: database %s: migrate (with the binary), seed %d users × %d tasks + %d heavy",
		name, b.db.name, r.cfg.Users, r.cfg.Tasks, r.cfg.HeavyTasks)
	if err := migrate(ctx, b.bin, b.db); err != nil {
		return nil, err
	}
	if err := seed(ctx, r.cfg, b.db); err != nil {
		return nil, err
	}
	b.seedTime = time.Since(t0)
	r.log.printf("%s: seeded in %s", name, b.seedTime.Round(100*time.Millisecond))
	if b.data, err = loadDataset(ctx, b.db, r.cfg.TokenUsers); err != nil {
		return nil, err
	}
	if b.iss, err = startIssuer(r.key); err != nil {
		return nil, err
	}
	r.onCleanup(b.iss.close)
	if b.toks, err = b.iss.mintAll(r.key, b.data); err != nil {
		return nil, err
	}

	if err := r.calibrate(ctx, b); err != nil {
		return nil, fmt.Errorf("%s: calibration: %w", name, err)
	}

	if b.srv, err = startServer(ctx, b.bin, b.db.url, b.iss, filepath.Join(b.out, "server.log"), r.cfg.ServerEnv); err != nil {
		return nil, err
	}
	r.onCleanup(b.srv.stop)
	b.jwks.start, b.jwks.since = b.iss.fetches.Load(), time.Now()
	if b.state.cursor500, err = walkToPage(ctx, b.srv.url, b.toks.heavy[0], pageDepth); err != nil {
		return nil, err
	}
	for _, name := range r.cfg.Scenarios {
		if b.requests[name], err = scenarioByName(name).prepare(b, &b.state); err != nil {
			return nil, err
		}
	}
	return b, nil
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
	url := srv.url
	send := func(q request) error {
		status, body, err := load.Do(ctx, client, url, q.Request)
		if err == nil {
			err = q.checkAnswer(status, body)
		}
		return err
	}
	names := append([]string(nil), r.cfg.Scenarios...)
	names = append(names, "page100")
	for _, name := range names {
		s := scenarioByName(name)
		url = srv.url
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
		reqs = reqs[:min(r.cfg.Samples, len(reqs))]
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
		if err := writeCaptures(filepath.Join(b.out, "captures-"+name+".json"), b.captures[name]); err != nil {
			return err
		}
	}
	r.log.printf("%s: calibrated %d scenarios through the proxy (%d requests each); page1: %.1f round trips",
		b.name, len(names), r.cfg.Samples, meanRoundTrips(b.captures["page1"]))
	return nil
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
	cur := r.builds[len(r.builds)-1]
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
		}
		var refs []pgScript
		for _, c := range cur.captures[name] {
			s, err := referenceScript(ctx, cur.db, c.req.kind, c.req.user, c.i)
			if err != nil {
				return err
			}
			refs = append(refs, s)
		}
		res, err := runPgbench(ctx, r.cfg, cur.db.name, "prepared", cur.out, "pgbench-a-"+name, refs)
		if err != nil {
			return fmt.Errorf("%s pgbench (a): %w", name, err)
		}
		for _, b := range r.builds {
			b.rows[name].PgA = res.TPS
		}
		r.log.printf("pgbench  %-8s (a) %7.0f/s  (b) %s", name, res.TPS, pgbList(r.builds, name))
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
	pid := srv.pid()
	var (
		cpu0, cpu1, self0, self1 time.Duration
		pooler0, pooler1         time.Duration
		pg0, pg1                 time.Duration
		sess0, sess1             int64
		busy0, total0, busy, tot int64
		m0, m1                   goMetrics
		rss                      int64
		sampleErr                error
	)
	note := func(err error) {
		if err != nil && sampleErr == nil {
			sampleErr = err
		}
	}
	res, err := load.Run(ctx, load.Options{
		URL: srv.url, Conns: r.cfg.Conns, Warmup: r.cfg.Warmup, Duration: r.cfg.Duration,
		Next: func(i uint64) load.Request { return reqs[i%uint64(len(reqs))].Request },
		Window: func(open bool) {
			var err error
			if open {
				m0 = scrapeGoMetrics(srv.base)
				note(resetPeakRSS(pid))
				sess0, err = sessions(ctx, b.admin, b.db.name)
				note(err)
				busy0, total0 = hostBusy()
				self0, _ = cpuTime(os.Getpid())
				if poolerPid != 0 {
					pooler0, err = cpuTime(poolerPid)
					note(err)
				}
				pg0 = backendsCPU(ctx, b)
				cpu0, err = cpuTime(pid)
				note(err)
				return
			}
			cpu1, err = cpuTime(pid)
			note(err)
			pg1 = backendsCPU(ctx, b)
			if poolerPid != 0 {
				pooler1, err = cpuTime(poolerPid)
				note(err)
			}
			self1, _ = cpuTime(os.Getpid())
			busy, tot = hostBusy()
			rss, err = peakRSS(pid)
			note(err)
			sess1, err = sessions(ctx, b.admin, b.db.name)
			note(err)
			m1 = scrapeGoMetrics(srv.base)
		},
	})
	if err != nil {
		return nil, err
	}
	if sampleErr != nil {
		return nil, sampleErr
	}
	n := float64(max(1, res.Requests()))
	row := &row{
		Scenario: s.name, Requests: res.Requests(), Errors: res.Errors, FirstErrors: res.FirstErrors,
		RPS: res.RPS(),
		P50: ms(res.Percentile(0.50)), P90: ms(res.Percentile(0.90)), P99: ms(res.Percentile(0.99)), Max: ms(res.Max()),
		RoundTrips:     meanRoundTrips(b.captures[s.name]),
		Statements:     meanStatements(b.captures[s.name]),
		CPUms:          ms(cpu1-cpu0) / n,
		LoadgenCPUms:   ms(self1-self0) / n,
		PoolerCPUms:    ms(pooler1-pooler0) / n,
		PGCPUms:        ms(pg1-pg0) / n,
		RSSMB:          float64(rss) / (1 << 20),
		SessionsPerSec: float64(sess1-sess0) / r.cfg.Duration.Seconds(),
		AllocKB:        -1,
		GCs:            -1,
	}
	if tot > total0 {
		row.HostBusyPct = 100 * float64(busy-busy0) / float64(tot-total0)
	}
	if m0.ok && m1.ok {
		row.AllocKB = (m1.allocBytes - m0.allocBytes) / 1024 / n
		row.GCs = m1.gcCount - m0.gcCount
	}
	return row, nil
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
