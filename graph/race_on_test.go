//go:build race

package graph_test

// raceDetector: the differential test sends fewer operations under the race detector, which
// makes each several times slower; make test also runs it without, at full length (Makefile).
const raceDetector = true
