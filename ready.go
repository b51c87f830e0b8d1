package main

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// ready answers 200 only when PostgreSQL answers and JWKS keys are loaded.
func (a *app) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	body := map[string]string{"database": "ok", "jwks": "ok"}
	ok := true
	if err := a.db.PingContext(ctx); err != nil {
		body["database"] = "unreachable"
		ok = false
	}
	if !a.verifier.KeysLoaded() {
		body["jwks"] = "no keys loaded yet"
		ok = false
	}
	// Live updates: which feed runs, and whether it hears changes (a lost or silent connection:
	// subscribers have been told EVENTS_LOST and it is reconnecting).
	switch f := a.live.Feed(); {
	case f.Kind == "": // not started
	case f.Up:
		body["live"] = string(f.Kind)
	default:
		body["live"] = string(f.Kind) + " feed down: " + f.Err
		ok = false
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	body["status"] = map[bool]string{true: "ready", false: "not ready"}[ok]
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
