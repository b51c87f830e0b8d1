package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/taskgraph/taskgraph/bench/load"
)

// The selections a frontend's task list and task view would ask for.
const (
	taskFields = `id title description completed priority dueAt createdAt tags { id name color }`
	pageFields = `edges { cursor node { ` + taskFields + ` } } pageInfo { hasNextPage endCursor }`

	docPage   = `query TasksPage($first: Int!, $after: String) { tasks(first: $first, after: $after) { ` + pageFields + ` } }`
	docFilter = `query OpenUrgentTasks { tasks(first: 20, filter: {completed: false, priorities: [HIGH, URGENT]}) { ` + pageFields + ` } }`
	docSearch = `query SearchTasks { tasks(first: 20, filter: {search: "report"}) { ` + pageFields + ` } }`
	docTask   = `query Task($id: ID!) { task(id: $id) { ` + taskFields + ` } }`
	docCreate = `mutation CreateTask($input: CreateTaskInput!) { createTask(input: $input) { ` + taskFields + ` } }`
)

// pageDepth is the page the page500 scenario times; the walk before it is not timed.
const pageDepth = 500

// kind is one kind of request: its GraphQL document and variables, who sends it, how to judge
// its answer, and the minimal SQL that PostgreSQL needs to answer it (pgbench (a)).
type kind struct {
	name  string
	heavy bool // sent by the heavy user
	doc   string
	vars  func(u *userData, i int, st *buildState) map[string]any
	check func(data json.RawMessage, u *userData) error
}

// buildState is what requests need from a running server: the cursor that starts page 500.
type buildState struct{ cursor500 string }

var (
	kindPage1 = &kind{name: "page1", doc: docPage,
		vars:  func(*userData, int, *buildState) map[string]any { return map[string]any{"first": 20} },
		check: checkPage(20, "")}
	kindPage100 = &kind{name: "page100", doc: docPage, // calibration only: do round trips grow with the page?
		vars:  func(*userData, int, *buildState) map[string]any { return map[string]any{"first": 100} },
		check: checkPage(100, "")}
	kindPage500 = &kind{name: "page500", heavy: true, doc: docPage,
		vars: func(_ *userData, _ int, st *buildState) map[string]any {
			return map[string]any{"first": 20, "after": st.cursor500}
		},
		check: checkPage(20, "")}
	kindFilter = &kind{name: "filter", doc: docFilter, vars: noVars, check: checkPage(1, "")}
	kindSearch = &kind{name: "search", heavy: true, doc: docSearch, vars: noVars, check: checkPage(20, "report")}
	kindTask   = &kind{name: "task", doc: docTask,
		vars: func(u *userData, i int, _ *buildState) map[string]any {
			return map[string]any{"id": u.taskIDs[(i/round)%len(u.taskIDs)]}
		},
		check: func(data json.RawMessage, _ *userData) error {
			var d struct{ Task *struct{ ID string } }
			if err := json.Unmarshal(data, &d); err != nil || d.Task == nil {
				return fmt.Errorf("task: no task in %.200s", data)
			}
			return nil
		}}
	kindCreate = &kind{name: "create", doc: docCreate,
		vars: func(u *userData, i int, _ *buildState) map[string]any {
			k := (i / round) % len(u.tagIDs)
			return map[string]any{"input": map[string]any{
				"title":       fmt.Sprintf("Prepare the demo for customer %d", i%1000),
				"description": "Created by the bench: two tags, a priority and a due date, like a task added from the app's form.",
				"priority":    "HIGH",
				"dueAt":       "2026-12-24T17:00:00Z",
				"tagIds":      []string{u.tagIDs[k], u.tagIDs[(k+1)%len(u.tagIDs)]},
			}}
		},
		check: func(data json.RawMessage, _ *userData) error {
			var d struct {
				CreateTask struct{ Tags []struct{ ID string } }
			}
			if err := json.Unmarshal(data, &d); err != nil || len(d.CreateTask.Tags) != 2 {
				return fmt.Errorf("createTask: want a task with 2 tags, got %.200s", data)
			}
			return nil
		}}
)

func noVars(*userData, int, *buildState) map[string]any { return nil }

// checkPage wants at least least edges and, with match, each task's title or description to
// contain it (ignoring case).
func checkPage(least int, match string) func(json.RawMessage, *userData) error {
	return func(data json.RawMessage, _ *userData) error {
		var d struct {
			Tasks struct {
				Edges []struct {
					Cursor string
					Node   struct {
						Title       string
						Description *string
					}
				}
			}
		}
		if err := json.Unmarshal(data, &d); err != nil {
			return fmt.Errorf("tasks: %v in %.200s", err, data)
		}
		if len(d.Tasks.Edges) < least {
			return fmt.Errorf("tasks: %d edges, want at least %d", len(d.Tasks.Edges), least)
		}
		for _, e := range d.Tasks.Edges {
			text := e.Node.Title
			if e.Node.Description != nil {
				text += " " + *e.Node.Description
			}
			if match != "" && !strings.Contains(strings.ToLower(text), match) {
				return fmt.Errorf("tasks: %q does not match %q", e.Node.Title, match)
			}
		}
		return nil
	}
}

// scenario is one row of the table: which kind of request the i-th one is.
type scenario struct {
	name string
	pick func(i int) *kind
	// calibrationOnly scenarios are captured (round trips) but not loaded.
	calibrationOnly bool
	// pooled scenarios run against a server whose DATABASE_URL goes through PgBouncer
	// (bench/pgbouncer.go); their round trips are what PgBouncer sends PostgreSQL.
	pooled bool
}

// mixedPattern is 90% reads, 10% writes: of ten requests, six pages, two single tasks, one
// filtered page, one create.
var mixedPattern = []*kind{kindPage1, kindTask, kindPage1, kindFilter, kindPage1, kindTask, kindPage1, kindCreate, kindPage1, kindPage1}

var scenarios = []*scenario{
	{name: "page1", pick: only(kindPage1)},
	{name: pooledScenario, pick: only(kindPage1), pooled: true},
	{name: "page500", pick: only(kindPage500)},
	{name: "filter", pick: only(kindFilter)},
	{name: "search", pick: only(kindSearch)},
	{name: "task", pick: only(kindTask)},
	{name: "create", pick: only(kindCreate)},
	{name: "mixed", pick: func(i int) *kind {
		// The pattern shifts by one every round of users, so that each user sends every kind.
		return mixedPattern[(i+i/round)%len(mixedPattern)]
	}},
	{name: "page100", pick: only(kindPage100), calibrationOnly: true},
}

// round is the number of requests after which the users' round-robin starts over (with the
// default 200 token users): each round, a user's task, tag pair and mixed kind change.
const round = 200

func only(k *kind) func(int) *kind { return func(int) *kind { return k } }

func scenarioByName(name string) *scenario {
	for _, s := range scenarios {
		if s.name == name {
			return s
		}
	}
	return nil
}

func scenarioNames() []string {
	var names []string
	for _, s := range scenarios {
		if !s.calibrationOnly {
			names = append(names, s.name)
		}
	}
	return names
}

// request is the i-th request of a scenario: its kind, its user and the wire form.
type request struct {
	kind *kind
	user *userData
	load.Request
}

// requestCycle is how many distinct requests a scenario prepares; the load cycles through them.
const requestCycle = 2000

// prepare builds the scenario's requests for one build (its tokens, its server's cursor).
func (s *scenario) prepare(b *build, st *buildState) ([]request, error) {
	out := make([]request, requestCycle)
	for i := range out {
		k := s.pick(i)
		u, tok := b.data.users[i%len(b.data.users)], b.toks.users[i%len(b.toks.users)]
		if k.heavy {
			u, tok = b.data.heavy, b.toks.heavy[i%len(b.toks.heavy)]
		}
		body, err := json.Marshal(map[string]any{"query": k.doc, "variables": k.vars(u, i, st)})
		if err != nil {
			return nil, err
		}
		out[i] = request{kind: k, user: u, Request: load.Request{Body: body, Token: tok}}
	}
	return out, nil
}

// checkAnswer judges one calibration answer fully (the load only checks for errors).
func (r request) checkAnswer(status int, body []byte) error {
	if err := load.DefaultCheck(status, body); err != nil {
		return err
	}
	var resp struct{ Data json.RawMessage }
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("%s: answer is not JSON: %.200s", r.kind.name, body)
	}
	return r.kind.check(resp.Data, r.user)
}
