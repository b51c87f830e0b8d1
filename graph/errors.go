package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/apierr"
)

// badInput is a validation failure of the input field named field (extensions.field).
func badInput(field, format string, args ...any) error {
	return &gqlerror.Error{
		Message:    fmt.Sprintf(format, args...),
		Extensions: map[string]any{"code": apierr.BadUserInput, "field": field},
	}
}

// argumentError attributes an error of the data layer to the argument it concerns (the cursor of
// Query.tasks). It maps to nothing by itself: the presenter reads its cause and, for a cursor the
// data layer refused, names the argument in extensions.field.
type argumentError struct {
	name string
	err  error
}

func (e *argumentError) Error() string { return e.err.Error() }
func (e *argumentError) Unwrap() error { return e.err }

// sentinels are the data layer's errors a client may see, with what it is told, in the order
// they are tested (ErrTagNotFound is also an ErrNotFound).
var sentinels = []struct {
	err           error
	code, message string
	field         string // extensions.field, when the error concerns one input field
}{
	{db.ErrTagNotFound, apierr.NotFound, "a tag in tagIds does not exist", "tagIds"},
	{db.ErrNotFound, apierr.NotFound, "not found", ""},
	{db.ErrConflict, apierr.Conflict, "a tag with this name already exists", ""},
	{db.ErrTagLimit, apierr.BadUserInput, "this user already has the most tags allowed; delete one first", "name"},
}

// maxMessage is the most runes of a message a client is shown: gqlparser's and gqlgen's messages
// quote what the client sent (a field name, an operation name), which may be megabytes.
const maxMessage = 300

// jsonDecodeFailed starts gqlgen's message for a body that is not JSON, which goes on to quote
// the whole body.
const jsonDecodeFailed = "json request body could not be decoded: "

// presenter maps errors to codes. Errors that already carry a code (validation, @auth, the Time
// scalar) pass as they are, their messages cut to maxMessage runes; gqlgen's own refusals of a
// request without a code get BAD_REQUEST; data-layer sentinels get theirs; a statement stopped at
// the deadline is REQUEST_TIMEOUT (a warning in the log); anything else is internal: logged with
// the request's context (and so its request id) and answered with a generic message, never SQL or
// driver text.
func presenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		path := graphql.GetPath(ctx)
		if e := fromDataLayer(path, err); e != nil {
			return e
		}
		var gerr *gqlerror.Error
		if errors.As(err, &gerr) {
			if _, ok := gerr.Extensions["code"]; ok || gerr.Err == nil {
				// Made by us or by gqlgen for the client: safe to show.
				out := graphql.DefaultErrorPresenter(ctx, err)
				forClient(out)
				nameField(out)
				return out
			}
		}
		if e := fromUnavailable(ctx, log, path, err); e != nil {
			return e
		}
		if db.Canceled(err) {
			log.WarnContext(ctx, "graphql: stopped at the request's deadline or when the client left", "path", path.String(), "err", err)
			return coded(path, "the operation ran past its deadline and was stopped", apierr.RequestTimeout)
		}
		log.ErrorContext(ctx, "graphql: internal error", "path", path.String(), "err", err)
		return coded(path, "internal server error", apierr.Internal)
	}
}

// forClient cuts what e echoes of the request: gqlgen's JSON decoding error loses the body it
// quotes, any message is cut to maxMessage runes; and an error gqlgen made without a code (a body
// that is not JSON, a malformed persisted query) gets BAD_REQUEST.
func forClient(e *gqlerror.Error) {
	if strings.HasPrefix(e.Message, jsonDecodeFailed) {
		msg, _, _ := strings.Cut(e.Message, " body:")
		e.Message = "the request body is not a GraphQL request in JSON: " + strings.TrimPrefix(msg, jsonDecodeFailed)
	}
	e.Message = truncate(e.Message, maxMessage)
	if _, ok := e.Extensions["code"]; !ok {
		if e.Extensions == nil {
			e.Extensions = map[string]any{}
		}
		e.Extensions["code"] = apierr.BadRequest
	}
}

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n-1 {
			return s[:j] + "…"
		}
		i++
	}
	return s
}

// fromDataLayer is the client's view of a data-layer sentinel, or nil for any other error.
func fromDataLayer(path ast.Path, err error) *gqlerror.Error {
	var arg *argumentError
	if errors.Is(err, db.ErrInvalidCursor) && errors.As(err, &arg) {
		e := coded(path, arg.name+" is not a cursor of this list (same filter and ordering)", apierr.BadUserInput)
		e.Extensions["field"] = arg.name
		return e
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			e := coded(path, s.message, s.code)
			if s.field != "" {
				e.Extensions["field"] = s.field
			}
			return e
		}
	}
	return nil
}

func coded(path ast.Path, msg, code string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Path: path, Extensions: map[string]any{"code": code}}
}

// recoverer turns a resolver panic into an internal error and a log line with the stack.
func recoverer(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql: panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return &gqlerror.Error{Message: "internal server error", Extensions: map[string]any{"code": apierr.Internal}}
	}
}

// nameField gives a BAD_USER_INPUT raised while decoding an argument (the Time scalar) the
// extensions.field its path ends with, as validation errors have.
func nameField(e *gqlerror.Error) {
	if e.Extensions["code"] != apierr.BadUserInput || e.Extensions["field"] != nil || len(e.Path) == 0 {
		return
	}
	if name, ok := e.Path[len(e.Path)-1].(ast.PathName); ok {
		e.Extensions["field"] = string(name)
	}
}
