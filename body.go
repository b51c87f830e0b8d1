package main

import (
	"net/http"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/apierr"
)

// maxBodyBytes bounds a request body sent with a token.
const maxBodyBytes = 1 << 20

// maxAnonymousBodyBytes bounds a body sent without a token, before it is buffered: such a
// request can only read __typename and introspection, in a document of at most 8 KiB.
const maxAnonymousBodyBytes = 64 << 10

// limitBody refuses bodies over 1 MiB (64 KiB without a token) before gqlgen reads them.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, what := int64(maxBodyBytes), "1 MiB"
		if _, signedIn := auth.UserFrom(r.Context()); !signedIn {
			limit, what = maxAnonymousBodyBytes, "64 KiB without a token"
		}
		if r.ContentLength > limit {
			apierr.Write(w, http.StatusRequestEntityTooLarge, apierr.BadRequest, "request body is larger than "+what, nil)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}
