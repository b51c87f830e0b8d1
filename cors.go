package main

import (
	"net/http"

	"github.com/rs/cors"
)

// corsPolicy lets the browser origins in origins (CORS_ORIGINS) call the API, and tells the
// WebSocket upgrade which origins it may accept.
func corsPolicy(origins []string) *cors.Cors {
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		// Apollo Client's clientAwareness headers too: an app that names itself is not blocked.
		AllowedHeaders: []string{"Authorization", "Content-Type", "Apollo-Require-Preflight", "X-Request-Id",
			"Apollographql-Client-Name", "Apollographql-Client-Version"},
		ExposedHeaders: []string{"WWW-Authenticate", "Retry-After", "X-Request-Id"},
		// For a client sending credentials: "include" (cookies give no access here: only the
		// bearer token does, so allowing them to the listed origins grants nothing).
		AllowCredentials: true,
		MaxAge:           600,
	})
}
