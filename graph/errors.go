package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/db"
)

// Error codes in extensions.code: a public contract.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeNotFound        = "NOT_FOUND"
	CodeConflict        = "CONFLICT"
	CodeInternal        = "INTERNAL_SERVER_ERROR"
)

// badInput is a validation failure of the input field named field (extensions.field).
func badInput(field, format string, args ...any) error {
	return &gqlerror.Error{
		Message:    fmt.Sprintf(format, args...),
		Extensions: map[string]any{"code": CodeBadUserInput, "field": field},
	}
}

// presenter maps errors to codes. Errors that already carry a code (validation, @auth, the Time
// scalar) pass as they are; data-layer sentinels get theirs; anything else is internal: logged
// with the request's context (and so its request id) and answered with a generic message, never
// SQL or driver text.
func presenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		path := graphql.GetPath(ctx)
		switch {
		case errors.Is(err, db.ErrTagNotFound):
			e := coded(path, "a tag in tagIds does not exist", CodeNotFound)
			e.Extensions["field"] = "tagIds"
			return e
		case errors.Is(err, db.ErrNotFound):
			return coded(path, "not found", CodeNotFound)
		case errors.Is(err, db.ErrConflict):
			return coded(path, "a tag with this name already exists", CodeConflict)
		}
		var gerr *gqlerror.Error
		if errors.As(err, &gerr) {
			if _, ok := gerr.Extensions["code"]; ok || gerr.Err == nil {
				// Made by us or by gqlgen for the client: safe to show.
				out := graphql.DefaultErrorPresenter(ctx, err)
				nameField(out)
				return out
			}
		}
		log.ErrorContext(ctx, "graphql: internal error", "path", path.String(), "err", err)
		return coded(path, "internal server error", CodeInternal)
	}
}

func coded(path ast.Path, msg, code string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Path: path, Extensions: map[string]any{"code": code}}
}

// recoverer turns a resolver panic into an internal error and a log line with the stack.
func recoverer(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql: panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return &gqlerror.Error{Message: "internal server error", Extensions: map[string]any{"code": CodeInternal}}
	}
}

// nameField gives a BAD_USER_INPUT raised while decoding an argument (the Time scalar) the
// extensions.field its path ends with, as validation errors have.
func nameField(e *gqlerror.Error) {
	if e.Extensions["code"] != CodeBadUserInput || e.Extensions["field"] != nil || len(e.Path) == 0 {
		return
	}
	if name, ok := e.Path[len(e.Path)-1].(ast.PathName); ok {
		e.Extensions["field"] = string(name)
	}
}
