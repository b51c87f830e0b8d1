package main

import (
	"context"
	"sync/atomic"

	"github.com/taskgraph/taskgraph/auth"
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

// watchKeys starts the watch once the hub and the verifier exist.
func (a *app) watchKeys(ctx context.Context) {
	f := func() {
		if n := a.live.EndUnpublished(func(token string) bool { return a.verifier.Published(ctx, token) }); n > 0 {
			a.logger.Info("live: connections ended, their signing key has left the JWKS", "connections", n)
		}
	}
	a.keys.after.Store(&f)
}
