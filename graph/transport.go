package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/internal/apierr"
	"github.com/taskgraph/taskgraph/internal/jsonlimit"
)

// gqlgen's HTTP transports answer a request they cannot read (malformed JSON, a body that is not
// UTF-8, a mutation over GET, an unsupported Content-Type) with errors that carry no
// extensions.code, some of them echoing the body, or let Go's JSON decoder replace invalid UTF-8
// silently. These wrappers refuse such requests first, in the GraphQL shape with a code, and
// leave everything else to gqlgen's own transports.

// BAD_REQUEST refused while creating the operation (a mutation over GET) answers like a
// validation failure: HTTP 422 (400 under Accept: application/graphql-response+json).
func init() { errcode.RegisterErrorType(apierr.BadRequest, errcode.KindProtocol) }

// the parameters of a GraphQL request, in a GET query string or a POST body.
var requestParams = []string{"query", "operationName", "variables", "extensions"}

// postTransport is gqlgen's POST transport behind a body check: the body must be readable
// within the limit set by the server in front and valid UTF-8. A body that then does not
// decode as a GraphQL request is refused with BAD_REQUEST and without echoing it.
type postTransport struct{ transport.POST }

func (t postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if !readBody(w, r) {
		return
	}
	w, r = unavailableStatus(w, r)
	// The operation's response is written as generated (directwrite.go); gqlgen's own bytes for
	// it are dropped.
	reqErr := &requestError{}
	fw := &dropWriter{ResponseWriter: requestErrorWriter{w, reqErr}}
	t.POST.Do(fw, r, directExec{GraphExecutor: &postExecutor{GraphExecutor: exec, reqErr: reqErr}, w: fw})
}

// readBody reads r's body within the limit and checks that it is UTF-8, putting it back for the
// transport; false when it has answered the request itself.
func readBody(w http.ResponseWriter, r *http.Request) bool {
	body, err := io.ReadAll(r.Body)
	switch {
	case err != nil:
		return readBodyError(w, err)
	case !utf8.Valid(body):
		writeNotUTF8(w, "the request body", memberAt(body, invalidUTF8At(body)))
		return false
	case isBatch(body):
		apierr.Write(w, http.StatusBadRequest, apierr.BadRequest, errBatch, nil)
		return false
	case jsonlimit.Over(body, jsonlimit.MaxMembers):
		writeTooManyMembers(w)
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true
}

// readBodyError answers a body that could not be read: over the size limit set in front (413),
// or broken off (400). It returns false, for readBody's callers.
func readBodyError(w http.ResponseWriter, err error) bool {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		apierr.Write(w, http.StatusRequestEntityTooLarge, apierr.BadRequest, fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit), nil)
		return false
	}
	apierr.Write(w, http.StatusBadRequest, apierr.BadRequest, "the request body could not be read", nil)
	return false
}

// postExecutor gives a code to the one uncoded error gqlgen's POST transport dispatches: a body
// that does not decode as {"query": ..., "variables": {...}, ...}, whose message quotes the body.
// The transport dispatches it before it creates an operation; every later error is already coded.
type postExecutor struct {
	graphql.GraphExecutor
	created bool
	reqErr  *requestError // nil: not recorded
}

func (e *postExecutor) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	e.created = true
	oc, errs := e.GraphExecutor.CreateOperationContext(ctx, params)
	if errs != nil && e.reqErr != nil {
		e.reqErr.failed, e.reqErr.noDocument = true, params.Query == ""
	}
	return oc, errs
}

func (e *postExecutor) DispatchError(ctx context.Context, list gqlerror.List) *graphql.Response {
	if !e.created {
		list = gqlerror.List{{
			Message:    `the request body is not a GraphQL request: a JSON object with "query" (a string) and optionally "operationName" (a string), "variables" and "extensions" (objects)`,
			Extensions: map[string]any{"code": apierr.BadRequest},
		}}
	}
	return e.GraphExecutor.DispatchError(ctx, list)
}

// getTransport is gqlgen's GET transport behind a check of the query string: it must parse, its
// parameters must be valid UTF-8, and variables and extensions must be JSON objects. Only
// queries are executed over GET.
type getTransport struct{ transport.GET }

func (t getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	// Every answer is its caller's own data (or an error): no shared cache may keep it. This is
	// what a persisted query's GET (Apollo's useGETForHashedQueries) needs said.
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Add("Vary", "Authorization")
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		apierr.Write(w, http.StatusBadRequest, apierr.BadRequest, "the URL's query string is not valid percent-encoding", nil)
		return
	}
	for _, name := range requestParams {
		for _, v := range q[name] {
			if !utf8.ValidString(v) {
				writeNotUTF8(w, name, name)
				return
			}
		}
	}
	if jsonlimit.Over([]byte(q.Get("variables")+q.Get("extensions")), jsonlimit.MaxMembers) {
		writeTooManyMembers(w)
		return
	}
	for _, name := range []string{"variables", "extensions"} {
		var obj map[string]any
		if v := q.Get(name); v != "" && json.Unmarshal([]byte(v), &obj) != nil {
			apierr.Write(w, http.StatusBadRequest, apierr.BadRequest, name+" is not a JSON object", map[string]string{"field": name})
			return
		}
	}
	w, r = unavailableStatus(w, r)
	reqErr := &requestError{}
	t.GET.Do(requestErrorWriter{w, reqErr}, r, getExecutor{exec, reqErr})
}

// getExecutor refuses mutations (and anything but a query) over GET with a code; gqlgen's own
// refusal has none.
type getExecutor struct {
	graphql.GraphExecutor
	reqErr *requestError
}

func (e getExecutor) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	oc, errs := e.GraphExecutor.CreateOperationContext(ctx, params)
	if errs != nil {
		e.reqErr.failed, e.reqErr.noDocument = true, params.Query == ""
	}
	if errs == nil && oc.Operation != nil && oc.Operation.Operation != ast.Query {
		e.reqErr.failed, e.reqErr.getMutation = true, true
		return oc, gqlerror.List{{
			Message:    "GET only runs queries; send a " + string(oc.Operation.Operation) + " with POST",
			Extensions: map[string]any{"code": apierr.BadRequest},
		}}
	}
	return oc, errs
}

// unsupported answers what no transport before it serves: a POST that is not
// application/json, say.
type unsupported struct{}

func (unsupported) Supports(*http.Request) bool { return true }

func (unsupported) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Method == http.MethodPost && mediaType != "application/json" {
		apierr.Write(w, http.StatusUnsupportedMediaType, apierr.BadRequest, "send the request as Content-Type: application/json", nil)
		return
	}
	apierr.Write(w, http.StatusBadRequest, apierr.BadRequest, "GraphQL is served over GET and POST (application/json)", nil)
}

// writeTooManyMembers refuses a request whose JSON has more object members than any of this
// API's operations takes, before it is decoded (jsonlimit).
func writeTooManyMembers(w http.ResponseWriter) {
	apierr.Write(w, http.StatusBadRequest, apierr.BadRequest, fmt.Sprintf("the request's JSON has more than %d object members", jsonlimit.MaxMembers), nil)
}

func writeNotUTF8(w http.ResponseWriter, what, field string) {
	var extra map[string]string
	if field != "" {
		extra = map[string]string{"field": field}
	}
	apierr.Write(w, http.StatusBadRequest, apierr.BadUserInput, what+" is not valid UTF-8", extra)
}

// invalidUTF8At is the offset of the first byte of b that is not valid UTF-8, or -1.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// memberAt names the request parameter (a top-level member of the JSON object body) whose value
// holds offset, or "" when there is none.
func memberAt(body []byte, offset int) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	for dec.More() {
		tok, err := dec.Token()
		name, isName := tok.(string)
		if err != nil || !isName || int(dec.InputOffset()) > offset {
			return ""
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
		if int(dec.InputOffset()) > offset {
			if slices.Contains(requestParams, name) {
				return name
			}
			return ""
		}
	}
	return ""
}
