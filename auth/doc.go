// Package auth verifies Better Auth JWTs and puts the verified user in the request context. It
// imports no GraphQL and no database package, so any net/http service can use it (see Example).
//
// What it guarantees:
//   - A request's context holds a User (UserFrom) only when its token verified against a key of
//     the configured JWKS, {BETTER_AUTH_URL}/api/auth/jwks by default: never a key the token names
//     or carries itself (jwk, jku, x5u, x5c). The algorithm must be in the allow-list (none and
//     HMAC never are) and fit the key; exp must be present and not passed, nbf and iat not in the
//     future, iss equal to the issuer, aud include an audience, all within the clock skew. The
//     user's UUID is the uuid claim or, without one, the "user" row of the verified sub. Only this
//     package can put a User in a context.
//   - A request without an Authorization header goes on anonymously: requiring a user is the
//     caller's part (a handler checking UserFrom, graph's @auth directive).
//   - Verifier.Authenticate is Middleware's path for callers outside HTTP (a WebSocket's
//     connection_init): the same checks, reasons and AuthFailure counts; there, no token is
//     refused as missing_token. User.Expiry says when the token stops being accepted (exp plus
//     the clock skew), for connections that outlive a request.
//   - A refused token is answered 401 with WWW-Authenticate (RFC 6750) and a GraphQL-shaped body
//     whose extensions carry the code UNAUTHENTICATED and one of the Reason constants; while no key
//     has ever been loaded, or the sub lookup fails, 503 AUTH_UNAVAILABLE with Retry-After. Tokens
//     over MaxTokenBytes are refused before parsing. Nothing here logs, and no answer or error
//     echoes a token.
//   - NewVerifier never blocks on the JWKS: it is fetched in the background, refreshed every
//     JWKSRefresh and, rate-limited, when a token names an unknown kid (such a request waits for at
//     most one fetch, about JWKSTimeout). A failed fetch keeps the keys held; a key removed from
//     the JWKS stops being trusted at the next successful one.
//
// NewConfig and ConfigFromEnv build the Config. VerifyJWKS and VerifyToken are the command-line
// diagnostics; DevIssuer is the development issuer of `taskgraph dev` and of examples.
package auth
