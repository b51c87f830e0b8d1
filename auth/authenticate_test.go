package auth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// Authenticate is the one path of Middleware and of the WebSocket's connection_init: the same
// reasons, each refusal counted once, the user (with the token's expiry plus the clock skew) in
// the returned context.
func TestAuthenticateIsTheMiddlewarePath(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	var mu sync.Mutex
	var failures []string
	cfg := iss.Config()
	cfg.ClockSkew = 7 * time.Second
	v := testkit.StartVerifier(t, cfg, nil, auth.Hooks{AuthFailure: func(reason string) {
		mu.Lock()
		failures = append(failures, reason)
		mu.Unlock()
	}})
	testkit.WaitKeysLoaded(t, v)
	u := testUser()
	claims := iss.Claims(u)
	exp := time.Now().Add(90 * time.Second).Truncate(time.Second)
	claims["exp"] = exp.Unix()

	ctx, e := v.Authenticate(context.Background(), []string{"Bearer " + iss.Sign(t, claims, nil)})
	if e != nil {
		t.Fatalf("good token refused: %v", e)
	}
	got, ok := auth.UserFrom(ctx)
	if !ok || got.UUID != u.UUID {
		t.Fatalf("user in context = %+v, %v", got, ok)
	}
	if want := exp.Add(7 * time.Second); !got.Expiry.Equal(want) {
		t.Errorf("Expiry = %v, want exp + skew = %v", got.Expiry, want)
	}

	for _, tc := range []struct {
		values []string
		reason string
	}{
		{nil, auth.ReasonMissingToken},
		{[]string{"Basic abc"}, auth.ReasonMalformedToken},
		{[]string{"Bearer a", "Bearer b"}, auth.ReasonMalformedToken},
		{[]string{"Bearer " + iss.Sign(t, expired(iss.Claims(u)), nil)}, auth.ReasonTokenExpired},
	} {
		ctx, e := v.Authenticate(context.Background(), tc.values)
		if e == nil || e.Reason != tc.reason {
			t.Errorf("%v: refusal %v, want %s", tc.values, e, tc.reason)
		}
		if _, ok := auth.UserFrom(ctx); ok {
			t.Errorf("%v: a refused token left a user in the context", tc.values)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{auth.ReasonMissingToken, auth.ReasonMalformedToken, auth.ReasonMalformedToken, auth.ReasonTokenExpired}
	if len(failures) != len(want) {
		t.Fatalf("AuthFailure calls %v, want %v", failures, want)
	}
	for i := range want {
		if failures[i] != want[i] {
			t.Fatalf("AuthFailure calls %v, want %v", failures, want)
		}
	}
}
