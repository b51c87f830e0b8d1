package auth

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// User is the verified caller. Only the HTTP middleware creates one, from a token whose signature,
// issuer, audience and lifetime have been checked.
type User struct {
	UUID  uuid.UUID // the application user id (the token's uuid claim, or looked up from sub)
	ID    string    // Better Auth's user id (the token's sub)
	Email string
	Name  string
	// Expiry is when the verifier starts refusing the token: its exp plus AUTH_CLOCK_SKEW. A
	// long-lived connection (a WebSocket, an SSE stream) ends then.
	Expiry time.Time
}

// userKey is unexported so that no package but this one can place a user in a context.
type userKey struct{}

// withUser returns a copy of ctx carrying u. Only the middleware calls it.
func withUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the verified user of the request, if there is one.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}
