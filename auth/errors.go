package auth

import (
	"fmt"
	"time"
)

// Reasons a token is refused. They are a public contract: they appear in the 401 response
// (extensions.reason and the WWW-Authenticate error_description) and in metrics.
const (
	ReasonMalformedToken      = "malformed_token"
	ReasonTokenTooLarge       = "token_too_large"
	ReasonAlgorithmNotAllowed = "algorithm_not_allowed"
	ReasonUnknownKey          = "unknown_key"
	ReasonInvalidSignature    = "invalid_signature"
	ReasonTokenExpired        = "token_expired"
	ReasonTokenNotYetValid    = "token_not_yet_valid"
	ReasonInvalidIssuer       = "invalid_issuer"
	ReasonInvalidAudience     = "invalid_audience"
	ReasonMissingClaim        = "missing_claim"
	ReasonInvalidClaim        = "invalid_claim"
	ReasonUserNotFound        = "user_not_found"
	// ReasonMissingToken: no token where one is required (a WebSocket's connection_init and
	// upgrade request both without one); an HTTP request without a token goes on anonymously.
	ReasonMissingToken = "missing_token"
	// ReasonUnavailable is not a token fault: no key could be loaded yet, or the user lookup failed.
	// It is answered with 503 AUTH_UNAVAILABLE and only passed to Hooks.AuthFailure.
	ReasonUnavailable = "unavailable"
)

// Error is why a token was refused. Message is a sentence for the operator or the frontend
// developer; it never contains the token or an internal error.
type Error struct {
	Reason      string
	Message     string
	Unavailable bool // the server cannot verify right now (503 AUTH_UNAVAILABLE), not a bad token
}

func (e *Error) Error() string { return e.Reason + ": " + e.Message }

func refuse(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

func unavailable(format string, args ...any) *Error {
	return &Error{Reason: ReasonUnavailable, Message: fmt.Sprintf(format, args...), Unavailable: true}
}

// fixes says what to do about each reason: the seed's troubleshooting table in our words.
// verify-token prints them.
var fixes = map[string]string{
	ReasonMalformedToken: "Send the JWT from Better Auth's /api/auth/token (authClient.token() with the jwtClient plugin) " +
		"as 'Authorization: Bearer <jwt>', once per request. The session token and the session cookie are not JWTs.",
	ReasonTokenTooLarge: "Better Auth tokens are well under 8 KiB; make jwt.definePayload return only uuid, email and name, " +
		"not the whole user row.",
	ReasonAlgorithmNotAllowed: "Set AUTH_ALGORITHMS to the algorithm Better Auth signs with (jwks.keyPairConfig.alg, EdDSA by default). " +
		"HMAC and none are never accepted.",
	ReasonUnknownKey: "The token's kid is not in the JWKS at AUTH_JWKS_URL. Check that the URL belongs to the Better Auth that minted " +
		"the token; after a key rotation the server refreshes by itself (run verify-jwks to see the published keys).",
	ReasonInvalidSignature: "The token was altered, or signed by a key pair other than the published one with that kid " +
		"(were Better Auth's jwks rows or BETTER_AUTH_SECRET changed?).",
	ReasonTokenExpired: "Better Auth tokens live 15 minutes by default: the frontend should fetch a fresh one " +
		"(authClient.token()) before it expires or when it gets this 401.",
	ReasonTokenNotYetValid: "The token's nbf or iat lies in the future: synchronise the clocks (NTP) of Better Auth and this server, " +
		"or raise AUTH_CLOCK_SKEW a little.",
	ReasonInvalidIssuer: "Set AUTH_ISSUER (default BETTER_AUTH_URL) to exactly the iss Better Auth writes: its base URL with scheme " +
		"and port, without a trailing slash.",
	ReasonInvalidAudience: "Set AUTH_AUDIENCE (default BETTER_AUTH_URL; comma-separate several) to the aud Better Auth writes: " +
		"its base URL unless jwt.audience is configured.",
	ReasonMissingClaim: "Return the claim from Better Auth's jwt.definePayload (uuid, email, name); a token without exp, iss or aud " +
		"is not a Better Auth JWT.",
	ReasonInvalidClaim: "The uuid claim (AUTH_UUID_CLAIM) must hold the UUID of the \"user\".uuid column, not Better Auth's string id; " +
		"exp, iat and nbf must be numbers.",
	ReasonUserNotFound: "The token's sub has no row in Better Auth's \"user\" table: the user was deleted, or this server reads " +
		"another database than Better Auth does. Adding the uuid claim in definePayload avoids the lookup.",
	ReasonMissingToken: "Send the JWT in the WebSocket's connection_init payload, {\"Authorization\": \"Bearer <jwt>\"} " +
		"(graphql-ws: connectionParams as a function, so a reconnect sends a fresh token), or in the upgrade request's Authorization header.",
	ReasonUnavailable: "The JWKS could not be fetched: check AUTH_JWKS_URL (run verify-jwks) and that Better Auth is running.",
}

// Fix returns the advice for a reason code ("" for an unknown one).
func Fix(reason string) string { return fixes[reason] }

// ago renders a duration for humans: "45s", "3m", "2h5m".
func ago(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	default:
		h := int(d / time.Hour)
		m := int((d % time.Hour) / time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
}
