package graph_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// TestIsolationProperty is issue #9's isolation property: three users send a few thousand random
// queries and mutations through the real stack (auth.Middleware with real tokens, gqlgen, the
// data layer, PostgreSQL), with ids drawn from all three users' objects, deleted ones and random
// UUIDs, and cursors taken from each other's pages. After every step the answer must be exactly
// what a simple in-memory model of each user's tasks and tags predicts, and must contain nothing
// of another user (their ids, uuid, sub, email, or the marker every title, description and tag
// name of theirs carries). Every checkEvery steps and at the end, every row of tasks, tags and
// task_tags, read past row-level security on a direct connection, must equal the model.
//
// The run is deterministic for a seed (ids differ, the choices do not): a failure prints
// ISOLATION_SEED=<n>, and ISOLATION_SEED=<n> go test -run TestIsolationProperty ./graph replays
// it. ISOLATION_OPS changes the number of steps.
func TestIsolationProperty(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ISOLATION_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ISOLATION_SEED=%q is not a number", s)
		}
		seed = n
	}
	ops := 3000
	if s := os.Getenv("ISOLATION_OPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("ISOLATION_OPS=%q is not a positive number", s)
		}
		ops = n
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with: ISOLATION_SEED=%d ISOLATION_OPS=%d go test -count=1 -run 'TestIsolationProperty$' ./graph", seed, ops)
		}
	})

	e := newEnv(t)
	p := newProperty(t, e, seed)
	const checkEvery = 25
	counts := map[string]int{}
	for step := range ops {
		name := p.step()
		counts[name]++
		if p.failed != "" {
			t.Fatalf("step %d (%s): %s", step, name, p.failed)
		}
		if (step+1)%checkEvery == 0 || step == ops-1 {
			if diff := p.compareDatabase(); diff != "" {
				t.Fatalf("after step %d (%s) the database differs from the model:\n%s", step, name, diff)
			}
		}
	}
	var summary []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		summary = append(summary, fmt.Sprintf("%s %d", k, counts[k]))
	}
	t.Logf("seed %d: %d steps (%s); refusals %d; final rows: %s; executors: %d compiled, %d resolvers", seed, ops, strings.Join(summary, ", "), p.refusals, p.rowSummary(), e.compiled.Load(), e.resolved.Load())
	// Issue 18: the property holds over the compiled read path, which must have served the reads.
	reads := counts["task"] + counts["tag"] + counts["tags"] + counts["me"] + counts["tasks"]
	if e.compiled.Load() < int64(reads)/2 {
		t.Fatalf("the compiled path served %d operations of %d reads: the property was not checked over it", e.compiled.Load(), reads)
	}
}

// The model.

type mTask struct {
	id, title                    string
	description, priority, dueAt *string // dueAt in UTC, RFC 3339
	completedAt                  *string // as answered
	createdAt, updatedAt         string  // as answered
	tags                         map[string]bool
}

type mTag struct {
	id, name  string
	color     *string
	createdAt string
}

type mUser struct {
	auth.User
	token, marker string
	tasks         map[string]*mTask
	tags          map[string]*mTag
	cursors       []mCursor // every cursor this user was given
}

// mCursor is a cursor as received, with the list it belongs to and the key of its row then.
type mCursor struct {
	cursor string
	args   listArgs
	key    sortKey
}

type property struct {
	t        *testing.T
	e        *env
	rng      *rand.Rand
	users    []*mUser
	owner    map[string]int // every id ever created (and each user's uuid) -> user index
	deleted  []string       // ids that existed and were deleted
	serial   int            // makes every title unique
	admin    *sqlx.DB
	bypass   bool // admin reads past RLS
	refusals int
	failed   string
}

func newProperty(t *testing.T, e *env, seed uint64) *property {
	p := &property{t: t, e: e, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), owner: map[string]int{}}
	c := e.user("sub-c", "c@example.com", "Carol")
	for i, u := range []auth.User{e.a, e.b, c} {
		m := &mUser{User: u, token: e.issuer.TokenFor(t, u), marker: []string{"[alice]", "[bob]", "[carol]"}[i],
			tasks: map[string]*mTask{}, tags: map[string]*mTag{}}
		p.users = append(p.users, m)
		p.owner[u.UUID.String()] = i
	}
	p.admin, p.bypass = testkit.AdminDB(t, e.dbURL)
	if !p.bypass {
		t.Logf("TEST_DATABASE_URL's user cannot bypass row-level security: the database is compared user by user under RLS")
		p.admin = e.x
	}
	return p
}

func (p *property) failf(format string, args ...any) {
	if p.failed == "" {
		p.failed = fmt.Sprintf(format, args...)
	}
}

// step runs one random operation as a random user and checks it; it returns the operation's name.
func (p *property) step() string {
	ui := p.rng.IntN(len(p.users))
	type op struct {
		name   string
		weight int
		run    func(ui int)
	}
	table := []op{
		{"createTask", 14, p.createTask},
		{"updateTask", 14, p.updateTask},
		{"deleteTask", 5, p.deleteTask},
		{"createTag", 7, p.createTag},
		{"updateTag", 5, p.updateTag},
		{"deleteTag", 3, p.deleteTag},
		{"task", 10, p.queryTask},
		{"tag", 5, p.queryTag},
		{"tags", 5, p.queryTags},
		{"tasks", 30, p.queryTasks},
		{"me", 2, p.queryMe},
	}
	total := 0
	for _, o := range table {
		total += o.weight
	}
	n := p.rng.IntN(total)
	for _, o := range table {
		if n < o.weight {
			o.run(ui)
			return o.name
		}
		n -= o.weight
	}
	panic("unreachable")
}

// send runs one request as user ui and checks that the answer holds nothing of another user.
// sent are the ids the request carried (an answer may name them).
func (p *property) send(ui int, query string, vars map[string]any, sent ...string) response {
	r, err := p.e.send(p.users[ui].token, query, vars)
	if err != nil {
		p.failf("%v", err)
		return r
	}
	if r.Status != http.StatusOK {
		p.failf("HTTP %d for %s %v: %s", r.Status, firstLine(query), vars, r.Raw)
	}
	p.checkNoLeak(ui, r.Raw, sent)
	if code := r.code(); code == "INTERNAL_SERVER_ERROR" {
		p.failf("internal error for %s %v: %s", firstLine(query), vars, r.Raw)
	}
	if len(r.Errors) > 0 {
		p.refusals++
	}
	return r
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func (p *property) checkNoLeak(ui int, raw string, sent []string) {
	for _, id := range uuidRE.FindAllString(raw, -1) {
		if o, ok := p.owner[id]; ok && o != ui && !slices.Contains(sent, id) {
			p.failf("%s's answer contains %s's id %s: %s", p.users[ui].Name, p.users[o].Name, id, raw)
		}
	}
	for oi, o := range p.users {
		if oi == ui {
			continue
		}
		for _, s := range []string{o.marker, o.ID, o.Email, o.UUID.String()} {
			if strings.Contains(raw, `"`+s) || strings.Contains(raw, s+`"`) || (s == o.marker && strings.Contains(raw, s)) {
				p.failf("%s's answer contains %s's %q: %s", p.users[ui].Name, o.Name, s, raw)
			}
		}
	}
}

// expect checks an answer's refusal: code "" means success (no errors at all).
func (p *property) expect(r response, what, code, field string) bool {
	if p.failed != "" {
		return false
	}
	if code == "" {
		if len(r.Errors) > 0 {
			p.failf("%s: want success, got %s", what, r.Raw)
			return false
		}
		return true
	}
	if r.code() != code || r.field() != field || len(r.Errors) != 1 {
		p.failf("%s: want one %s (field %q), got %s", what, code, field, r.Raw)
	}
	return false
}

// Picking ids: own objects, other users' objects, the other kind of object, deleted ids, random
// UUIDs and the odd malformed one.

func (p *property) pick(ui int, kind string) string {
	own, other := p.ids(ui, kind, true), p.ids(ui, kind, false)
	wrong := "tag"
	if kind == "tag" {
		wrong = "task"
	}
	switch n := p.rng.IntN(100); {
	case n < 50 && len(own) > 0:
		return own[p.rng.IntN(len(own))]
	case n < 68 && len(other) > 0:
		return other[p.rng.IntN(len(other))]
	case n < 75:
		if w := p.ids(ui, wrong, true); len(w) > 0 {
			return w[p.rng.IntN(len(w))]
		}
	case n < 86 && len(p.deleted) > 0:
		return p.deleted[p.rng.IntN(len(p.deleted))]
	}
	return uuid.NewString()
}

// ids are the live ids of kind of user ui (own) or of the other users, sorted for determinism.
func (p *property) ids(ui int, kind string, own bool) []string {
	var out []string
	for i, u := range p.users {
		if (i == ui) != own {
			continue
		}
		if kind == "task" {
			out = append(out, slices.Sorted(maps.Keys(u.tasks))...)
		} else {
			out = append(out, slices.Sorted(maps.Keys(u.tags))...)
		}
	}
	return out
}

func (p *property) ownsTask(ui int, id string) bool { return p.users[ui].tasks[id] != nil }
func (p *property) ownsTag(ui int, id string) bool  { return p.users[ui].tags[id] != nil }

// Values.

var (
	priorityNames = []string{"LOW", "MEDIUM", "HIGH", "URGENT"}
	words         = []string{"report", "meeting", "groceries", "Report draft", "call the bank", "plan"}
	tagWords      = []string{"work", "Work", "home", "HOME", "errands", "later", "urgent", "someday"}
	dueChoices    = []string{"2027-03-01T10:00:00+02:00", "2027-03-01T08:00:00Z", "2027-01-15T23:30:00-05:00",
		"2027-06-30T00:00:00Z", "2026-12-31T12:00:00+09:00"}
)

func utc(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (p *property) title(ui int) string {
	p.serial++
	return fmt.Sprintf("%s t%05d", p.users[ui].marker, p.serial)
}

func (p *property) description(ui int) string {
	return p.users[ui].marker + " " + words[p.rng.IntN(len(words))]
}

func (p *property) chance(percent int) bool { return p.rng.IntN(100) < percent }

// tagIDList is 0 to 3 tag ids, never nil (an empty list clears a task's tags; null would not).
func (p *property) tagIDList(ui int) []string {
	out := []string{}
	for range p.rng.IntN(4) {
		out = append(out, p.pick(ui, "tag"))
	}
	return out
}

// tagOutcome is what a list of tag ids for user ui gives: "" (all the user's), or NOT_FOUND.
func (p *property) tagOutcome(ui int, ids []string) string {
	for _, id := range ids {
		if !p.ownsTag(ui, id) {
			return "NOT_FOUND"
		}
	}
	return ""
}

func set(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// Mutations.

func (p *property) createTask(ui int) {
	u := p.users[ui]
	title := p.title(ui)
	in := map[string]any{"title": title}
	if p.chance(20) {
		in["title"] = "  " + title + " " // trimmed
	}
	if p.chance(60) {
		in["description"] = p.description(ui)
	}
	if p.chance(60) {
		in["priority"] = priorityNames[p.rng.IntN(4)]
	}
	if p.chance(50) {
		in["dueAt"] = dueChoices[p.rng.IntN(len(dueChoices))]
	}
	in["completed"] = p.chance(30)
	tags := p.tagIDList(ui)
	in["tagIds"] = tags
	code, field := p.tagOutcome(ui, tags), "tagIds"
	if code == "" && p.chance(3) {
		in["title"], code, field = "   ", "BAD_USER_INPUT", "title"
	}
	if code == "" {
		field = ""
	}
	r := p.send(ui, `mutation($in: CreateTaskInput!) { createTask(input: $in) { `+taskFields+` } }`, map[string]any{"in": in}, tags...)
	if !p.expect(r, "createTask", code, field) {
		return
	}
	var got taskJSON
	_ = json.Unmarshal(r.Data["createTask"], &got)
	m := &mTask{id: got.ID, title: title, tags: set(tags), createdAt: got.CreatedAt, updatedAt: got.UpdatedAt, completedAt: got.CompletedAt}
	if d, ok := in["description"].(string); ok {
		m.description = &d
	}
	if pr, ok := in["priority"].(string); ok {
		m.priority = &pr
	}
	if d, ok := in["dueAt"].(string); ok {
		s := utc(d)
		m.dueAt = &s
	}
	if (got.CompletedAt != nil) != in["completed"].(bool) || got.CreatedAt != got.UpdatedAt {
		p.failf("createTask answered %+v for %v", got, in)
	}
	u.tasks[m.id] = m
	p.owner[m.id] = ui
	p.compareTask(ui, "createTask", got, m)
}

func (p *property) updateTask(ui int) {
	u := p.users[ui]
	id := p.pick(ui, "task")
	in := map[string]any{}
	if p.chance(40) {
		in["title"] = p.title(ui)
	} else if p.chance(5) {
		in["title"] = nil // changes nothing
	}
	if p.chance(30) {
		if p.chance(30) {
			in["description"] = nil
		} else {
			in["description"] = p.description(ui)
		}
	}
	if p.chance(30) {
		if p.chance(30) {
			in["priority"] = nil
		} else {
			in["priority"] = priorityNames[p.rng.IntN(4)]
		}
	}
	if p.chance(30) {
		if p.chance(30) {
			in["dueAt"] = nil
		} else {
			in["dueAt"] = dueChoices[p.rng.IntN(len(dueChoices))]
		}
	}
	if p.chance(30) {
		in["completed"] = p.chance(50)
	}
	var tags []string
	if p.chance(40) {
		tags = p.tagIDList(ui)
		in["tagIds"] = tags
	} else if p.chance(5) {
		in["tagIds"] = nil // changes nothing
	}
	code, field := "", ""
	switch {
	case p.chance(2):
		id, code, field = "not-a-uuid", "BAD_USER_INPUT", "id"
	case !p.ownsTask(ui, id):
		code = "NOT_FOUND"
	case tags != nil && p.tagOutcome(ui, tags) != "":
		code, field = "NOT_FOUND", "tagIds"
	}
	r := p.send(ui, updateTaskMutation, map[string]any{"id": id, "in": in}, append(tags, id)...)
	if !p.expect(r, "updateTask", code, field) {
		return
	}
	var got taskJSON
	_ = json.Unmarshal(r.Data["updateTask"], &got)
	m := u.tasks[id]
	if got.UpdatedAt <= m.updatedAt || got.CreatedAt != m.createdAt {
		p.failf("updateTask: updatedAt %s after %s, createdAt %s (was %s)", got.UpdatedAt, m.updatedAt, got.CreatedAt, m.createdAt)
	}
	m.updatedAt = got.UpdatedAt
	if s, ok := in["title"].(string); ok {
		m.title = s
	}
	if v, ok := in["description"]; ok {
		m.description = optional(v)
	}
	if v, ok := in["priority"]; ok {
		m.priority = optional(v)
	}
	if v, ok := in["dueAt"]; ok {
		m.dueAt = optional(v)
		if m.dueAt != nil {
			s := utc(*m.dueAt)
			m.dueAt = &s
		}
	}
	if c, ok := in["completed"].(bool); ok {
		switch {
		case !c:
			m.completedAt = nil
		case m.completedAt == nil:
			if got.CompletedAt == nil || *got.CompletedAt != got.UpdatedAt {
				p.failf("updateTask: completing set completedAt %v, want updatedAt %s", got.CompletedAt, got.UpdatedAt)
			}
			m.completedAt = got.CompletedAt
		}
	}
	if tags != nil {
		m.tags = set(tags)
	}
	p.compareTask(ui, "updateTask", got, m)
}

func optional(v any) *string {
	if s, ok := v.(string); ok {
		return &s
	}
	return nil
}

func (p *property) deleteTask(ui int) {
	id := p.pick(ui, "task")
	code := ""
	if !p.ownsTask(ui, id) {
		code = "NOT_FOUND"
	}
	r := p.send(ui, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": id}, id)
	if !p.expect(r, "deleteTask", code, "") {
		return
	}
	if string(r.Data["deleteTask"]) != strconv.Quote(id) {
		p.failf("deleteTask answered %s for %s", r.Data["deleteTask"], id)
	}
	delete(p.users[ui].tasks, id)
	p.deleted = append(p.deleted, id)
}

// colorInput returns a color to send and what it is stored as.
func (p *property) colorInput() (in any, stored *string, bad bool) {
	switch p.rng.IntN(6) {
	case 0:
		return nil, nil, false
	case 1:
		return "", nil, false
	case 2:
		return "#abc", ptr("#aabbcc"), false
	case 3:
		return "#A1B2C3", ptr("#a1b2c3"), false
	case 4:
		if p.chance(25) {
			return "#12345", nil, true
		}
		return "#00ff00", ptr("#00ff00"), false
	}
	return "#102030", ptr("#102030"), false
}

func (p *property) tagName(ui int) string {
	return p.users[ui].marker + " " + tagWords[p.rng.IntN(len(tagWords))]
}

// nameTaken reports whether another of the user's tags than except has name (ignoring case).
func (p *property) nameTaken(ui int, name, except string) bool {
	for id, g := range p.users[ui].tags {
		if id != except && strings.EqualFold(g.name, name) {
			return true
		}
	}
	return false
}

func (p *property) createTag(ui int) {
	u := p.users[ui]
	if len(u.tags) >= 30 {
		p.deleteTag(ui)
		return
	}
	name := p.tagName(ui)
	color, stored, bad := p.colorInput()
	code, field := "", ""
	switch {
	case bad:
		code, field = "BAD_USER_INPUT", "color"
	case p.nameTaken(ui, name, ""):
		code = "CONFLICT"
	}
	r := p.send(ui, `mutation($in: CreateTagInput!) { createTag(input: $in) { id name color createdAt } }`,
		map[string]any{"in": map[string]any{"name": name, "color": color}})
	if !p.expect(r, "createTag", code, field) {
		return
	}
	var got tagJSON
	_ = json.Unmarshal(r.Data["createTag"], &got)
	m := &mTag{id: got.ID, name: name, color: stored, createdAt: got.CreatedAt}
	u.tags[m.id] = m
	p.owner[m.id] = ui
	p.compareTag("createTag", got, m)
}

func (p *property) updateTag(ui int) {
	u := p.users[ui]
	id := p.pick(ui, "tag")
	in := map[string]any{}
	var name string
	if p.chance(60) {
		name = p.tagName(ui)
		in["name"] = name
	}
	color, stored, bad := p.colorInput()
	setColor := p.chance(60)
	if setColor {
		in["color"] = color
	}
	code, field := "", ""
	switch {
	case setColor && bad:
		code, field = "BAD_USER_INPUT", "color"
	case !p.ownsTag(ui, id):
		code = "NOT_FOUND"
	case name != "" && p.nameTaken(ui, name, id):
		code = "CONFLICT"
	}
	r := p.send(ui, `mutation($id: ID!, $in: UpdateTagInput!) { updateTag(id: $id, input: $in) { id name color createdAt } }`,
		map[string]any{"id": id, "in": in}, id)
	if !p.expect(r, "updateTag", code, field) {
		return
	}
	var got tagJSON
	_ = json.Unmarshal(r.Data["updateTag"], &got)
	m := u.tags[id]
	if name != "" {
		m.name = name
	}
	if setColor {
		m.color = stored
	}
	p.compareTag("updateTag", got, m)
}

func (p *property) deleteTag(ui int) {
	u := p.users[ui]
	id := p.pick(ui, "tag")
	code := ""
	if !p.ownsTag(ui, id) {
		code = "NOT_FOUND"
	}
	r := p.send(ui, `mutation($id: ID!) { deleteTag(id: $id) }`, map[string]any{"id": id}, id)
	if !p.expect(r, "deleteTag", code, "") {
		return
	}
	delete(u.tags, id)
	for _, task := range u.tasks {
		delete(task.tags, id)
	}
	p.deleted = append(p.deleted, id)
}

// Queries.

func (p *property) queryTask(ui int) {
	id := p.pick(ui, "task")
	code, field := "", ""
	if p.chance(2) {
		id, code, field = "not-a-uuid", "BAD_USER_INPUT", "id"
	}
	r := p.send(ui, `query($id: ID!) { task(id: $id) { `+taskFields+` } }`, map[string]any{"id": id}, id)
	if code != "" {
		p.expect(r, "task", code, field)
		return
	}
	if !p.expect(r, "task", "", "") {
		return
	}
	m := p.users[ui].tasks[id]
	if m == nil {
		if string(r.Data["task"]) != "null" {
			p.failf("task(%s) of another user or none: %s", id, r.Raw)
		}
		return
	}
	var got taskJSON
	_ = json.Unmarshal(r.Data["task"], &got)
	p.compareTask(ui, "task", got, m)
}

func (p *property) queryTag(ui int) {
	id := p.pick(ui, "tag")
	r := p.send(ui, `query($id: ID!) { tag(id: $id) { id name color createdAt } }`, map[string]any{"id": id}, id)
	if !p.expect(r, "tag", "", "") {
		return
	}
	m := p.users[ui].tags[id]
	if m == nil {
		if string(r.Data["tag"]) != "null" {
			p.failf("tag(%s) of another user or none: %s", id, r.Raw)
		}
		return
	}
	var got tagJSON
	_ = json.Unmarshal(r.Data["tag"], &got)
	p.compareTag("tag", got, m)
}

func (p *property) queryTags(ui int) {
	r := p.send(ui, `{ tags { id name color createdAt } }`, nil)
	if !p.expect(r, "tags", "", "") {
		return
	}
	var got []tagJSON
	_ = json.Unmarshal(r.Data["tags"], &got)
	if len(got) != len(p.users[ui].tags) {
		p.failf("tags: %d, model has %d: %s", len(got), len(p.users[ui].tags), r.Raw)
		return
	}
	for _, g := range got {
		m := p.users[ui].tags[g.ID]
		if m == nil {
			p.failf("tags lists %s, not in the model", g.ID)
			return
		}
		p.compareTag("tags", g, m)
	}
}

func (p *property) queryMe(ui int) {
	r := p.send(ui, `{ me { id uuid email name } }`, nil)
	if !p.expect(r, "me", "", "") {
		return
	}
	var me struct{ ID, UUID, Email, Name string }
	_ = json.Unmarshal(r.Data["me"], &me)
	u := p.users[ui]
	if me.ID != u.ID || me.UUID != u.UUID.String() || me.Email != u.Email || me.Name != u.Name {
		p.failf("me = %+v for %s", me, u.Name)
	}
}

// Lists.

// listArgs are the arguments of one tasks() call except the cursor.
type listArgs struct {
	first, last *int
	filter      map[string]any
	field       string // CREATED_AT, ...
	desc        bool
}

// sortKey is a row's position in an ordering: its value (nil for NULL) and id.
type sortKey struct {
	value *string
	id    string
}

func (p *property) randomArgs(ui int) listArgs {
	a := listArgs{field: []string{"CREATED_AT", "UPDATED_AT", "DUE_AT", "PRIORITY", "TITLE"}[p.rng.IntN(5)], desc: p.chance(50)}
	sizes := []int{0, 1, 2, 3, 5, 10, 20}
	n := sizes[p.rng.IntN(len(sizes))]
	switch {
	case p.chance(30):
		a.last = &n
	case p.chance(85):
		a.first = &n
	} // else: neither, the default 20
	f := map[string]any{}
	if p.chance(25) {
		f["completed"] = p.chance(50)
	}
	if p.chance(20) {
		var ps []string
		for _, pr := range priorityNames {
			if p.chance(40) {
				ps = append(ps, pr)
			}
		}
		f["priorities"] = ps
	}
	if p.chance(20) {
		ids := p.tagIDList(ui)
		slices.Sort(ids)
		f["tagIds"] = slices.Compact(ids)
		if p.chance(50) {
			f["tagMatch"] = "ALL"
		}
	}
	if p.chance(15) {
		probes := []string{"report", "REPORT", "t000", "t001", "plan", "bank"}
		if p.chance(20) {
			// another user's marker: must find nothing of theirs
			f["search"] = p.users[(ui+1+p.rng.IntN(2))%3].marker
		} else {
			f["search"] = probes[p.rng.IntN(len(probes))]
		}
	}
	if p.chance(15) {
		f["dueAfter"] = dueChoices[p.rng.IntN(len(dueChoices))]
	}
	if p.chance(15) {
		f["dueBefore"] = dueChoices[p.rng.IntN(len(dueChoices))]
	}
	if len(f) > 0 {
		a.filter = f
	}
	return a
}

const tasksQuery = `query($first: Int, $after: String, $last: Int, $before: String, $filter: TaskFilter, $orderBy: TaskOrder) {
  tasks(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    totalCount
    edges { cursor node { ` + taskFields + ` } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }`

func (p *property) queryTasks(ui int) {
	u := p.users[ui]
	a := p.randomArgs(ui)
	var cur *mCursor
	code, field := "", ""
	switch n := p.rng.IntN(100); {
	case n < 40 && len(u.cursors) > 0: // continue one of our own lists
		c := u.cursors[p.rng.IntN(len(u.cursors))]
		cur, a = &c, c.args
		if p.chance(15) { // the same cursor with another ordering: refused
			a.desc = !a.desc
			code = "BAD_USER_INPUT"
		}
	case n < 55: // another user's cursor
		other := p.users[(ui+1+p.rng.IntN(2))%3]
		if len(other.cursors) > 0 {
			c := other.cursors[p.rng.IntN(len(other.cursors))]
			cur, a, code = &c, c.args, "BAD_USER_INPUT"
		}
	case n < 58:
		cur, code = &mCursor{cursor: "bm90IGEgY3Vyc29y"}, "BAD_USER_INPUT"
	}
	vars := map[string]any{"orderBy": map[string]any{"field": a.field, "direction": map[bool]string{true: "DESC", false: "ASC"}[a.desc]}}
	if a.first != nil {
		vars["first"] = *a.first
	}
	if a.last != nil {
		vars["last"] = *a.last
	}
	if a.filter != nil {
		vars["filter"] = a.filter
	}
	if cur != nil {
		if a.last != nil {
			vars["before"], field = cur.cursor, "before"
		} else {
			vars["after"], field = cur.cursor, "after"
		}
	}
	if code == "" {
		field = ""
	}
	var sent []string
	if ids, ok := a.filter["tagIds"].([]string); ok {
		sent = ids
	}
	r := p.send(ui, tasksQuery, vars, sent...)
	if !p.expect(r, "tasks", code, field) {
		return
	}
	var page struct {
		TotalCount int
		Edges      []struct {
			Cursor string
			Node   taskJSON
		}
		PageInfo struct {
			HasNextPage, HasPreviousPage bool
			StartCursor, EndCursor       *string
		}
	}
	if err := json.Unmarshal(r.Data["tasks"], &page); err != nil {
		p.failf("tasks: %v in %s", err, r.Raw)
		return
	}
	matching := p.matching(ui, a)
	want, hasMore := pageOf(matching, a, cur)
	if page.TotalCount != len(matching) {
		p.failf("tasks %v: totalCount %d, model %d", vars, page.TotalCount, len(matching))
		return
	}
	if len(page.Edges) != len(want) {
		p.failf("tasks %v: %d rows, model %d: %s", vars, len(page.Edges), len(want), r.Raw)
		return
	}
	for i, edge := range page.Edges {
		if edge.Node.ID != want[i].id {
			p.failf("tasks %v: row %d is %s (%s), model %s (%s)", vars, i, edge.Node.ID, edge.Node.Title, want[i].id, want[i].title)
			return
		}
		p.compareTask(ui, "tasks", edge.Node, want[i])
		u.cursors = append(u.cursors, mCursor{cursor: edge.Cursor, args: a, key: keyOf(want[i], a.field)})
	}
	forward := a.last == nil
	more, other := page.PageInfo.HasNextPage, page.PageInfo.HasPreviousPage
	if !forward {
		more, other = other, more
	}
	if more != hasMore || other != (cur != nil) {
		p.failf("tasks %v: pageInfo %+v, model: more %v, cursor given %v", vars, page.PageInfo, hasMore, cur != nil)
	}
	if len(u.cursors) > 200 {
		u.cursors = u.cursors[len(u.cursors)-200:]
	}
}

func (p *property) matching(ui int, a listArgs) []*mTask {
	f := a.filter
	var out []*mTask
	for _, t := range p.users[ui].tasks {
		if c, ok := f["completed"].(bool); ok && c != (t.completedAt != nil) {
			continue
		}
		if ps, ok := f["priorities"].([]string); ok && len(ps) > 0 && (t.priority == nil || !slices.Contains(ps, *t.priority)) {
			continue
		}
		if ids, ok := f["tagIds"].([]string); ok && len(ids) > 0 {
			n := 0
			for _, id := range ids {
				if t.tags[id] {
					n++
				}
			}
			if f["tagMatch"] == "ALL" && n != len(ids) || n == 0 {
				continue
			}
		}
		if s, ok := f["search"].(string); ok && s != "" {
			s = strings.ToLower(s)
			if !strings.Contains(strings.ToLower(t.title), s) && (t.description == nil || !strings.Contains(strings.ToLower(*t.description), s)) {
				continue
			}
		}
		if d, ok := f["dueAfter"].(string); ok && (t.dueAt == nil || parseTime(*t.dueAt).Before(parseTime(d))) {
			continue
		}
		if d, ok := f["dueBefore"].(string); ok && (t.dueAt == nil || !parseTime(*t.dueAt).Before(parseTime(d))) {
			continue
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(x, y *mTask) int { return compareKeys(keyOf(x, a.field), keyOf(y, a.field), a.field, a.desc) })
	return out
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// keyOf copies t's sort key (a cursor keeps the key its row had when it was given).
func keyOf(t *mTask, field string) sortKey {
	k := sortKey{id: t.id}
	val := func(s *string) *string {
		if s == nil {
			return nil
		}
		v := *s
		return &v
	}
	switch field {
	case "CREATED_AT":
		k.value = val(&t.createdAt)
	case "UPDATED_AT":
		k.value = val(&t.updatedAt)
	case "DUE_AT":
		k.value = val(t.dueAt)
	case "PRIORITY":
		if t.priority != nil {
			k.value = val(ptr(strconv.Itoa(slices.Index(priorityNames, *t.priority))))
		}
	case "TITLE":
		k.value = val(&t.title)
	}
	return k
}

// compareKeys orders two rows as the API does: NULL keys last in both directions, ties by id in
// the ordering's direction. Titles compare by bytes (the test databases use the C collation's
// order for these ASCII titles of one shape).
func compareKeys(x, y sortKey, field string, desc bool) int {
	if (x.value == nil) != (y.value == nil) {
		if x.value == nil {
			return 1
		}
		return -1
	}
	c := 0
	if x.value != nil {
		switch field {
		case "CREATED_AT", "UPDATED_AT", "DUE_AT":
			c = parseTime(*x.value).Compare(parseTime(*y.value))
		default:
			c = cmp.Compare(*x.value, *y.value)
		}
	}
	if c == 0 {
		c = cmp.Compare(x.id, y.id)
	}
	if desc {
		c = -c
	}
	return c
}

// pageOf is the model's page: the first n after the cursor's key, or the last n before it, and
// whether more rows lie beyond the page in its direction.
func pageOf(rows []*mTask, a listArgs, cur *mCursor) ([]*mTask, bool) {
	forward := a.last == nil
	n := 20
	if a.first != nil {
		n = *a.first
	}
	if a.last != nil {
		n = *a.last
	}
	var in []*mTask
	for _, t := range rows {
		if cur == nil {
			in = append(in, t)
			continue
		}
		c := compareKeys(keyOf(t, a.field), cur.key, a.field, a.desc)
		if (forward && c > 0) || (!forward && c < 0) {
			in = append(in, t)
		}
	}
	if forward {
		return in[:min(n, len(in))], len(in) > n
	}
	return in[max(0, len(in)-n):], len(in) > n
}

// Comparisons of answers with the model.

func (p *property) compareTask(ui int, what string, got taskJSON, m *mTask) {
	want := taskJSON{ID: m.id, Title: m.title, Description: m.description, Completed: m.completedAt != nil,
		CompletedAt: m.completedAt, Priority: m.priority, DueAt: m.dueAt, CreatedAt: m.createdAt, UpdatedAt: m.updatedAt}
	if describe(got) != describe(want) {
		p.failf("%s: task %s answered\n %s\nmodel\n %s", what, m.id, describe(got), describe(want))
		return
	}
	if len(got.Tags) != len(m.tags) {
		p.failf("%s: task %s has tags %v, model %v", what, m.id, tagIDs(got.Tags), slices.Sorted(maps.Keys(m.tags)))
		return
	}
	for _, tag := range got.Tags {
		mt := p.users[ui].tags[tag.ID]
		if !m.tags[tag.ID] || mt == nil {
			p.failf("%s: task %s has tag %s, model %v", what, m.id, tag.ID, slices.Sorted(maps.Keys(m.tags)))
			return
		}
		if tag.Name != mt.name || ptrString(tag.Color) != ptrString(mt.color) {
			p.failf("%s: task %s's tag %+v, model %+v", what, m.id, tag, *mt)
		}
	}
}

func describe(t taskJSON) string {
	return fmt.Sprintf("id=%s title=%q description=%s completed=%v completedAt=%s priority=%s dueAt=%s createdAt=%s updatedAt=%s",
		t.ID, t.Title, ptrString(t.Description), t.Completed, ptrString(t.CompletedAt), ptrString(t.Priority),
		ptrString(t.DueAt), t.CreatedAt, t.UpdatedAt)
}

func (p *property) compareTag(what string, got tagJSON, m *mTag) {
	if got.ID != m.id || got.Name != m.name || ptrString(got.Color) != ptrString(m.color) || got.CreatedAt != m.createdAt {
		p.failf("%s: tag answered %+v, model %+v", what, got, *m)
	}
}

// The database, read directly.

type dbRows struct {
	tasks, tags, links []string
}

// compareDatabase reads every row of tasks, tags and task_tags on the direct connection and
// returns how they differ from the model ("" when equal).
func (p *property) compareDatabase() string {
	got := p.readDatabase()
	var want dbRows
	for _, u := range p.users {
		owner := u.UUID.String()
		for _, t := range u.tasks {
			want.tasks = append(want.tasks, strings.Join([]string{owner, t.id, t.title, ptrString(t.description),
				timeText(t.completedAt), ptrString(priorityNumber(t.priority)), timeText(t.dueAt), timeText(&t.createdAt), timeText(&t.updatedAt)}, " | "))
			for tag := range t.tags {
				want.links = append(want.links, owner+" | "+t.id+" | "+tag)
			}
		}
		for _, g := range u.tags {
			want.tags = append(want.tags, strings.Join([]string{owner, g.id, g.name, ptrString(g.color), timeText(&g.createdAt)}, " | "))
		}
	}
	var diff []string
	for _, part := range []struct {
		name      string
		got, want []string
	}{{"tasks", got.tasks, want.tasks}, {"tags", got.tags, want.tags}, {"task_tags", got.links, want.links}} {
		slices.Sort(part.got)
		slices.Sort(part.want)
		for _, r := range part.got {
			if _, found := slices.BinarySearch(part.want, r); !found {
				diff = append(diff, fmt.Sprintf("  %s: in the database, not the model: %s", part.name, r))
			}
		}
		for _, r := range part.want {
			if _, found := slices.BinarySearch(part.got, r); !found {
				diff = append(diff, fmt.Sprintf("  %s: in the model, not the database: %s", part.name, r))
			}
		}
	}
	if len(diff) > 20 {
		diff = append(diff[:20], fmt.Sprintf("  ... and %d more", len(diff)-20))
	}
	return strings.Join(diff, "\n")
}

func priorityNumber(p *string) *string {
	if p == nil {
		return nil
	}
	s := strconv.Itoa(slices.Index(priorityNames, *p) + 1)
	return &s
}

func timeText(s *string) string {
	if s == nil {
		return "<null>"
	}
	return parseTime(*s).UTC().Format(time.RFC3339Nano)
}

func (p *property) readDatabase() dbRows {
	var out dbRows
	read := func(q *sqlx.Tx) {
		var tasks []struct {
			User, ID, Title       string
			Description, Priority *string
			CompletedAt, DueAt    *time.Time
			CreatedAt, UpdatedAt  time.Time
		}
		if err := q.Select(&tasks, `SELECT user_uuid AS "user", id, title, description, priority::text AS priority,
			completed_at AS completedat, due_at AS dueat, created_at AS createdat, updated_at AS updatedat FROM tasks`); err != nil {
			p.t.Fatal(err)
		}
		for _, t := range tasks {
			out.tasks = append(out.tasks, strings.Join([]string{t.User, t.ID, t.Title, ptrString(t.Description), dbTime(t.CompletedAt),
				ptrString(t.Priority), dbTime(t.DueAt), dbTime(&t.CreatedAt), dbTime(&t.UpdatedAt)}, " | "))
		}
		var tags []struct {
			User, ID, Name string
			Color          *string
			CreatedAt      time.Time
		}
		if err := q.Select(&tags, `SELECT user_uuid AS "user", id, name, color, created_at AS createdat FROM tags`); err != nil {
			p.t.Fatal(err)
		}
		for _, g := range tags {
			out.tags = append(out.tags, strings.Join([]string{g.User, g.ID, g.Name, ptrString(g.Color), dbTime(&g.CreatedAt)}, " | "))
		}
		var links []string
		if err := q.Select(&links, `SELECT user_uuid || ' | ' || task_id || ' | ' || tag_id FROM task_tags`); err != nil {
			p.t.Fatal(err)
		}
		out.links = append(out.links, links...)
	}
	ctx := context.Background()
	users := []string{""}
	if !p.bypass {
		users = nil
		for _, u := range p.users {
			users = append(users, u.UUID.String())
		}
	}
	for _, user := range users {
		tx, err := p.admin.BeginTxx(ctx, nil)
		if err != nil {
			p.t.Fatal(err)
		}
		if user != "" {
			if _, err := tx.Exec(`SELECT set_config('role', 'taskgraph_app', true), set_config('app.user_uuid', $1, true)`, user); err != nil {
				p.t.Fatal(err)
			}
		}
		read(tx)
		_ = tx.Rollback()
	}
	return out
}

func dbTime(t *time.Time) string {
	if t == nil {
		return "<null>"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (p *property) rowSummary() string {
	r := p.readDatabase()
	return fmt.Sprintf("%d tasks, %d tags, %d task_tags", len(r.tasks), len(r.tags), len(r.links))
}
