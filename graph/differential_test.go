package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/graph"
)

// TestCompiledReadsEqualResolvers is issue 18's differential test: random read operations
// (selections, aliases, fragments, inline fragments, @skip/@include, every argument of tasks,
// cursors taken from earlier answers, foreign and malformed ids, users with no, one and many
// rows, NULL in every nullable column, texts with every character JSON escapes) go through two
// servers on the same database, one with the compiled read path and one with gqlgen's resolvers
// only, and the two responses must be the same bytes, status included. It also requires that the
// compiled path served most of them, so that the comparison is not of the resolvers with
// themselves.
//
// The run is deterministic for a seed: DIFF_SEED=<n> replays it, DIFF_OPS changes its length
// (10,000 operations; 2,000 under the race detector, and make test runs it both ways).
func TestCompiledReadsEqualResolvers(t *testing.T) {
	t.Parallel()
	seed := envUint(t, "DIFF_SEED", 18)
	defaultOps := uint64(10000)
	if raceDetector {
		defaultOps = 2000
	}
	ops := int(envUint(t, "DIFF_OPS", defaultOps))
	e := newEnv(t)
	d := newDiff(t, e, seed)
	// Workers overlap their waits on PostgreSQL; each is deterministic for the seed (the data is
	// only read), with its own choices and its own pools of cursors.
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			dw := &diffWorker{diff: d, rng: rand.New(rand.NewPCG(seed, uint64(w)))}
			for i := range ops / workers {
				if t.Failed() {
					return
				}
				op := dw.operation()
				if !dw.compare(i, op) {
					t.Errorf("replay with DIFF_SEED=%d DIFF_OPS=%d (worker %d, operation %d)", seed, ops, w, i)
					return
				}
				// The same document and variables as another user: the compiled path answers
				// from the statement it compiled for the first one (compilecache.go), and a
				// cursor of the first one's is foreign to it.
				if dw.rng.IntN(3) == 0 {
					op.user = (op.user + 1 + dw.rng.IntN(len(d.users)-1)) % len(d.users)
					if dw.rng.IntN(2) == 0 { // and other ids: an id variable is a parameter of the statement
						op.vars = dw.otherIDs(op.vars)
					}
					if !dw.compare(i, op) {
						t.Errorf("replay with DIFF_SEED=%d DIFF_OPS=%d (worker %d, operation %d, as another user)", seed, ops, w, i)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	compiled, resolvers := d.compiled.Load(), d.resolvers.Load()
	if os.Getenv("DIFF_REASONS") != "" {
		t.Log(e.logs.String())
	}
	t.Logf("seed %d: %d operations, %d compiled, %d by the resolvers", seed, ops, compiled, resolvers)
	if compiled < int64(ops)/2 {
		t.Fatalf("only %d of %d operations ran compiled: the comparison proves little", compiled, ops)
	}
}

func envUint(t *testing.T, name string, def uint64) uint64 {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q is not a number", name, s)
	}
	return n
}

type diff struct {
	t                   *testing.T
	rng                 *rand.Rand
	compiledH, resolveH http.Handler
	compiled, resolvers atomic.Int64
	users               []diffUser
	taskIDs, tagIDs     []string // of every user
}

// diffWorker sends operations of its own.
type diffWorker struct {
	*diff
	rng     *rand.Rand
	cursors []string      // from earlier answers, of every user and list
	lists   []listContext // the lists they came from
}

type diffUser struct {
	auth.User
	token string
}

// texts holds what JSON writers escape differently: quotes, backslashes, every kind of control
// character, <, > and & (which json.Marshal escapes and gqlgen does not), U+2028/U+2029, and
// non-ASCII; and repeated values for ties.
var texts = []string{
	"plain", "same", "same", "Same", `with "quotes"`, `back\slash`, "new\nline\r\ttab", "bell\b feed\f",
	"\x01\x0b\x0e\x1a\x1f ctrl", "<b>bold</b> & co", "line\u2028sep\u2029", "émoji 😀 ü", "100% _under_",
	"\x7f del", "a", "zzz", "Apple", "apple pie", "\\n not a newline", "\"", "%",
}

func newDiff(t *testing.T, e *env, seed uint64) *diff {
	d := &diff{t: t, rng: rand.New(rand.NewPCG(seed, 18))}
	verifier := e.issuer.Verifier(t, e.store)
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	count := func(executor string) {
		if executor == graph.ExecutorCompiled {
			d.compiled.Add(1)
		} else {
			d.resolvers.Add(1)
		}
	}
	d.compiledH = auth.Middleware(verifier)(graph.NewServer(e.store, graph.Options{Logger: log, CountOperation: count}))
	d.resolveH = auth.Middleware(verifier)(graph.NewServer(e.store, graph.Options{Logger: log, ResolversOnly: true}))

	// many rows (a), one (b), none (c, d: an empty name, which the API answers as null)
	c := e.user("sub-c", "c@example.com", "Carol \"C\" <&>\u2028")
	dd := e.user("sub-d", "d+<tag>@example.com", "")
	for _, u := range []auth.User{e.a, e.b, c, dd} {
		d.users = append(d.users, diffUser{User: u, token: e.issuer.TokenFor(t, u)})
	}
	// 120 tasks: more than a search's window (db/list.go, searchWindow) for first: 0, so that
	// the search's second branch (the trigram index through task_search) runs too.
	d.seed(e, e.a.UUID, 120, 8)
	d.seed(e, e.b.UUID, 1, 1)
	return d
}

// seed writes tasks and tags for user directly (under row-level security, as that user), with
// NULLs, ties and every kind of text.
func (d *diff) seed(e *env, user uuid.UUID, tasks, tags int) {
	tx := e.x.MustBegin()
	defer func() {
		if err := tx.Commit(); err != nil {
			d.t.Fatal(err)
		}
	}()
	if _, err := tx.Exec(`SELECT set_config('app.user_uuid', $1, true)`, user.String()); err != nil {
		d.t.Fatal(err)
	}
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	times := []time.Time{
		base, base, base.Add(1500 * time.Millisecond), base.Add(123456 * time.Microsecond), base.Add(-48 * time.Hour),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		base.Add(100 * time.Millisecond), base.Add(time.Hour + 10*time.Microsecond),
	}
	anyTime := func() time.Time { return times[d.rng.IntN(len(times))] }
	maybe := func(v any) any {
		if d.rng.IntN(3) == 0 {
			return nil
		}
		return v
	}
	var tagIDs []string
	for i := range tags {
		id := uuid.NewString()
		name := texts[i%len(texts)] + fmt.Sprintf(" %d", i) // unique per user
		color := maybe(fmt.Sprintf("#%06x", d.rng.IntN(1<<24)))
		if _, err := tx.Exec(`INSERT INTO tags (user_uuid, id, name, color, created_at) VALUES ($1, $2, $3, $4, $5)`,
			user, id, name, color, anyTime()); err != nil {
			d.t.Fatal(err)
		}
		tagIDs = append(tagIDs, id)
	}
	for range tasks {
		id := uuid.NewString()
		title := texts[d.rng.IntN(len(texts))]
		var prio any
		if d.rng.IntN(3) > 0 {
			prio = 1 + d.rng.IntN(4)
		}
		if _, err := tx.Exec(`INSERT INTO tasks (user_uuid, id, title, description, completed_at, priority, due_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			user, id, title, maybe(texts[d.rng.IntN(len(texts))]), maybe(anyTime()), prio, maybe(anyTime()), anyTime(), anyTime()); err != nil {
			d.t.Fatal(err)
		}
		for _, g := range tagIDs {
			if d.rng.IntN(3) == 0 {
				if _, err := tx.Exec(`INSERT INTO task_tags (user_uuid, task_id, tag_id) VALUES ($1, $2, $3)`, user, id, g); err != nil {
					d.t.Fatal(err)
				}
			}
		}
		d.taskIDs = append(d.taskIDs, id)
	}
	d.tagIDs = append(d.tagIDs, tagIDs...)
}

// diffOp is one generated request.
type diffOp struct {
	user  int
	query string
	vars  map[string]any
	lists map[string]listContext // root tasks fields by response key
}

func (d *diffWorker) compare(i int, op diffOp) bool {
	u := d.users[op.user]
	body, _ := json.Marshal(map[string]any{"query": op.query, "variables": op.vars})
	send := func(h http.Handler) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+u.token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	cs, cb := send(d.compiledH)
	rs, rb := send(d.resolveH)
	if cs != rs || (cb != rb && !sameButErrorOrder(cb, rb)) {
		d.t.Errorf("operation %d differs (user %d)\n%s\nvariables: %s\ncompiled (%d):  %s\nresolvers (%d): %s", i, op.user, op.query, mustJSON(op.vars), cs, cb, rs, rb)
		return false
	}
	var resp struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal([]byte(rb), &resp)
	for key, l := range op.lists {
		for _, c := range cursorRE.FindAllString(string(resp.Data[key]), -1) {
			l.cursor = strings.Trim(c, `"`)
			d.cursors = keep(d.rng, d.cursors, l.cursor)
			d.lists = keep(d.rng, d.lists, l)
		}
	}
	return true
}

// otherIDs is vars with every variable holding an id (or a malformed one) given another: one of
// any user's tasks or tags, a random UUID or not a UUID.
func (d *diffWorker) otherIDs(vars map[string]any) map[string]any {
	out := make(map[string]any, len(vars))
	for k, v := range vars {
		out[k] = v
		if s, ok := v.(string); ok && (s == "not-a-uuid" || uuid.Validate(s) == nil) {
			switch n := d.rng.IntN(100); {
			case n < 45:
				out[k] = d.taskIDs[d.rng.IntN(len(d.taskIDs))]
			case n < 90:
				out[k] = d.tagIDs[d.rng.IntN(len(d.tagIDs))]
			case n < 95:
				out[k] = uuid.NewString()
			default:
				out[k] = "not-a-uuid"
			}
		}
	}
	return out
}

// sameButErrorOrder reports whether two responses differ only in the order of their errors: the
// resolvers run root fields concurrently, so two root fields' errors come in either order from
// gqlgen itself (the compiled path answers only without errors).
func sameButErrorOrder(a, b string) bool {
	type resp struct {
		Errors []json.RawMessage `json:"errors"`
		Data   json.RawMessage   `json:"data"`
	}
	var x, y resp
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil || len(x.Errors) < 2 {
		return false
	}
	norm := func(r resp) string {
		errs := make([]string, len(r.Errors))
		for i, e := range r.Errors {
			errs[i] = string(e)
		}
		slices.Sort(errs)
		return strings.Join(errs, "\n") + "\n" + string(r.Data)
	}
	return norm(x) == norm(y)
}

// cursorRE finds cursors in an answer: base64url strings longer than anything else it holds.
var cursorRE = regexp.MustCompile(`"[A-Za-z0-9_-]{80,}"`)

// keep adds v to a pool of at most 300, replacing a random one when full.
func keep[T any](rng *rand.Rand, pool []T, v T) []T {
	if len(pool) < 300 {
		return append(pool, v)
	}
	pool[rng.IntN(len(pool))] = v
	return pool
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
