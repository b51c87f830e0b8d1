package graph

import (
	"context"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/internal/apierr"
)

// What Apollo Client sends that this server refuses at once, with a reason, instead of serving it
// wrongly: an incremental (multipart/mixed) response, which Apollo asks for for a subscription
// over HTTP and for a query with @defer; a @defer in any document; a batch (a JSON array body).
// Subscriptions have the WebSocket (graphql-ws) and SSE transports, with their limits and expiry.

// multipartRefusal is a transport answering, before any other HTTP transport, a POST whose Accept
// asks for multipart/mixed with subscriptionSpec (Apollo's HTTP subscriptions) or deferSpec
// (@defer). A plain "multipart/mixed" in a list (urql lists it for every request) is not asking.
type multipartRefusal struct{}

func (multipartRefusal) Supports(r *http.Request) bool {
	return r.Method == http.MethodPost && incrementalSpec(r.Header.Get("Accept")) != ""
}

// incrementalSpec is "subscription" or "defer" when accept asks for that kind of multipart/mixed.
func incrementalSpec(accept string) string {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "multipart/mixed" {
			continue
		}
		if _, ok := params["subscriptionspec"]; ok {
			return "subscription"
		}
		if _, ok := params["deferspec"]; ok {
			return "defer"
		}
	}
	return ""
}

func (multipartRefusal) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	msg := "subscriptions over multipart HTTP are not supported: subscribe over WebSocket (graphql-ws, " +
		"Apollo's GraphQLWsLink) at this URL, or with Accept: text/event-stream"
	if incrementalSpec(r.Header.Get("Accept")) == "defer" {
		msg = errDefer
	}
	apierr.WriteAs(w, apierr.MediaType(r), http.StatusNotAcceptable, apierr.BadRequest, msg, nil)
}

const errDefer = "@defer is not supported: ask for the fields without it (one complete response)"

// deferRefusal refuses a validated operation that uses @defer (gqlgen's schema declares it, and
// would run the operation as if it were not there).
type deferRefusal struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = deferRefusal{}

func (deferRefusal) ExtensionName() string                   { return "DeferRefusal" }
func (deferRefusal) Validate(graphql.ExecutableSchema) error { return nil }
func (deferRefusal) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation != nil && usesDefer(oc.Operation.SelectionSet) {
		return &gqlerror.Error{Message: errDefer, Extensions: map[string]any{"code": apierr.BadRequest}}
	}
	return nil
}

// usesDefer reports whether @defer is on an inline fragment or a fragment spread of set.
func usesDefer(set ast.SelectionSet) bool {
	return !walkOnce(set, func(sel ast.Selection) step {
		var directives ast.DirectiveList
		switch s := sel.(type) {
		case *ast.InlineFragment:
			directives = s.Directives
		case *ast.FragmentSpread:
			directives = s.Directives
		}
		if directives.ForName("defer") != nil {
			return stopWalk
		}
		return walkBelow
	})
}

// isBatch says whether a POST body is a JSON array: Apollo's BatchHttpLink, which this server
// does not serve (one operation per request; HttpLink). Leading whitespace is allowed as in JSON.
func isBatch(body []byte) bool {
	for _, c := range body {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '['
	}
	return false
}

const errBatch = "batched requests (a JSON array of operations, Apollo's BatchHttpLink) are not supported: " +
	"send one operation per request (HttpLink)"
