package graph_test

import (
	"fmt"
	"testing"
)

// BenchmarkAttacks sends issue 9's anonymous attacks through the whole stack (auth middleware,
// gqlgen, the limits) and reports the time and the answer's size. Before the limits each of these
// grew exponentially or quadratically with its size; after them each is refused before the work.
func BenchmarkAttacks(b *testing.B) {
	e := newEnv(b)
	run := func(name, doc string) {
		b.Run(name, func(b *testing.B) {
			var r response
			for b.Loop() {
				r = e.do(nil, doc, nil)
			}
			b.ReportMetric(float64(len(r.Raw)), "resp-bytes")
			b.ReportMetric(float64(len(r.Errors)), "errors")
			b.Logf("%s (%d bytes): %d %.200s", name, len(doc), r.Status, r.Raw)
		})
	}
	for _, levels := range []int{16, 18, 20} {
		run(fmt.Sprintf("fragments=%d", levels), fragmentExplosion(levels))
	}
	for _, n := range []int{1000, 2000, 4000} {
		run(fmt.Sprintf("repeated=%d", n), repeatedField(n))
	}
	run("directives=10000", repeatedDirective(10000))
}
