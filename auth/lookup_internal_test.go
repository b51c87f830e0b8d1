package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
)

type countingLookup struct{ calls int }

func (c *countingLookup) UserUUIDBySub(_ context.Context, sub string) (uuid.UUID, bool, error) {
	c.calls++
	if sub == "missing" {
		return uuid.Nil, false, nil
	}
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(sub)), true, nil
}

func TestSubCacheIsBoundedAndExpires(t *testing.T) {
	lookup := &countingLookup{}
	c := newSubCache(lookup, 100, time.Minute)
	now := time.Now()
	c.now = func() time.Time { return now }
	ctx := context.Background()

	for i := range 1000 {
		if _, found, err := c.get(ctx, fmt.Sprint("user-", i)); !found || err != nil {
			t.Fatalf("get: %v %v", found, err)
		}
		if n := c.len(); n > 100 {
			t.Fatalf("cache holds %d entries, cap 100", n)
		}
	}

	lookup.calls = 0
	want, _, _ := c.get(ctx, "user-999")
	got, _, _ := c.get(ctx, "user-999")
	if lookup.calls != 0 || got != want {
		t.Fatalf("a fresh entry was looked up again (%d calls)", lookup.calls)
	}
	now = now.Add(2 * time.Minute)
	if _, _, _ = c.get(ctx, "user-999"); lookup.calls != 1 {
		t.Fatalf("an expired entry was served from the cache (%d calls)", lookup.calls)
	}
	// Misses are not cached: a user created later is found.
	c.get(ctx, "missing")
	c.get(ctx, "missing")
	if lookup.calls != 3 {
		t.Fatalf("misses were cached (%d calls)", lookup.calls)
	}
}
