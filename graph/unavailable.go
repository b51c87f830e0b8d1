package graph

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/apierr"
)

// A request that fails because PostgreSQL cannot be reached is answered HTTP 503 with
// Retry-After and DATABASE_UNAVAILABLE: the client did nothing wrong and should try again. It is
// logged as a warning at most once per unavailableLogEvery (the log would otherwise carry one line
// per request while /readyz already says the database is down).
const (
	unavailableRetryAfter = "2"
	unavailableLogEvery   = 10 * time.Second
)

var lastUnavailableLog atomic.Int64

// fromUnavailable is the client's view of an unreachable database, or nil for any other error.
func fromUnavailable(ctx context.Context, log *slog.Logger, path ast.Path, err error) *gqlerror.Error {
	if !db.Unavailable(err) {
		return nil
	}
	if s, ok := ctx.Value(statusKey{}).(*responseStatus); ok {
		s.unavailable.Store(true)
	}
	now := time.Now().UnixNano()
	if last := lastUnavailableLog.Load(); now-last > int64(unavailableLogEvery) && lastUnavailableLog.CompareAndSwap(last, now) {
		log.WarnContext(ctx, "graphql: the database is unavailable (logged once per 10s)", "path", path.String(), "err", err)
	}
	return coded(path, "the database is unavailable; retry after Retry-After", apierr.DatabaseUnavailable)
}

type statusKey struct{}

// responseStatus is what the presenter learnt that changes the HTTP status of the answer.
type responseStatus struct{ unavailable atomic.Bool }

// unavailableStatus gives r's answer the status 503 and Retry-After when the presenter met an
// unreachable database while making it.
func unavailableStatus(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request) {
	st := &responseStatus{}
	return &statusWriter{ResponseWriter: w, st: st}, r.WithContext(context.WithValue(r.Context(), statusKey{}, st))
}

type statusWriter struct {
	http.ResponseWriter
	st      *responseStatus
	written bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.written {
		w.written = true
		if w.st.unavailable.Load() && code == http.StatusOK {
			w.Header().Set("Retry-After", unavailableRetryAfter)
			code = http.StatusServiceUnavailable
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
