package graph_test

import (
	"fmt"
	"testing"

	"github.com/taskgraph/taskgraph/auth"
)

// BenchmarkAttacks sends issue 9's attacks through the whole stack (auth middleware, gqlgen, the
// limits) and reports the time, the answer's size, its errors and the statements sent. Before the
// limits each of these grew exponentially, quadratically or with the rows; after them each is
// refused before the work (bench/README.md, Attacks, has both runs). The time includes encoding
// and decoding the request body, which dominates the refusals of large documents.
func BenchmarkAttacks(b *testing.B) {
	e := newEnv(b)
	e.seedTagged(e.a, 20, 3)     // a page of 20 tasks with 3 tags each
	e.seedTagged(e.b, 100, 1000) // row amplification: bob's 100 tasks carry 1,000 tags each
	// Each attack is sent as a new document every time (a comment makes it distinct), as an
	// attacker would to defeat the query cache; the legitimate page is the same every time.
	i := 0
	run := func(name string, u *auth.User, doc string, distinct bool) {
		b.Run(name, func(b *testing.B) {
			var r response
			e.stmts.Store(0)
			for b.Loop() {
				d := doc
				if distinct {
					i++
					d = fmt.Sprintf("# %d\n%s", i, doc)
				}
				r = e.do(u, d, nil)
			}
			b.ReportMetric(float64(len(r.Raw)), "resp-bytes")
			b.ReportMetric(float64(len(r.Errors)), "errors")
			b.ReportMetric(float64(e.stmts.Load())/float64(b.N), "stmts/op")
			b.Logf("%s (%d bytes): %d %.160s", name, len(doc), r.Status, r.Raw)
		})
	}
	for _, levels := range []int{16, 20, 24} {
		run(fmt.Sprintf("anonymous/fragments=%d", levels), nil, fragmentExplosion(levels), true)
	}
	for _, n := range []int{1000, 4000} {
		run(fmt.Sprintf("anonymous/repeated=%d", n), nil, repeatedField(n), true)
	}
	run("anonymous/directives=10000", nil, repeatedDirective(10000), true)
	run("anonymous/aliases=940KB", nil, distinctAliases(940_000, "a"), true)
	run("signed-in/repeated=4000", &e.a, repeatedField(4000), true)
	run("signed-in/nested=30x30", &e.a, nestedRepeats(30, 30), true)
	run("signed-in/pages=5x100-with-1000-tags", &e.b, aliasedPages(5, "tags { id }"), true)
	run("signed-in/pages=200x100", &e.b, aliasedPages(200, "id"), true)
	// What a client normally sends, for the limits' own cost: the hot path meets a cached document.
	run("signed-in/legitimate-page", &e.a, `query Page { tasks(first: 20) { edges { cursor node { id title tags { id name } } } pageInfo { hasNextPage endCursor } } }`, false)
}
