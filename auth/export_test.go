package auth

import "time"

// Test hooks, compiled into the package's tests only.

// SetClock replaces the verifier's clock (jwt's validation and the token cache share it).
func SetClock(v *Verifier, now func() time.Time) { v.now = now }

// SetTokenCacheSize replaces the token cache by an empty one of n entries (0: no caching).
func SetTokenCacheSize(v *Verifier, n int) { v.tokens = newTokenCache(n) }

// CachedTokens is how many tokens the cache holds.
func CachedTokens(v *Verifier) int { return v.tokens.len() }
