package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/graph/model"
	"github.com/taskgraph/taskgraph/internal/apierr"
	"github.com/taskgraph/taskgraph/live"
)

// stream opens a live subscription for the operation's user; its events reach gqlgen's channel
// converted, with no goroutine of ours in between (through useSharedRender when it is on). When the subscription ends with a reason the
// client must hear (EVENTS_LOST, an expired token), the response middleware of useSubscriptions
// sends it as the stream's last result.
func stream[M any](ctx context.Context, hub *live.Hub, topic live.Topic, after *string, convert func(*live.Event) M) (<-chan M, error) {
	if hub == nil {
		return nil, errors.New("graph: subscriptions need Options.Live")
	}
	cursor := ""
	if after != nil {
		cursor = *after
	}
	var sub *live.Subscription
	var out <-chan M
	var err error
	if r, ok := ctx.Value(sharedRenderKey{}).(*sharedRender); ok {
		var events <-chan delivery[M]
		sub, events, err = live.SubscribeAfter(ctx, hub, topic, cursor, func(ev *live.Event) delivery[M] { return delivery[M]{ev, convert(ev)} })
		if err == nil {
			out = sharedStream(r, events)
		}
	} else {
		sub, out, err = live.SubscribeAfter(ctx, hub, topic, cursor, convert)
	}
	if err != nil {
		return nil, liveError(err)
	}
	if end, ok := ctx.Value(streamEndKey{}).(*streamEnd); ok {
		end.set(sub)
	}
	return out, nil
}

// liveError is what a client is told about a subscription that cannot start or has ended.
func liveError(err error) error {
	code := func(msg, code string) *gqlerror.Error {
		return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
	}
	switch {
	case errors.Is(err, live.ErrBadCursor):
		e := code("after is not the cursor of an event of this subscription", apierr.BadUserInput)
		e.Extensions["field"] = "after"
		return e
	case errors.Is(err, live.ErrTooManySubscriptions):
		return code(err.Error(), apierr.TooManySubscriptions)
	case errors.Is(err, live.ErrEventsLost):
		return code("live updates were interrupted and changes may have been missed: refetch, then subscribe again", apierr.EventsLost)
	case errors.Is(err, live.ErrShuttingDown):
		return code("the server is shutting down: refetch, then subscribe again (another replica will answer)", apierr.EventsLost)
	case errors.Is(err, live.ErrTokenExpired):
		e := code("the token has expired: subscribe again with a fresh token", apierr.Unauthenticated)
		e.Extensions["reason"] = auth.ReasonTokenExpired
		return e
	}
	return err
}

// streamEnd is where a subscription operation's resolver leaves its subscription, for the
// response middleware to read once the stream is over.
type streamEnd struct {
	mu       sync.Mutex
	sub      *live.Subscription
	reported bool
}

type streamEndKey struct{}

func (e *streamEnd) set(sub *live.Subscription) {
	e.mu.Lock()
	e.sub = sub
	e.mu.Unlock()
}

// last is the response that ends the stream: an error the client must hear, or nil. For a
// subscription drained by shutdown on a WebSocket it waits, nothing sent, until the socket closes
// with 1001: the client then subscribes again instead of treating the subscription as complete.
func (e *streamEnd) last(ctx context.Context) *graphql.Response {
	e.mu.Lock()
	sub, done := e.sub, e.reported
	e.reported = true
	e.mu.Unlock()
	if sub == nil || done {
		return nil
	}
	err := sub.Err()
	switch {
	case errors.Is(err, live.ErrDrained):
		sub.Flushed(ctx)
		return nil
	case errors.Is(err, live.ErrEventsLost), errors.Is(err, live.ErrShuttingDown), errors.Is(err, live.ErrTokenExpired):
		var gerr *gqlerror.Error
		errors.As(liveError(err), &gerr)
		return &graphql.Response{Errors: gqlerror.List{gerr}}
	}
	return nil
}

// useSubscriptions gives each subscription operation a streamEnd, and sends its last event.
func useSubscriptions(srv *handler.Server) {
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if oc := graphql.GetOperationContext(ctx); oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
			ctx = context.WithValue(ctx, streamEndKey{}, &streamEnd{})
		}
		return next(ctx)
	})
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		if resp := next(ctx); resp != nil {
			return resp
		}
		if end, ok := ctx.Value(streamEndKey{}).(*streamEnd); ok {
			return end.last(ctx)
		}
		return nil
	})
}

var taskEventKinds = map[db.ChangeOp]model.TaskEventKind{
	db.OpCreated: model.TaskEventKindCreated, db.OpUpdated: model.TaskEventKindUpdated, db.OpDeleted: model.TaskEventKindDeleted,
}

var tagEventKinds = map[db.ChangeOp]model.TagEventKind{
	db.OpCreated: model.TagEventKindCreated, db.OpUpdated: model.TagEventKindUpdated, db.OpDeleted: model.TagEventKindDeleted,
}

// taskEventModel is an event as the schema shows it. The task's tags come with it (Task.tags
// answers them), loaded with the row for this user.
func taskEventModel(ev *live.Event) *model.TaskEvent {
	m := &model.TaskEvent{Kind: taskEventKinds[ev.Op], ID: ev.ID.String(), At: ev.At, Cursor: ev.Cursor}
	if ev.Task != nil {
		m.Task = taskModel(*ev.Task)
	}
	return m
}

func tagEventModel(ev *live.Event) *model.TagEvent {
	m := &model.TagEvent{Kind: tagEventKinds[ev.Op], ID: ev.ID.String(), At: ev.At, Cursor: ev.Cursor}
	if ev.Tag != nil {
		m.Tag = tagModel(*ev.Tag)
	}
	return m
}

// checkedBody gives a transport of Options.Transports the body checks of POST's (readBody, and
// postExecutor's coded refusal of a body that is not a GraphQL request): gqlgen's SSE transport
// would otherwise echo an undecodable body in its answer and log it. A WebSocket upgrade has no
// body and passes untouched.
type checkedBody struct{ graphql.Transport }

func (t checkedBody) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if r.Method != http.MethodPost {
		t.Transport.Do(w, r, exec)
		return
	}
	if !readBody(w, r) {
		return
	}
	body, _ := io.ReadAll(r.Body)
	var params graphql.RawParams
	if err := json.Unmarshal(body, &params); err != nil {
		resp := (&postExecutor{GraphExecutor: exec}).DispatchError(r.Context(), nil)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(resp)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	t.Transport.Do(w, r, &postExecutor{GraphExecutor: exec})
}
