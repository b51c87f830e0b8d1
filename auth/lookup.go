package auth

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
)

// The sub→UUID cache: a size-capped map with a TTL per entry. Only found users are cached (a
// Better Auth user's uuid never changes); misses and errors always go to the database, and only
// for tokens whose signature already verified, so they cannot be used to flood it.
const (
	subCacheSize = 10_000
	subCacheTTL  = 10 * time.Minute
)

type subCache struct {
	lookup SubLookup
	size   int
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]subEntry
}

type subEntry struct {
	id      uuid.UUID
	expires time.Time
}

func newSubCache(lookup SubLookup, size int, ttl time.Duration) *subCache {
	return &subCache{lookup: lookup, size: size, ttl: ttl, now: time.Now, entries: make(map[string]subEntry)}
}

func (c *subCache) get(ctx context.Context, sub string) (uuid.UUID, bool, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[sub]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.id, true, nil
	}
	id, found, err := c.lookup.UserUUIDBySub(ctx, sub)
	if err != nil || !found {
		return uuid.Nil, found, err
	}
	c.put(sub, subEntry{id: id, expires: now.Add(c.ttl)})
	return id, true, nil
}

func (c *subCache) put(sub string, e subEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	makeRoom(c.entries, c.size, func(old subEntry) bool { return !now.Before(old.expires) })
	c.entries[sub] = e
}

func (c *subCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
