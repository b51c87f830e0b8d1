package auth

// makeRoom lets one more entry into a cache bounded to size entries: when it is full, expired
// entries go first, then arbitrary ones (map order is random) down to three quarters, so that a
// full cache is not emptied one entry per insertion. The caller holds the cache's lock.
func makeRoom[K comparable, V any](entries map[K]V, size int, expired func(V) bool) {
	if len(entries) < size {
		return
	}
	for k, v := range entries {
		if expired(v) {
			delete(entries, k)
		}
	}
	for k := range entries {
		if len(entries) < size*3/4 {
			break
		}
		delete(entries, k)
	}
}
