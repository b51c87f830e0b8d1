package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/bench/load"
	"github.com/taskgraph/taskgraph/internal/pgwire"
)

// The live rows of issue 19 (subscribe, create-live, writers) run on a database of their own on
// a cluster with wal_level=logical: the private one startLiveCluster makes, or BENCH_LIVE_PG_URL.
// There the server's feed is the logical one (LIVE_FEED's default, auto), which is what the
// issue's targets are about; the rows say which feed ran.
const (
	createLiveScenario = "create-live"
	writersScenario    = "writers"
)

// prepareLive gives the current build a seeded database on the live cluster, an issuer and
// tokens of its own, and starts its load server there.
func (r *runner) prepareLive(ctx context.Context, cur *build) (*build, error) {
	pgURL, own := r.cfg.LivePGURL, r.cfg.LivePGURL == ""
	if own {
		r.log.printf("live: starting a private PostgreSQL cluster with wal_level=logical")
		c, err := startLiveCluster(ctx)
		if err != nil {
			return nil, fmt.Errorf("live cluster: %w", err)
		}
		r.onCleanup(c.Close)
		pgURL = c.URL
	}
	admin, err := openAdmin(ctx, pgURL)
	if err != nil {
		return nil, err
	}
	r.onCleanup(func() { _ = admin.Close() })
	lb := &build{name: "live", rev: cur.rev, src: cur.src, bin: cur.bin, out: filepath.Join(r.cfg.Out, "live"), admin: admin,
		captures: map[string][]capture{}, requests: map[string][]request{}, rows: map[string]*row{}}
	if err := os.MkdirAll(lb.out, 0o755); err != nil {
		return nil, err
	}
	if err := r.seedLive(ctx, lb, pgURL, own); err != nil {
		return nil, err
	}
	if lb.iss, err = startIssuer(r.key); err != nil {
		return nil, err
	}
	r.onCleanup(lb.iss.close)
	if lb.toks, err = lb.iss.mintAll(r.key, lb.data); err != nil {
		return nil, err
	}
	if lb.requests["create"], err = scenarioByName("create").prepare(lb, &lb.state); err != nil {
		return nil, err
	}
	lb.requests[createLiveScenario] = lb.requests["create"]
	if lb.srv, err = startServer(ctx, lb.bin, lb.db.url, lb.iss, filepath.Join(lb.out, "server.log"), liveServerEnv(r.cfg)); err != nil {
		return nil, err
	}
	r.onCleanup(lb.srv.stop)
	r.log.printf("live: seeded in %s; the server's feed is %q", lb.seedTime.Round(100*time.Millisecond), serverFeed(ctx, lb.srv.base))
	return lb, nil
}

// seedLive creates the live rows' database on pgURL (dropped at the end unless it goes with the
// cluster, own, or BENCH_KEEP), migrates and seeds it, and loads its users.
func (r *runner) seedLive(ctx context.Context, lb *build, pgURL string, own bool) (err error) {
	var walLevel string
	if err := lb.admin.GetContext(ctx, &walLevel, "SHOW wal_level"); err != nil {
		return err
	}
	t0 := time.Now()
	if lb.db, err = createDB(ctx, lb.admin, pgURL, "live"); err != nil {
		return err
	}
	r.onCleanup(func() {
		if own { // the cluster goes with it
			return
		}
		if r.cfg.Keep {
			r.log.printf("live: kept database %s", lb.db.name)
			return
		}
		waitSlotsGone(lb.admin, lb.db.name) // a database with a replication slot cannot be dropped
		if err := dropDB(lb.admin, lb.db); err != nil {
			r.log.printf("live: drop %s: %v", lb.db.name, err)
		}
	})
	// The subscribe rows' users, the create scenario's token users among them; the heavy user
	// at the smallest size the data set allows (no live row reads it).
	seedCfg := r.cfg
	seedCfg.Users, seedCfg.HeavyTasks = max(liveUsers, r.cfg.TokenUsers), pageDepth*20+20
	r.log.printf("live: database %s (wal_level=%s): migrate, seed %d users × %d tasks", lb.db.name, walLevel, seedCfg.Users, seedCfg.Tasks)
	if err := migrate(ctx, lb.bin, lb.db); err != nil {
		return err
	}
	if err := seed(ctx, seedCfg, lb.db); err != nil {
		return err
	}
	lb.seedTime = time.Since(t0)
	lb.data, err = loadDataset(ctx, lb.db, r.cfg.TokenUsers)
	return err
}

// liveServerEnv is the live rows' server environment: the subscribe layouts' 5,000 sockets all
// come from the bench's one address, above MAX_CONNECTIONS_PER_IP's default (512).
func liveServerEnv(cfg config) []string {
	return append([]string{"MAX_CONNECTIONS_PER_IP=6000"}, cfg.ServerEnv...)
}

// waitSlotsGone waits up to 10 s until the database has no replication slot: a server's
// temporary slot goes a moment after the server stops.
func waitSlotsGone(admin *sqlx.DB, dbName string) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var n int
		if err := admin.Get(&n, `SELECT count(*) FROM pg_replication_slots WHERE database = $1`, dbName); err != nil || n == 0 {
			return
		}
	}
}

// createLiveRow is create measured on the live cluster's server before, while and after the
// subscribe layout's 5,000 subscriptions are open and receiving the creates' events.
type createLiveRow struct {
	Feed          string `json:"live_feed"`
	Subscriptions int    `json:"subscriptions"`
	Sockets       int    `json:"sockets"`
	Before        *row   `json:"create_before"`
	Live          *row   `json:"create_live"`
	After         *row   `json:"create_after"`
	Created       int    `json:"tasks_created_with_subscriptions_open"`
	Expected      int    `json:"deliveries_expected"`
	Delivered     int    `json:"deliveries"`
	Ended         int    `json:"subscriptions_ended"`
}

// createRef is the create rate create-live is held to: the mean of the runs before and after it
// (the host's load drifts; the runs around it bracket the drift).
func (c *createLiveRow) createRef() float64 { return (c.Before.RPS + c.After.RPS) / 2 }

// measureCreateLive loads create, then create with the subscriptions open, then create again.
// Every creating user (the 200 token users) is among the 500 subscribed ones, so each create
// is delivered to ten subscriptions; the other users' subscriptions stay open and idle.
func (r *runner) measureCreateLive(ctx context.Context, lb *build) (*createLiveRow, error) {
	create := scenarioByName("create")
	out := &createLiveRow{Feed: serverFeed(ctx, lb.srv.base), Subscriptions: liveUsers * liveSubsPerUser}
	var err error
	if out.Before, err = r.loadLiveRow(ctx, lb, create); err != nil {
		return nil, err
	}
	if err := r.createWithSubscriptions(ctx, lb, out); err != nil {
		return nil, err
	}
	if err := waitMetric(ctx, lb.srv.base, "taskgraph_subscriptions_open", 0, 30*time.Second); err != nil {
		return nil, err
	}
	if out.After, err = r.loadLiveRow(ctx, lb, create); err != nil {
		return nil, err
	}
	return out, nil
}

// loadLiveRow loads scenario s on the live cluster's server.
func (r *runner) loadLiveRow(ctx context.Context, lb *build, s *scenario) (*row, error) {
	row, err := r.loadOne(ctx, lb, s, lb.srv, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	row.RoundTrips, row.Statements = -1, -1 // not calibrated on this cluster
	r.log.printf("live %-11s %7.0f req/s  p50 %6.2f  p99 %6.2f ms  %d errors  %.2f CPU ms/req",
		s.name, row.RPS, row.P50, row.P99, row.Errors, row.CPUms)
	return row, nil
}

// createWithSubscriptions opens the subscribe layout's subscriptions, loads create-live, waits
// (up to 10 s) for the creates' deliveries and closes the sockets.
func (r *runner) createWithSubscriptions(ctx context.Context, lb *build, out *createLiveRow) error {
	users, err := liveDataset(ctx, lb, r.key)
	if err != nil {
		return err
	}
	tally := &liveTally{}
	conns, err := openSubscriptions(ctx, lb.srv, users, liveLayouts[0], tally)
	defer closeSockets(conns)
	if err != nil {
		return err
	}
	out.Sockets = len(conns)
	r.log.printf("live: %d subscriptions open on %d sockets (%s feed)", out.Subscriptions, out.Sockets, out.Feed)
	n0, err := countBenchCreates(ctx, lb)
	if err == nil {
		out.Live, err = r.loadLiveRow(ctx, lb, &scenario{name: createLiveScenario, pick: scenarioByName("create").pick})
	}
	var n1 int
	if err == nil {
		n1, err = countBenchCreates(ctx, lb)
	}
	if err != nil {
		return err
	}
	out.Created = n1 - n0
	out.Expected = out.Created * liveSubsPerUser
	deadline := time.Now().Add(10 * time.Second) // deliveries still on their way
	for time.Now().Before(deadline) && int(tally.others.Load()) < out.Expected {
		time.Sleep(50 * time.Millisecond)
	}
	out.Delivered, out.Ended = int(tally.others.Load()), int(tally.ended.Load())
	return nil
}

// profileCreateLive loads create-live against the pprof variant (BENCH_PROFILE=1) with the
// subscriptions open and keeps a CPU profile of its window: where the server's time goes when
// its creates are delivered.
func (r *runner) profileCreateLive(ctx context.Context, lb *build) error {
	srv, bin, pprofURL, err := r.startProfiling(ctx, lb, "server-profile-create-live.log")
	if err != nil {
		return err
	}
	defer srv.stop()
	users, err := liveDataset(ctx, lb, r.key)
	if err != nil {
		return err
	}
	conns, err := openSubscriptions(ctx, srv, users, liveLayouts[0], &liveTally{})
	defer closeSockets(conns)
	if err != nil {
		return err
	}
	cpuPath := filepath.Join(lb.out, "cpu-create-live.pprof")
	secs := max(1, int(r.cfg.Duration.Seconds())-1)
	got := make(chan error, 1)
	go func() {
		time.Sleep(r.cfg.Warmup) // the window's start
		got <- fetch(ctx, fmt.Sprintf("%s/profile?seconds=%d", pprofURL, secs), cpuPath)
	}()
	row, err := r.loadOne(ctx, lb, &scenario{name: createLiveScenario, pick: only(kindCreate)}, srv, 0)
	if err != nil {
		return err
	}
	if err := <-got; err != nil {
		return err
	}
	r.log.printf("profile: create-live on the pprof variant: %.0f req/s, %.2f server CPU ms/req", row.RPS, row.CPUms)
	return printProfile(ctx, bin, cpuPath, lb.out, createLiveScenario)
}

// countBenchCreates counts the tasks the create scenario made (its titles are its own).
func countBenchCreates(ctx context.Context, lb *build) (int, error) {
	var n int
	err := lb.db.x.GetContext(ctx, &n, `SELECT count(*) FROM tasks WHERE title LIKE 'Prepare the demo for customer %'`)
	return n, err
}

func judgeCreateLive(c *createLiveRow) []target {
	var ts []target
	add := func(met bool, format string, args ...any) { ts = append(ts, target{met, fmt.Sprintf(format, args...)}) }
	ref := c.createRef()
	add(ref > 0 && c.Live.RPS >= 0.90*ref, "create-live ≥ 90%% of create: %.0f vs %.0f req/s (%s; create %.0f before, %.0f after)",
		c.Live.RPS, ref, ratio(c.Live.RPS, ref), c.Before.RPS, c.After.RPS)
	add(c.Feed == "logical", "create-live ran on the logical feed: %q", c.Feed)
	add(c.Delivered == c.Expected && c.Ended == 0, "every create delivered to its user's %d subscriptions: %d of %d, %d subscriptions ended",
		liveSubsPerUser, c.Delivered, c.Expected, c.Ended)
	errs := c.Before.Errors + c.Live.Errors + c.After.Errors
	add(errs == 0, "0 errors: %d", errs)
	return ts
}

func formatCreateLive(c *createLiveRow) string {
	var b strings.Builder
	b.WriteString("| scenario | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | server CPU ms/req | server alloc KB/req | server peak RSS MB | PostgreSQL CPU ms/req (a) | bench CPU ms/req (b) | host CPU busy | / create |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, x := range []struct {
		name string
		r    *row
	}{{"create (before)", c.Before}, {createLiveScenario, c.Live}, {"create (after)", c.After}} {
		fmt.Fprintf(&b, "| %s | %.0f | %.2f | %.2f | %.2f | %.1f | %d | %.2f | %s | %.0f | %.2f | %.2f | %.0f%% | %s |\n",
			x.name, x.r.RPS, x.r.P50, x.r.P90, x.r.P99, x.r.Max, x.r.Errors, x.r.CPUms, num(x.r.AllocKB, 0), x.r.RSSMB, x.r.PGCPUms, x.r.LoadgenCPUms,
			x.r.HostBusyPct, ratio(x.r.RPS, c.createRef()))
	}
	b.WriteString("\n(a): the database's backends, the server's pool and its feed's WAL sender included. (b): the bench process's CPU per create: the load generator, and in create-live also the readers of the subscriptions' sockets, on the same two cores.\n")
	fmt.Fprintf(&b, "\n%s feed; %d subscriptions on %d sockets while create-live ran: %d tasks created (warm-up included), %d of %d deliveries arrived. Targets:\n\n",
		c.Feed, c.Subscriptions, c.Sockets, c.Created, c.Delivered, c.Expected)
	b.WriteString(formatTargetList(judgeCreateLive(c)))
	return b.String()
}

// The writers row: liveWriters pgbench clients replay what the server sends PostgreSQL for a
// createTask and an updateTask (recorded through internal/pgwire from a real server on the live
// database), in three modes, interleaved round by round:
//
//	off      no live updates: the statements without pg_notify, no server reading anything;
//	notify   the NOTIFY fallback: the statements with its pg_notify in the commit, a server
//	         with LIVE_FEED=notify LISTENing;
//	logical  the statements without pg_notify while a server with the logical feed decodes its
//	         temporary slot (what every replica does).
const (
	writerUsers  = 60 // a create and an update each: 120 scripts (pgbench takes at most 128)
	writerRounds = 3
)

var writerModes = []string{"off", "notify", "logical"}

// writerRun is one mode's pgbench run in one round.
type writerRun struct {
	Mode  string  `json:"mode"`
	Round int     `json:"round"`
	TPS   float64 `json:"tps"`
	P99   float64 `json:"commit_p99_ms"`
}

type writersRow struct {
	Clients  int         `json:"clients"`
	Seconds  float64     `json:"seconds_per_run"`
	Scripts  int         `json:"scripts"`
	Protocol string      `json:"pgbench_protocol"`
	Runs     []writerRun `json:"runs"`
}

// mean is a mode's mean tps and mean commit p99 over the rounds.
func (w *writersRow) mean(mode string) (tps, p99 float64) {
	n := 0
	for _, r := range w.Runs {
		if r.Mode == mode {
			tps, p99, n = tps+r.TPS, p99+r.P99, n+1
		}
	}
	if n == 0 {
		return 0, 0
	}
	return tps / float64(n), p99 / float64(n)
}

const writersTarget = 0.90 // live on ≥ 90% of off

func judgeWriters(w *writersRow) []target {
	off, _ := w.mean("off")
	logical, _ := w.mean("logical")
	notify, _ := w.mean("notify")
	return []target{
		{off > 0 && logical >= writersTarget*off, fmt.Sprintf("writers with live updates on (logical feed) ≥ 90%% of off: %.0f vs %.0f tps (%s)", logical, off, ratio(logical, off))},
		// Reported, not a target: the fallback is what wal_level=replica runs, and its cost is
		// the reason for the logical feed.
		{true, fmt.Sprintf("reported: the NOTIFY fallback gives writers %s of off (%.0f tps)", ratio(notify, off), notify)},
	}
}

func formatWriters(w *writersRow) string {
	var b strings.Builder
	b.WriteString("| round | off tps | notify tps | logical tps | off commit p99 ms | notify commit p99 ms | logical commit p99 ms |\n")
	b.WriteString("|--:|--:|--:|--:|--:|--:|--:|\n")
	for round := 1; round <= writerRounds; round++ {
		var tps, p99 [3]string
		for i, mode := range writerModes {
			tps[i], p99[i] = "-", "-"
			for _, r := range w.Runs {
				if r.Mode == mode && r.Round == round {
					tps[i], p99[i] = fmt.Sprintf("%.0f", r.TPS), fmt.Sprintf("%.1f", r.P99)
				}
			}
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s |\n", round, tps[0], tps[1], tps[2], p99[0], p99[1], p99[2])
	}
	off, offP99 := w.mean("off")
	notify, notifyP99 := w.mean("notify")
	logical, logicalP99 := w.mean("logical")
	fmt.Fprintf(&b, "| mean | %.0f | %.0f (**%s** of off) | %.0f (**%s** of off) | %.1f | %.1f | %.1f |\n",
		off, notify, ratio(notify, off), logical, ratio(logical, off), offP99, notifyP99, logicalP99)
	fmt.Fprintf(&b, "\n%d pgbench clients, %.0f s per run, %d scripts (a createTask and an updateTask of each of %d users, as the server sent them), -M %s. Targets:\n\n",
		w.Clients, w.Seconds, w.Scripts, writerUsers, w.Protocol)
	b.WriteString(formatTargetList(judgeWriters(w)))
	return b.String()
}

// measureWriters records the writers' scripts and runs the three modes round by round. It stops
// the live build's load server first: in "off" nothing may read the WAL.
func (r *runner) measureWriters(ctx context.Context, lb *build) (*writersRow, error) {
	lb.srv.stop()
	plain, withNotify, mode, err := r.recordWriters(ctx, lb)
	if err != nil {
		return nil, fmt.Errorf("recording the writers' statements: %w", err)
	}
	w := &writersRow{Clients: liveWriters, Seconds: max(time.Second, r.cfg.PgbenchDur).Seconds(), Scripts: len(plain), Protocol: mode}
	for round := 1; round <= writerRounds; round++ {
		for _, m := range writerModes {
			scripts, feed := plain, ""
			switch m {
			case "notify":
				scripts, feed = withNotify, "notify"
			case "logical":
				feed = "logical"
			}
			res, err := r.runWriters(ctx, lb, feed, scripts, mode, fmt.Sprintf("writers-%s-%d", m, round))
			if err != nil {
				return nil, fmt.Errorf("%s round %d: %w", m, round, err)
			}
			w.Runs = append(w.Runs, writerRun{Mode: m, Round: round, TPS: res.TPS, P99: res.P99})
			r.log.printf("writers round %d %-7s %6.0f tps, commit p99 %6.1f ms", round, m, res.TPS, res.P99)
		}
	}
	return w, nil
}

// runWriters runs pgbench with the scripts while a server with the given feed runs on the
// database ("" : none).
func (r *runner) runWriters(ctx context.Context, lb *build, feed string, scripts []pgScript, mode, tag string) (pgbenchResult, error) {
	if feed != "" {
		srv, err := r.startFeedServer(ctx, lb, lb.db.url, feed, "server-"+tag+".log")
		if err != nil {
			return pgbenchResult{}, err
		}
		defer srv.stop()
	}
	return pgbenchJob{url: lb.db.url, clients: liveWriters, duration: r.cfg.PgbenchDur, mode: mode,
		dir: lb.out, tag: tag, scripts: scripts, latencies: true}.run(ctx)
}

// startFeedServer starts a server on databaseURL with LIVE_FEED=feed (its feed connection direct
// to the live database) and checks that the feed is up: for "logical", that its slot is being
// read.
func (r *runner) startFeedServer(ctx context.Context, lb *build, databaseURL, feed, logName string) (*serverProc, error) {
	env := append(append([]string{"DATABASE_LISTEN_URL=" + lb.db.url}, liveServerEnv(r.cfg)...), "LIVE_FEED="+feed)
	srv, err := startServer(ctx, lb.bin, databaseURL, lb.iss, filepath.Join(lb.out, logName), env)
	if err != nil {
		return nil, err
	}
	if got := serverFeed(ctx, srv.base); got != feed {
		srv.stop()
		return nil, fmt.Errorf("the server's feed is %q, want %q (see %s)", got, feed, logName)
	}
	if feed == "logical" {
		deadline := time.Now().Add(30 * time.Second)
		for {
			var n int
			err := lb.admin.GetContext(ctx, &n, `SELECT count(*) FROM pg_replication_slots WHERE database = $1 AND active`, lb.db.name)
			if err == nil && n > 0 {
				break
			}
			if time.Now().After(deadline) {
				srv.stop()
				return nil, fmt.Errorf("no active replication slot on %s 30 s after the server started (%v)", lb.db.name, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return srv, nil
}

// docUpdate is the updateTask a task view's edit form sends.
const docUpdate = `mutation UpdateTask($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { ` + taskFields + ` } }`

// recordWriters records, through the recording proxy, what a server sends PostgreSQL for a
// createTask and an updateTask of each of writerUsers users: once on the logical feed (no
// pg_notify: what "off" and "logical" replay) and once on the NOTIFY fallback.
func (r *runner) recordWriters(ctx context.Context, lb *build) (plain, withNotify []pgScript, mode string, err error) {
	proxy, err := pgwire.Listen(hostPort(lb.db.url))
	if err != nil {
		return nil, nil, "", err
	}
	defer proxy.Close()
	purl, err := proxy.RewriteURL(lb.db.url)
	if err != nil {
		return nil, nil, "", err
	}
	plain, recs, err := r.recordFeed(ctx, lb, proxy, purl, "logical")
	if err != nil {
		return nil, nil, "", err
	}
	withNotify, notifyRecs, err := r.recordFeed(ctx, lb, proxy, purl, "notify")
	if err != nil {
		return nil, nil, "", err
	}
	if err := checkWriterScripts(plain, withNotify); err != nil {
		return nil, nil, "", err
	}
	return plain, withNotify, protocolOf(append(recs, notifyRecs...)), nil
}

// recordFeed records, through proxy, a createTask and an updateTask of each writer user sent to a
// server on the given feed, and makes each a pgbench script.
func (r *runner) recordFeed(ctx context.Context, lb *build, proxy *pgwire.Proxy, purl, feed string) ([]pgScript, []pgwire.Recording, error) {
	srv, err := r.startFeedServer(ctx, lb, purl, feed, "server-writers-calibration-"+feed+".log")
	if err != nil {
		return nil, nil, err
	}
	defer srv.stop()
	client := load.NewClient(1)
	defer client.CloseIdleConnections()
	// Unrecorded: the pool's session, the role check and plans are warm before the recording.
	for _, body := range writerBodies(0, lb.data.users[0]) {
		if err := sendOne(ctx, client, srv.url, lb.toks.users[0], body); err != nil {
			return nil, nil, fmt.Errorf("%s feed: %w", feed, err)
		}
	}
	var scripts []pgScript
	var recs []pgwire.Recording
	for i, u := range lb.data.users[:min(writerUsers, len(lb.data.users))] {
		tok := lb.toks.users[i]
		for _, body := range writerBodies(i, u) {
			rec, err := recordOne(ctx, proxy, client, srv.url, tok, body)
			if err != nil {
				return nil, nil, fmt.Errorf("%s feed, user %s: %w", feed, u.sub, err)
			}
			s, err := scriptFromCapture(fmt.Sprintf("writers (%s) %s %s", feed, u.sub, body["query"].(string)[:18]), rec)
			if err != nil {
				return nil, nil, err
			}
			scripts = append(scripts, s)
			recs = append(recs, rec)
		}
	}
	return scripts, recs, nil
}

// writerBodies are user u's createTask and updateTask, request i.
func writerBodies(i int, u *userData) []map[string]any {
	return []map[string]any{
		{"query": docCreate, "variables": kindCreate.vars(u, i, nil)},
		{"query": docUpdate, "variables": map[string]any{"id": u.taskIDs[0],
			"input": map[string]any{"title": fmt.Sprintf("Call the supplier about order %d", i)}}},
	}
}

// recordOne sends one request and returns what PostgreSQL received for it.
func recordOne(ctx context.Context, proxy *pgwire.Proxy, client *http.Client, url, token string, body map[string]any) (pgwire.Recording, error) {
	proxy.Reset()
	if err := sendOne(ctx, client, url, token, body); err != nil {
		return pgwire.Recording{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := proxy.WaitIdle(wctx); err != nil {
		return pgwire.Recording{}, err
	}
	return proxy.Snapshot(), nil
}

func sendOne(ctx context.Context, client *http.Client, url, token string, body map[string]any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	status, resp, err := load.Do(ctx, client, url, load.Request{Body: b, Token: token})
	if err == nil {
		err = load.DefaultCheck(status, resp)
	}
	return err
}

// checkWriterScripts makes sure the two sets differ only as the modes say: no statement of the
// plain scripts calls pg_notify, and every script of the fallback does (a change in the server's
// write path that broke either would otherwise measure the wrong thing).
func checkWriterScripts(plain, withNotify []pgScript) error {
	if len(plain) == 0 || len(plain) != len(withNotify) {
		return fmt.Errorf("%d scripts without NOTIFY and %d with it", len(plain), len(withNotify))
	}
	has := func(s pgScript) bool {
		for _, st := range s.steps {
			if strings.Contains(strings.ToLower(st.sql), "pg_notify(") {
				return true
			}
		}
		return false
	}
	for i := range plain {
		if has(plain[i]) {
			return fmt.Errorf("%s: the logical feed's write calls pg_notify", plain[i].name)
		}
		if !has(withNotify[i]) {
			return fmt.Errorf("%s: the NOTIFY fallback's write does not call pg_notify", withNotify[i].name)
		}
	}
	return nil
}
