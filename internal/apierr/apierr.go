// Package apierr is the API's error contract: every extensions.code a client can meet, and the one
// writer of the GraphQL-shaped bodies sent when a request is refused before GraphQL runs.
//
// The codes are public: clients branch on them, README.md lists them. Add codes, never rename
// one. This package imports nothing of ours, so auth, graph and package main all share it.
package apierr

import (
	"encoding/json"
	"maps"
	"net/http"
)

// Codes in extensions.code.
const (
	// Unauthenticated: an @auth field without a token (HTTP 200), or a refused token (HTTP 401,
	// with extensions.reason).
	Unauthenticated = "UNAUTHENTICATED"
	// AuthUnavailable: HTTP 503, no JWKS key has ever been loaded, so no token can be verified.
	AuthUnavailable = "AUTH_UNAVAILABLE"
	// BadRequest: the HTTP request itself is refused (a body over the size limit, HTTP 413).
	BadRequest = "BAD_REQUEST"
	// BadUserInput: an argument is invalid; extensions.field names it.
	BadUserInput = "BAD_USER_INPUT"
	// NotFound: no such row for this user (another user's row is answered the same way).
	NotFound = "NOT_FOUND"
	// Conflict: a uniqueness rule (a tag name the user already has).
	Conflict = "CONFLICT"
	// Internal: anything else; logged with the request id, answered without details.
	Internal = "INTERNAL_SERVER_ERROR"
	// DepthLimitExceeded: the operation nests data fields, or an introspection its fields, deeper
	// than allowed (HTTP 200, as gqlgen answers its complexity limit).
	DepthLimitExceeded = "DEPTH_LIMIT_EXCEEDED"
	// IntrospectionDisabled: __schema or __type where introspection is off (HTTP 422, or 400 under
	// Accept: application/graphql-response+json, like a validation failure).
	IntrospectionDisabled = "INTROSPECTION_DISABLED"
	// Forbidden: HTTP 403, a WebSocket upgrade from an Origin that CORS_ORIGINS does not allow.
	Forbidden = "FORBIDDEN"
	// EventsLost: a subscription's last event: changes may have been missed (the server lost its
	// database listener, or is shutting down); refetch, then subscribe again.
	EventsLost = "EVENTS_LOST"
	// TooManySubscriptions: SUBSCRIPTIONS_PER_USER or SUBSCRIPTIONS_MAX are open already.
	TooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS"

	// Set by gqlgen itself; listed so that this table is the whole contract. Parse and validation
	// failures answer HTTP 422 (400 under Accept: application/graphql-response+json).
	ParseFailed      = "GRAPHQL_PARSE_FAILED"
	ValidationFailed = "GRAPHQL_VALIDATION_FAILED"
	// ComplexityLimitExceeded: over the complexity limit, or an introspection selecting too many
	// fields (HTTP 200).
	ComplexityLimitExceeded = "COMPLEXITY_LIMIT_EXCEEDED"
)

// body is a GraphQL response carrying errors only.
type body struct {
	Errors []entry `json:"errors"`
}

type entry struct {
	Message    string            `json:"message"`
	Extensions map[string]string `json:"extensions"`
}

// Write answers status with {"errors":[{"message":message,"extensions":{"code":code,...}}]},
// extra adding extensions beside the code (auth's reason). Headers set before the call are kept.
func Write(w http.ResponseWriter, status int, code, message string, extra map[string]string) {
	ext := make(map[string]string, len(extra)+1)
	maps.Copy(ext, extra)
	ext["code"] = code
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body{Errors: []entry{{Message: message, Extensions: ext}}})
}
