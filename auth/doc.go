// Package auth verifies Better Auth JWTs and puts the verified user in the request context.
//
// Tokens are checked against the public keys Better Auth publishes at {BETTER_AUTH_URL}/api/auth/jwks
// (never against keys a token carries itself): allow-listed asymmetric algorithms only, exp required,
// nbf and iat checked when present, issuer and audience checked with a small clock-skew leeway. The
// key set is fetched in the background, refreshed periodically and, rate-limited, when a token names
// an unknown kid; a key removed from the JWKS stops being trusted after the next refresh.
//
// Authentication (Middleware: load the user into the context) is separate from authorization
// (Directive, the GraphQL @auth directive: require a user). UserFrom reads the user.
// VerifyJWKS and VerifyToken are the command-line diagnostics; DevIssuer is the development issuer.
package auth
