package live

import (
	"net/http"

	"github.com/taskgraph/taskgraph/internal/apierr"
)

// The SSE transport speaks graphql-sse's "distinct connections" mode (one POST per operation,
// the client's default). Its "single connection" mode (a PUT that reserves a stream, then GET and
// POST requests carrying the reservation token) is not offered; RefuseSingleConnection answers it
// at once with a reason a person can act on, instead of a generic 404 or a hanging stream.

// streamTokenHeader is the header that names a single-connection reservation.
const streamTokenHeader = "X-GraphQL-Event-Stream-Token"

// ReasonSingleConnection is extensions.reason of the refusal.
const ReasonSingleConnection = "sse_single_connection_unsupported"

const singleConnectionMessage = "graphql-sse's single connection mode is not supported: use its distinct connections mode (the client's default, singleConnection: false)"

// RefuseSingleConnection passes every request on to next but single-connection ones: a PUT
// (the reservation) gets 405 with Allow: GET, POST; a request naming a reservation gets 400. Both
// carry the code BAD_REQUEST and the reason sse_single_connection_unsupported.
func RefuseSingleConnection(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut:
			w.Header().Set("Allow", "GET, POST")
			apierr.Write(w, http.StatusMethodNotAllowed, apierr.BadRequest, singleConnectionMessage, map[string]string{"reason": ReasonSingleConnection})
		case r.Header.Get(streamTokenHeader) != "":
			apierr.Write(w, http.StatusBadRequest, apierr.BadRequest, singleConnectionMessage, map[string]string{"reason": ReasonSingleConnection})
		default:
			next.ServeHTTP(w, r)
		}
	})
}
