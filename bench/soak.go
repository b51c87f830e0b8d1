package main

// `make soak` (go run ./bench soak): issue #9's soak. A real `serve` process on a fresh seeded
// database serves honest users (mixed reads and writes, fixed concurrency, many users) first
// alone and then with attackers sending issue #9's item-1 attacks. It reports the honest
// requests' errors (must be 0), their p99 with attacks against the run without (target ≤ 2×), the
// final row counts against the writes acknowledged, and the server's RSS, sampled. See
// bench/README.md, "Soak".

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taskgraph/taskgraph/bench/load"
)

type soakConfig struct {
	Duration  time.Duration // SOAK_DURATION (3m): a third without attacks, then two thirds with
	Conns     int           // SOAK_CONNS (16): honest connections
	Attackers int           // SOAK_ATTACKERS (2): attacking connections, each cycling the attacks
	Users     int           // SOAK_USERS (500): honest users (tokens round-robin)
	Tasks     int           // SOAK_TASKS (40): seeded tasks per user
	MaxRSS    int64         // SOAK_MAX_RSS_MB (2048): the RSS bound; over it the attacks stop
	PGURL     string        // BENCH_PG_URL
	Out       string        // SOAK_OUT (bench/out/soak-<time>)
	Keep      bool          // BENCH_KEEP
}

func soakConfigFromEnv() (soakConfig, error) {
	c := soakConfig{Duration: 3 * time.Minute, Conns: 16, Attackers: 2, Users: 500, Tasks: 40, MaxRSS: 2048 << 20, PGURL: defaultPGURL}
	var e envReader
	e.duration("SOAK_DURATION", &c.Duration, 3*time.Second, "a duration of at least 3s")
	e.integer("SOAK_CONNS", &c.Conns, 1, "a positive integer")
	e.integer("SOAK_ATTACKERS", &c.Attackers, 0, "a positive integer")
	e.integer("SOAK_USERS", &c.Users, 1, "a positive integer")
	e.integer("SOAK_TASKS", &c.Tasks, 1, "a positive integer")
	maxRSS := int(c.MaxRSS >> 20)
	e.integer("SOAK_MAX_RSS_MB", &maxRSS, 64, "a number of MiB ≥ 64")
	c.MaxRSS = int64(maxRSS) << 20
	e.str("BENCH_PG_URL", &c.PGURL)
	c.Keep = on("BENCH_KEEP")
	c.Out = outDir("SOAK_OUT", "soak-")
	return c, errors.Join(e.errs...)
}

// soakRun is one soak: the server, its users, and what was measured.
type soakRun struct {
	cfg    soakConfig
	log    *logger
	srv    *serverProc
	db     *benchDB
	data   *dataset
	tokens []string
	amp    string // the amplifier's token: a user with 100 tasks × 200 tags

	attacking atomic.Bool // attackers run while set
	stopping  atomic.Bool // honest workers stop after their request in flight
	rssStop   atomic.Bool // the RSS bound was passed: attacks stopped

	mu     sync.Mutex
	phases []*soakPhase
	attack map[string]*attackStats
	rss    []rssSample

	createsAcked, deletesAcked atomic.Int64
}

// soakPhase is the honest traffic of one phase.
type soakPhase struct {
	name       string
	start, end time.Time
	cpu        time.Duration
	lat        []time.Duration
	errors     int
	firstErrs  []string
	byOp       map[string]int
	maxRSS     int64
}

type attackStats struct {
	sent     int
	statuses map[string]int // "HTTP 200 COMPLEXITY_LIMIT_EXCEEDED", ...
	lat      []time.Duration
	bytes    int64
	errs     int // transport errors (including the client's 60 s timeout)
}

type rssSample struct {
	at  time.Duration
	rss int64
}

func runSoak(ctx context.Context) error {
	cfg, err := soakConfigFromEnv()
	if err != nil {
		return err
	}
	root, err := startRun(cfg.Out)
	if err != nil {
		return err
	}
	r := &runner{log: newLog(cfg.Out)}
	defer r.cleanup()
	s := &soakRun{cfg: cfg, log: r.log, attack: map[string]*attackStats{}}
	s.log.printf("soak: output in %s; %s (a third without attacks), %d honest connections, %d attackers, %d users × %d tasks",
		cfg.Out, cfg.Duration, cfg.Conns, cfg.Attackers, cfg.Users, cfg.Tasks)
	bin, label, err := s.prepareDB(ctx, r, root)
	if err != nil {
		return err
	}
	if err := s.startServing(ctx, r, bin); err != nil {
		return err
	}
	tasksBefore, linksBefore, err := s.counts(ctx)
	if err != nil {
		return err
	}
	s.log.printf("soak: seeded %d tasks and %d task_tags; serving at %s", tasksBefore, linksBefore, s.srv.base)
	fl, err := s.load(ctx)
	if err != nil {
		return err
	}
	return s.finish(ctx, label, tasksBefore, linksBefore, fl)
}

// prepareDB builds the server and gives it a fresh database: migrated, seeded, with the
// amplifier's rows; it returns the binary and the build's label.
func (s *soakRun) prepareDB(ctx context.Context, r *runner, root string) (bin, label string, err error) {
	admin, err := openAdmin(ctx, s.cfg.PGURL)
	if err != nil {
		return "", "", err
	}
	r.onCleanup(func() { _ = admin.Close() }) // last: the database is dropped through it
	tmp, err := r.tempDir()
	if err != nil {
		return "", "", err
	}
	src, label, err := source(ctx, root, "", "")
	if err != nil {
		return "", "", err
	}
	bin = filepath.Join(tmp, "taskgraph-soak")
	s.log.printf("soak: building %s", label)
	if err := goBuild(ctx, src, bin, nil); err != nil {
		return "", "", err
	}
	if s.db, err = createDB(ctx, admin, s.cfg.PGURL, "soak"); err != nil {
		return "", "", err
	}
	r.onCleanup(func() {
		if s.cfg.Keep {
			s.log.printf("soak: kept database %s", s.db.name)
		} else if err := dropDB(admin, s.db); err != nil {
			s.log.printf("soak: drop %s: %v", s.db.name, err)
		}
	})
	return bin, label, s.seed(ctx, bin)
}

// seed migrates and seeds the database, adds the amplifier's rows and loads the users.
func (s *soakRun) seed(ctx context.Context, bin string) (err error) {
	if err := migrate(ctx, bin, s.db); err != nil {
		return err
	}
	if err := seed(ctx, config{Users: s.cfg.Users, Tasks: s.cfg.Tasks, HeavyTasks: s.cfg.Tasks}, s.db); err != nil {
		return err
	}
	if _, err := s.db.x.ExecContext(ctx, amplifierSQL); err != nil {
		return fmt.Errorf("amplifier rows: %w", err)
	}
	s.data, err = loadDataset(ctx, s.db, s.cfg.Users)
	return err
}

// startServing starts the issuer, mints every user's token and the amplifier's, and starts the
// server.
func (s *soakRun) startServing(ctx context.Context, r *runner, bin string) error {
	key, err := newSigningKey()
	if err != nil {
		return err
	}
	iss, err := startIssuer(key)
	if err != nil {
		return err
	}
	r.onCleanup(iss.close)
	for _, u := range s.data.users {
		tok, err := iss.mint(key, u, 0)
		if err != nil {
			return err
		}
		s.tokens = append(s.tokens, tok)
	}
	if s.amp, err = iss.mint(key, &userData{sub: "soak-amplifier", uuid: amplifierUUID, email: "amp@soak.example", name: "Amp"}, 0); err != nil {
		return err
	}
	if s.srv, err = startServer(ctx, bin, s.db.url, iss, filepath.Join(s.cfg.Out, "server.log"), nil); err != nil {
		return err
	}
	r.onCleanup(s.srv.stop)
	return nil
}

// load runs both phases: honest workers all along, attackers in the second phase only.
func (s *soakRun) load(ctx context.Context) (*floods, error) {
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	t0 := time.Now()
	var wg sync.WaitGroup
	go s.sampleRSS(loadCtx, t0)
	client := load.NewClient(s.cfg.Conns)
	for w := range s.cfg.Conns {
		wg.Add(1)
		go func() { defer wg.Done(); s.honest(ctx, client, w) }()
	}
	attackClient := load.NewClient(max(1, s.cfg.Attackers))
	attackClient.Timeout = 60 * time.Second
	for w := range s.cfg.Attackers {
		wg.Add(1)
		go func() { defer wg.Done(); s.attacker(loadCtx, attackClient, w) }()
	}
	fl := newFloods(s) // issue 20's attackers and the open-files sampler (soakfloods.go)
	fl.start(loadCtx, s, &wg)
	quiet := s.cfg.Duration / 3
	if err := s.phase(ctx, "without attacks", quiet); err != nil {
		return nil, err
	}
	if s.cfg.Attackers > 0 {
		s.attacking.Store(true)
	}
	if err := s.phase(ctx, "with attacks", s.cfg.Duration-quiet); err != nil {
		return nil, err
	}
	s.attacking.Store(false)
	s.stopping.Store(true) // honest workers finish the request in flight, so every write is counted
	stopLoad()             // attackers stop at once
	wg.Wait()
	return fl, nil
}

// finish measures what outlives the load, counts the rows and writes the report.
func (s *soakRun) finish(ctx context.Context, label string, tasksBefore, linksBefore int64, fl *floods) error {
	// The attacks' work may outlive their clients: the server's CPU over the next 5 s.
	cpu0, _ := cpuTime(s.srv.pid())
	time.Sleep(5 * time.Second)
	cpu1, _ := cpuTime(s.srv.pid())
	tasksAfter, linksAfter, err := s.counts(ctx)
	if err != nil {
		return err
	}
	finalRSS, _ := currentRSS(s.srv.pid())
	report := s.report(label, tasksBefore, linksBefore, tasksAfter, linksAfter, cpu1-cpu0, finalRSS)
	report.text += fl.report()
	fmt.Println()
	fmt.Print(report.text)
	if err := os.WriteFile(filepath.Join(s.cfg.Out, "results.md"), []byte(report.text), 0o644); err != nil {
		return err
	}
	if report.failed > 0 {
		return fmt.Errorf("%d of the soak's criteria failed (see above)", report.failed)
	}
	return nil
}

// phase runs the load for d and records the honest traffic of that window.
func (s *soakRun) phase(ctx context.Context, name string, d time.Duration) error {
	p := &soakPhase{name: name, start: time.Now(), byOp: map[string]int{}}
	cpu0, _ := cpuTime(s.srv.pid())
	s.mu.Lock()
	s.phases = append(s.phases, p)
	s.mu.Unlock()
	s.log.printf("soak: phase %q for %s", name, d)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
	}
	cpu1, _ := cpuTime(s.srv.pid())
	s.mu.Lock()
	p.end, p.cpu = time.Now(), cpu1-cpu0
	n, errs := len(p.lat), p.errors
	s.mu.Unlock()
	s.log.printf("soak: phase %q: %d honest requests, %d errors", name, n, errs)
	return nil
}

// current is the phase a request completing now belongs to (nil after the last).
func (s *soakRun) current() *soakPhase {
	if len(s.phases) == 0 {
		return nil
	}
	p := s.phases[len(s.phases)-1]
	if !p.end.IsZero() {
		return nil
	}
	return p
}

func (s *soakRun) record(op string, lat time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.current()
	if p == nil {
		return
	}
	p.lat = append(p.lat, lat)
	p.byOp[op]++
	if err != nil {
		p.errors++
		if len(p.firstErrs) < 5 {
			p.firstErrs = append(p.firstErrs, op+": "+err.Error())
		}
	}
}

const soakTaskFields = `id title description completed priority dueAt createdAt tags { id name color }`

// honest is one honest connection: of every 20 requests, 10 pages, 3 task(id), 1 filtered page,
// 1 tags, 3 createTask (two tags), 1 updateTask and 1 deleteTask of a task it created.
func (s *soakRun) honest(ctx context.Context, client *http.Client, w int) {
	c := &honestConn{s: s, w: w, rng: rand.New(rand.NewPCG(uint64(w), 7))}
	for i := 0; ctx.Err() == nil && !s.stopping.Load(); i++ {
		op, query, vars, ui := c.next(i)
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		t0 := time.Now()
		status, resp, err := load.Do(ctx, client, s.srv.url, load.Request{Body: body, Token: s.tokens[ui]})
		lat := time.Since(t0)
		if ctx.Err() != nil {
			return // the load stopped: not an error of the server's
		}
		if err == nil {
			err = load.DefaultCheck(status, resp)
		}
		if err == nil {
			c.acknowledged(op, ui, resp)
		}
		s.record(op, lat, err)
	}
}

// honestConn is one honest connection's state: its random users and the tasks it created.
type honestConn struct {
	s       *soakRun
	w       int
	rng     *rand.Rand
	created []createdTask
}

type createdTask struct {
	user int
	id   string
}

// next is request i of the connection: its operation, query, variables and user.
func (c *honestConn) next(i int) (op, query string, vars map[string]any, ui int) {
	ui = c.rng.IntN(len(c.s.data.users))
	u := c.s.data.users[ui]
	switch k := i % 20; {
	case k < 10:
		return "page", soakPageQuery, nil, ui
	case k < 13:
		return "task", `query Task($id: ID!) { task(id: $id) { ` + soakTaskFields + ` } }`,
			map[string]any{"id": u.taskIDs[c.rng.IntN(len(u.taskIDs))]}, ui
	case k == 13:
		return "filter", `query Filter { tasks(first: 20, filter: {completed: false, priorities: [HIGH, URGENT]}) { nodes { ` + soakTaskFields + ` } } }`, nil, ui
	case k == 14:
		return "tags", `query Tags { tags { id name color } }`, nil, ui
	case k < 18:
		return "createTask", `mutation Create($in: CreateTaskInput!) { createTask(input: $in) { ` + soakTaskFields + ` } }`,
			map[string]any{"in": map[string]any{"title": fmt.Sprintf("soak %d-%d", c.w, i), "priority": "HIGH",
				"tagIds": []string{u.tagIDs[i%8], u.tagIDs[(i+3)%8]}}}, ui
	case k == 18 && len(c.created) > 0:
		t := c.created[c.rng.IntN(len(c.created))]
		return "updateTask", `mutation Update($id: ID!, $in: UpdateTaskInput!) { updateTask(id: $id, input: $in) { ` + soakTaskFields + ` } }`,
			map[string]any{"id": t.id, "in": map[string]any{"title": fmt.Sprintf("soak %d-%d updated", c.w, i), "completed": i%2 == 0}}, t.user
	case k == 19 && len(c.created) > 0:
		j := c.rng.IntN(len(c.created))
		t := c.created[j]
		c.created = slices.Delete(c.created, j, j+1)
		return "deleteTask", `mutation Delete($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": t.id}, t.user
	}
	return "page", soakPageQuery, nil, ui
}

const soakPageQuery = `query Page { tasks(first: 20) { edges { cursor node { ` + soakTaskFields + ` } } pageInfo { hasNextPage endCursor } } }`

// acknowledged counts an answered write; a created task becomes one to update or delete.
func (c *honestConn) acknowledged(op string, ui int, resp []byte) {
	switch op {
	case "createTask":
		var a struct {
			Data struct{ CreateTask struct{ ID string } }
		}
		_ = json.Unmarshal(resp, &a)
		c.created = append(c.created, createdTask{ui, a.Data.CreateTask.ID})
		c.s.createsAcked.Add(1)
	case "deleteTask":
		c.s.deletesAcked.Add(1)
	}
}

// attack is one of issue #9's item-1 attacks: a request body and the token to send it with.
type attack struct {
	name  string
	token func(s *soakRun) string
	body  func(n int) []byte
}

func gqlBody(query string, vars map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return b
}

// attacks are sized to hurt the unbounded server without taking a shared 2-core, 24 GiB machine
// down: the issue's own figures for one request are in bench/README.md, "Soak".
var attacks = []attack{
	{"fragment explosion (18 levels, anonymous)", anonymous, func(int) []byte {
		var b strings.Builder
		b.WriteString("query Explode { ...F0 }\n")
		for i := range 18 {
			fmt.Fprintf(&b, "fragment F%d on Query { __typename ...F%d ...F%d }\n", i, i+1, i+1)
		}
		b.WriteString("fragment F18 on Query { __typename }\n")
		return gqlBody(b.String(), nil)
	}},
	{"repeated field (3,000 × __typename, anonymous)", anonymous, func(int) []byte {
		return gqlBody("{"+strings.Repeat(" __typename", 3000)+" }", nil)
	}},
	{"distinct documents (64 KB each, anonymous)", anonymous, func(n int) []byte {
		var b strings.Builder
		b.WriteString("{")
		for i := 0; b.Len() < 64<<10; i++ {
			fmt.Fprintf(&b, " a%dx%d: __typename", n, i)
		}
		b.WriteString(" }")
		return gqlBody(b.String(), nil)
	}},
	{"row amplification (20 aliases × 100 tasks × 200 tags)", func(s *soakRun) string { return s.amp }, func(int) []byte {
		var b strings.Builder
		b.WriteString("{")
		for i := range 20 {
			fmt.Fprintf(&b, " p%d: tasks(first: 100) { nodes { id tags { id name } } }", i)
		}
		b.WriteString(" }")
		return gqlBody(b.String(), nil)
	}},
	{"many @skip (10,000, anonymous)", anonymous, func(int) []byte {
		return gqlBody("{ __typename"+strings.Repeat(" @skip(if: false)", 10000)+" }", nil)
	}},
	{"huge invalid value (500 KB dueAt)", func(s *soakRun) string { return s.tokens[0] }, func(int) []byte {
		return gqlBody(`mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"title": "x", "dueAt": strings.Repeat("9", 500<<10)}})
	}},
	{"anonymous junk (bad JSON, 400 KB operation name, bad token)", anonymous, func(n int) []byte {
		switch n % 3 {
		case 0:
			return append([]byte(`{"query": "{ __typename }", "variables": `), bytes.Repeat([]byte{'['}, 100<<10)...)
		case 1:
			return gqlBody("query "+strings.Repeat("A", 400<<10)+" { __typename }", nil)
		}
		return []byte(`{"query":"{ me { id } }"}`) // with a made-up token (see attacker)
	}},
}

func anonymous(*soakRun) string { return "" }

// attacker cycles through the attacks while the attack phase runs.
func (s *soakRun) attacker(ctx context.Context, client *http.Client, w int) {
	for i := w; ctx.Err() == nil; i++ {
		if !s.attacking.Load() || s.rssStop.Load() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		a := attacks[i%len(attacks)]
		n := i / len(attacks)
		token := a.token(s)
		if strings.HasPrefix(a.name, "anonymous junk") && n%3 == 2 {
			token = "not.a.jwt"
		}
		t0 := time.Now()
		status, resp, err := load.Do(ctx, client, s.srv.url, load.Request{Body: a.body(n*len(attacks) + w), Token: token})
		lat := time.Since(t0)
		if ctx.Err() != nil {
			return
		}
		s.tallyAttack(a.name, status, resp, lat, err)
	}
}

// tallyAttack counts one attack's answer: by HTTP status and first error code.
func (s *soakRun) tallyAttack(name string, status int, resp []byte, lat time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.attack[name]
	if st == nil {
		st = &attackStats{statuses: map[string]int{}}
		s.attack[name] = st
	}
	st.sent++
	st.lat = append(st.lat, lat)
	st.bytes += int64(len(resp))
	if err != nil {
		st.errs++
		st.statuses["no answer"]++
		return
	}
	var a struct {
		Errors []struct {
			Extensions struct{ Code string } `json:"extensions"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(resp, &a)
	key := fmt.Sprintf("HTTP %d", status)
	if len(a.Errors) > 0 {
		key += " " + a.Errors[0].Extensions.Code
		if len(a.Errors) > 1 {
			key += fmt.Sprintf(" (+%d errors)", len(a.Errors)-1)
		}
	}
	st.statuses[key]++
}

// sampleRSS reads the server's resident set every 500 ms; over the bound, attacks stop.
func (s *soakRun) sampleRSS(ctx context.Context, t0 time.Time) {
	every(ctx, 500*time.Millisecond, func() {
		rss, err := currentRSS(s.srv.pid())
		if err != nil {
			return
		}
		s.mu.Lock()
		s.rss = append(s.rss, rssSample{time.Since(t0), rss})
		if p := s.current(); p != nil {
			p.maxRSS = max(p.maxRSS, rss)
		}
		s.mu.Unlock()
		if rss > s.cfg.MaxRSS && !s.rssStop.Swap(true) {
			s.log.printf("soak: server RSS %d MiB is over SOAK_MAX_RSS_MB (%d): attacks stopped", rss>>20, s.cfg.MaxRSS>>20)
		}
	})
}

// every calls f every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func()) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		f()
	}
}

// currentRSS is VmRSS, the resident set size now, in bytes.
func currentRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

func (s *soakRun) counts(ctx context.Context) (tasks, links int64, err error) {
	if err = s.db.x.GetContext(ctx, &tasks, `SELECT count(*) FROM tasks`); err == nil {
		err = s.db.x.GetContext(ctx, &links, `SELECT count(*) FROM task_tags`)
	}
	return tasks, links, err
}

// The amplifier: 100 tasks with the same 200 tags each, written directly (as the superuser),
// since a MAX_TAGS_PER_TASK bound may refuse them through the API.
const amplifierUUID = "00000000-0000-4000-8000-00000000a111"

var amplifierSQL = `
SET session_replication_role = replica;
INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt", uuid)
VALUES ('soak-amplifier', 'Amp', 'amp@soak.example', true, now(), now(), '` + amplifierUUID + `');
INSERT INTO tags (user_uuid, id, name, created_at)
SELECT '` + amplifierUUID + `', md5('amp-tag' || k)::uuid, 'tag ' || k, now() FROM generate_series(1, 200) k;
INSERT INTO tasks (user_uuid, id, title, created_at, updated_at)
SELECT '` + amplifierUUID + `', md5('amp-task' || j)::uuid, 'amplified ' || j, now(), now() FROM generate_series(1, 100) j;
INSERT INTO task_tags (user_uuid, task_id, tag_id)
SELECT '` + amplifierUUID + `', md5('amp-task' || j)::uuid, md5('amp-tag' || k)::uuid
FROM generate_series(1, 100) j, generate_series(1, 200) k;
SET session_replication_role = DEFAULT;
ANALYZE;
`

type soakReport struct {
	text   string
	failed int
}

func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[max(0, min(len(s)-1, int(p*float64(len(s))+0.5)-1))]
}

func (s *soakRun) report(label string, tasksBefore, linksBefore, tasksAfter, linksAfter int64, cpuAfter time.Duration, finalRSS int64) soakReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	var rep soakReport
	fmt.Fprintf(&b, "## Soak: %s\n\n%s, %d honest connections over %d users (%d tasks each), %d attackers; server %s\n\n",
		time.Now().Format("2006-01-02 15:04"), s.cfg.Duration, s.cfg.Conns, s.cfg.Users, s.cfg.Tasks, s.cfg.Attackers, label)
	p99, errorsTotal := s.formatPhases(&b)
	s.formatAttacks(&b)
	var peak int64
	for _, r := range s.rss {
		peak = max(peak, r.rss)
	}
	creates, deletes := s.createsAcked.Load(), s.deletesAcked.Load()
	wantTasks, wantLinks := tasksBefore+creates-deletes, linksBefore+2*(creates-deletes)
	fmt.Fprintf(&b, "\nWrites acknowledged: %d createTask (2 tags each), %d deleteTask. Rows: tasks %d → %d (expected %d), task_tags %d → %d (expected %d).\n",
		creates, deletes, tasksBefore, tasksAfter, wantTasks, linksBefore, linksAfter, wantLinks)
	fmt.Fprintf(&b, "Server RSS: peak %d MiB, at the end %d MiB (%d samples); server CPU in the 5 s after the load stopped: %.1f s.\n",
		peak>>20, finalRSS>>20, len(s.rss), cpuAfter.Seconds())
	if s.rssStop.Load() {
		fmt.Fprintf(&b, "The RSS bound (%d MiB) was passed: the attacks were stopped there.\n", s.cfg.MaxRSS>>20)
	}

	b.WriteString("\nCriteria:\n")
	crit := func(ok bool, format string, args ...any) {
		mark := "PASS"
		if !ok {
			mark = "FAIL"
			rep.failed++
		}
		fmt.Fprintf(&b, "- %s: %s\n", mark, fmt.Sprintf(format, args...))
	}
	crit(errorsTotal == 0, "honest requests' errors: %d (must be 0)", errorsTotal)
	if len(p99) == 2 && s.cfg.Attackers > 0 {
		ratio := float64(p99[1]) / float64(max(1, p99[0]))
		crit(ratio <= 2, "honest p99 with attacks %.1f ms vs without %.1f ms: %.2f× (target ≤ 2×)", ms(p99[1]), ms(p99[0]), ratio)
	}
	crit(tasksAfter == wantTasks && linksAfter == wantLinks, "final rows equal the writes acknowledged")
	crit(peak <= s.cfg.MaxRSS, "server RSS bounded: peak %d MiB ≤ %d MiB (SOAK_MAX_RSS_MB)", peak>>20, s.cfg.MaxRSS>>20)
	rep.text = b.String()
	return rep
}

// formatPhases is the honest traffic's table and first errors; it returns each phase's p99 and
// the errors in all.
func (s *soakRun) formatPhases(b *strings.Builder) (p99 []time.Duration, errorsTotal int) {
	b.WriteString("| phase | honest requests | req/s | errors | p50 ms | p99 ms | max ms | server CPU s | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range s.phases {
		d := p.end.Sub(p.start)
		fmt.Fprintf(b, "| %s | %d | %.0f | %d | %.1f | %.1f | %.1f | %.1f | %d |\n", p.name, len(p.lat), float64(len(p.lat))/d.Seconds(),
			p.errors, ms(percentile(p.lat, 0.5)), ms(percentile(p.lat, 0.99)), ms(percentile(p.lat, 1)), p.cpu.Seconds(), p.maxRSS>>20)
		p99 = append(p99, percentile(p.lat, 0.99))
		errorsTotal += p.errors
	}
	for _, p := range s.phases {
		if len(p.firstErrs) > 0 {
			fmt.Fprintf(b, "\nfirst errors %s: %s\n", p.name, strings.Join(p.firstErrs, "; "))
		}
	}
	return p99, errorsTotal
}

// formatAttacks is the attacks' table: what each was answered.
func (s *soakRun) formatAttacks(b *strings.Builder) {
	if len(s.attack) == 0 {
		return
	}
	b.WriteString("\n| attack | sent | answers | p50 ms | max ms | bytes answered (mean) |\n|---|---|---|---|---|---|\n")
	for _, a := range attacks {
		st := s.attack[a.name]
		if st == nil {
			continue
		}
		var answers []string
		for _, k := range slices.Sorted(maps.Keys(st.statuses)) {
			answers = append(answers, fmt.Sprintf("%s ×%d", k, st.statuses[k]))
		}
		fmt.Fprintf(b, "| %s | %d | %s | %.0f | %.0f | %d |\n", a.name, st.sent, strings.Join(answers, ", "),
			ms(percentile(st.lat, 0.5)), ms(percentile(st.lat, 1)), st.bytes/int64(max(1, st.sent)))
	}
}
