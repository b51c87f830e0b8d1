package graph

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"maps"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/taskgraph/taskgraph/live"
)

// Render once, deliver many. gqlgen executes a subscription's selection set and marshals the
// result for each event and each subscriber; a user's subscribers that sent the same document
// shape (text, operation name, variables) would all get the same bytes. So the first of them to
// take an event runs gqlgen's execution as before, and the others reuse its response, data and
// field errors, byte for byte (live.Share keeps it on the event, for MaxShared shapes at most).
// What stays per subscriber is what differs: the transport's framing, the stream's end.

// sharedRender is a subscription operation's shape, and where its events come from once the
// resolver has subscribed (stream).
type sharedRender struct {
	shape string
	// next takes the subscription's next event; give hands its model to gqlgen's channel, for an
	// execution. ok=false: the stream is over.
	next func(ctx context.Context) (ev *live.Event, give func(), ok bool)
}

type sharedRenderKey struct{}

// useSharedRender answers each subscription event from its shape's shared response. Installed
// last: the response middleware runs innermost, so the others (the error cap, the stream's last
// error, tracing) still see every subscriber's responses. count, if set, is told of each
// execution.
func useSharedRender(srv *handler.Server, count func()) {
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if oc := graphql.GetOperationContext(ctx); oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
			if shape, ok := responseShape(oc); ok {
				ctx = context.WithValue(ctx, sharedRenderKey{}, &sharedRender{shape: shape})
			}
		}
		return next(ctx)
	})
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		r, _ := ctx.Value(sharedRenderKey{}).(*sharedRender)
		if r == nil || r.next == nil { // not streaming: refused, or failed before it started
			return next(ctx)
		}
		ev, give, ok := r.next(ctx)
		if !ok {
			return nil
		}
		resp := live.Share(ev, r.shape, func() (*graphql.Response, bool) {
			give()
			resp := next(ctx)
			if resp == nil { // this subscriber's context ended first: nothing to share
				return nil, false
			}
			if count != nil {
				count()
			}
			resp.Data = bytes.Clone(resp.Data) // gqlgen writes the next event into the same buffer
			return resp, true
		})
		if resp == nil {
			return nil
		}
		out := *resp
		out.Errors = slices.Clone(resp.Errors) // the response middlewares may change the list
		return &out
	})
}

// responseShape is what decides a subscription's responses besides its events: the document, the
// operation and the variables' values, but for the root field's after: it says where the stream
// starts, not what an event looks like, so subscriptions resumed from different cursors (each
// client keeps its last one in its variables) still share. Nothing below the root field takes an
// argument (TestSharedRenderShape checks the schema), so a variable given to after is used there
// alone.
func responseShape(oc *graphql.OperationContext) (string, bool) {
	vars := oc.Variables
	if root := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Subscription"}); len(root) == 1 {
		if a := root[0].Arguments.ForName("after"); a != nil && a.Value != nil && a.Value.Kind == ast.Variable {
			vars = maps.Clone(vars)
			delete(vars, a.Value.Raw)
		}
	}
	b, err := json.Marshal(vars) // map keys sorted
	if err != nil {
		return "", false
	}
	h := sha256.New()
	for _, part := range [][]byte{[]byte(oc.RawQuery), []byte(oc.OperationName), b} {
		h.Write(part)
		h.Write([]byte{0})
	}
	return string(h.Sum(nil)), true
}

// delivery is an event with its model, converted once for all of the user's subscribers.
type delivery[M any] struct {
	ev    *live.Event
	model M
}

// sharedStream is stream's channel for gqlgen when responses are shared: it carries a model
// only when useSharedRender asks for an execution.
func sharedStream[M any](r *sharedRender, events <-chan delivery[M]) <-chan M {
	out := make(chan M, 1)
	r.next = func(ctx context.Context) (*live.Event, func(), bool) {
		select {
		case d, ok := <-events:
			if !ok {
				return nil, nil, false
			}
			return d.ev, func() {
				select {
				case <-out: // left by an execution whose context ended first
				default:
				}
				out <- d.model
			}, true
		case <-ctx.Done():
			return nil, nil, false
		}
	}
	return out
}
