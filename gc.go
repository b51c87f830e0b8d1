package main

import "runtime/debug"

// Garbage-collector defaults, unless GOGC or GOMEMLIMIT set them. A request allocates a few
// hundred kilobytes that die with it while the live heap is a few megabytes, so Go's default
// (GOGC=100: collect when the heap has doubled) collects every few requests under load, and the
// collector is then a large share of the server's CPU. GOGC=400 lets the heap grow to five times
// the live data between collections; the soft limit makes the collector work harder before the
// heap passes 256 MiB, whatever GOGC allows. (64 MiB made it thrash under a burst of requests
// holding 1 MiB bodies: 579 collections instead of 24, a quarter more CPU per request, three
// times the wall time; bench/README.md, "GOMEMLIMIT under a burst".)
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 256 << 20
)

func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
