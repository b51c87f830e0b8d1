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
	// BadRequest: the HTTP request itself is refused: a body over the size limit (HTTP 413), not
	// application/json (415), not a GraphQL request (400), a mutation over GET (422).
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
	// ComplexityLimitExceeded: the operation could return more objects than the complexity limit
	// (lists counted by their bounds), or an introspection selects too many fields (HTTP 200).
	// The code is gqlgen's own.
	ComplexityLimitExceeded = "COMPLEXITY_LIMIT_EXCEEDED"

	// Refusals of a document before it is validated (HTTP 422, or 400 under
	// Accept: application/graphql-response+json, like a parse failure).
	// DocumentTooLarge: more bytes or tokens than the caller's budget (smaller without a token).
	DocumentTooLarge = "DOCUMENT_TOO_LARGE"
	// AliasLimitExceeded: more aliases than the limit.
	AliasLimitExceeded = "ALIAS_LIMIT_EXCEEDED"
	// DirectiveLimitExceeded: more directives than the limit.
	DirectiveLimitExceeded = "DIRECTIVE_LIMIT_EXCEEDED"
	// SelectionLimitExceeded: more selections with fragments expanded than the limit, or the same
	// field selected at the same place too often.
	SelectionLimitExceeded = "SELECTION_LIMIT_EXCEEDED"

	// Limits met while an operation runs (HTTP 200, the affected fields null).
	// ResponseTooLarge: the answer would pass the response size limit.
	ResponseTooLarge = "RESPONSE_TOO_LARGE"
	// RequestTimeout: the operation ran past REQUEST_TIMEOUT (or the client went away); its
	// database work was cancelled.
	RequestTimeout = "REQUEST_TIMEOUT"
	// TooManyErrors: the last error of a response whose other errors were cut at the limit.
	TooManyErrors = "TOO_MANY_ERRORS"
	// TrustedDocumentRequired: TRUSTED_DOCUMENTS is enforced and the request's document is not in
	// its manifest (HTTP 400; on a socket, the operation's error).
	TrustedDocumentRequired = "TRUSTED_DOCUMENT_REQUIRED"

	// Set by gqlgen itself; listed so that this table is the whole contract. Parse and validation
	// failures answer HTTP 422 (400 under Accept: application/graphql-response+json).
	ParseFailed      = "GRAPHQL_PARSE_FAILED"
	ValidationFailed = "GRAPHQL_VALIDATION_FAILED"
	// PersistedQueryNotFound: an automatic persisted query's hash the server does not hold; the
	// client sends the document with it (HTTP 200, Apollo's protocol).
	PersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND"
	// Shares of the server (issue 20), each with Retry-After.
	// TooManyConnections: HTTP 503, MAX_CONNECTIONS or MAX_CONNECTIONS_PER_IP are held already.
	TooManyConnections = "TOO_MANY_CONNECTIONS"
	// TooManySockets: HTTP 429 for an event stream (a WebSocket closes with 4429
	// too_many_sockets), the user holds SOCKETS_PER_USER already.
	TooManySockets = "TOO_MANY_SOCKETS"
	// TooManyRequests: HTTP 429, the user's OPERATIONS_PER_USER were busy for the whole wait.
	TooManyRequests = "TOO_MANY_REQUESTS"
	// DatabaseUnavailable: HTTP 503, PostgreSQL could not be reached (a read was retried once on
	// a fresh connection first); retry after Retry-After.
	DatabaseUnavailable = "DATABASE_UNAVAILABLE"
)

// Codes returns every code above: what a client may meet in extensions.code.
func Codes() []string {
	return []string{Unauthenticated, AuthUnavailable, BadRequest, BadUserInput, NotFound, Conflict, Internal,
		DepthLimitExceeded, IntrospectionDisabled, ParseFailed, ValidationFailed, ComplexityLimitExceeded,
		DocumentTooLarge, AliasLimitExceeded, DirectiveLimitExceeded, SelectionLimitExceeded, ResponseTooLarge,
		RequestTimeout, TooManyErrors, TrustedDocumentRequired, PersistedQueryNotFound, Forbidden, EventsLost, TooManySubscriptions,
		TooManyConnections, TooManySockets, TooManyRequests, DatabaseUnavailable}
}

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
	WriteAs(w, JSON, status, code, message, extra)
}

// WriteAs is Write with the Content-Type mediaType (JSON or GraphQLResponse).
func WriteAs(w http.ResponseWriter, mediaType string, status int, code, message string, extra map[string]string) {
	ext := make(map[string]string, len(extra)+1)
	maps.Copy(ext, extra)
	ext["code"] = code
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body{Errors: []entry{{Message: message, Extensions: ext}}})
}
