package main

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/live"
)

// keyWatch ends the WebSockets and event streams whose signing key has left the JWKS, after each
// successful JWKS fetch (issue 20): HTTP refuses such a token at once, and a long-lived connection
// must not outlive it until its exp.
type keyWatch struct{ after atomic.Pointer[func()] }

// hooks adds the watch to h's JWKS fetch hook (the metrics').
func (k *keyWatch) hooks(h auth.Hooks) auth.Hooks {
	count := h.JWKSFetch
	h.JWKSFetch = func(err error) {
		if count != nil {
			count(err)
		}
		if f := k.after.Load(); f != nil && err == nil {
			go (*f)()
		}
	}
	return h
}

// start starts the watch once the hub and the verifier exist.
func (k *keyWatch) start(ctx context.Context, hub *live.Hub, v *auth.Verifier, logger *slog.Logger) {
	f := func() {
		if n := hub.EndUnpublished(func(token string) bool { return v.Published(ctx, token) }); n > 0 {
			logger.Info("live: connections ended, their signing key has left the JWKS", "connections", n)
		}
	}
	k.after.Store(&f)
}

// warnJWKS adds to hooks a WARN naming the JWKS URL when a fetch fails after a success or at start
// (the server starts anyway and refuses tokens until keys arrive), and an INFO when keys arrive
// again: one line per change of state, not per retry.
func warnJWKS(hooks auth.Hooks, logger *slog.Logger, url string) auth.Hooks {
	count := hooks.JWKSFetch
	var failing atomic.Bool
	hooks.JWKSFetch = func(err error) {
		if count != nil {
			count(err)
		}
		switch {
		case err != nil && !failing.Swap(true):
			logger.Warn("the JWKS cannot be fetched; tokens signed with keys not yet loaded are refused until it can", "jwks", url, "error", err.Error())
		case err == nil && failing.Swap(false):
			logger.Info("the JWKS is fetched again", "jwks", url)
		}
	}
	return hooks
}
