package graph

import (
	"context"
	"fmt"
	"sync/atomic"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/db"

	"github.com/taskgraph/taskgraph/internal/apierr"
)

const (
	// DefaultMaxResponseBytes bounds the data of one response: a page of 100 tasks with the
	// longest titles and descriptions and 50 tags each is about 2 MB.
	DefaultMaxResponseBytes = 8 << 20
	// MaxErrors is the most errors a response lists; the rest are summed up in one more.
	MaxErrors = 20
	// Per object, what its JSON costs beyond its text fields: ids, times, punctuation.
	taskOverhead = 400
	tagOverhead  = 160
)

// responseBudget is what one operation may still put in its response, charged by the resolvers
// as rows arrive, before gqlgen builds the answer: once it is spent, every further charge (and
// every resolver that would read more) fails with RESPONSE_TOO_LARGE instead of growing the
// response. The charge is an estimate by excess of the JSON of whole objects (every text field
// counted, escaped), whatever subset the client selects.
type responseBudget struct {
	left  atomic.Int64
	limit int
}

type budgetKey struct{}

// withResponseBudget gives each response its budget: a query's or mutation's one response, or
// each event of a subscription (whose fields resolve as the event is answered).
func withResponseBudget(limit int) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		b := &responseBudget{limit: limit}
		respond := next(context.WithValue(ctx, budgetKey{}, b))
		return func(ctx context.Context) *graphql.Response {
			b.left.Store(int64(limit))
			return respond(ctx)
		}
	}
}

func budgetFrom(ctx context.Context) *responseBudget {
	b, _ := ctx.Value(budgetKey{}).(*responseBudget)
	return b
}

// spent is the refusal once the budget is gone (nil before, or without a budget).
func spent(ctx context.Context) error {
	if b := budgetFrom(ctx); b != nil && b.left.Load() < 0 {
		return b.refusal()
	}
	return nil
}

// charge takes n bytes from the budget; the refusal when that leaves it spent.
func charge(ctx context.Context, n int) error {
	b := budgetFrom(ctx)
	if b == nil {
		return nil
	}
	if b.left.Add(-int64(n)) < 0 {
		return b.refusal()
	}
	return nil
}

func (b *responseBudget) refusal() error {
	return &gqlerror.Error{
		Message:    fmt.Sprintf("the response would be larger than %d bytes: ask for fewer items or fields", b.limit),
		Extensions: map[string]any{"code": apierr.ResponseTooLarge},
	}
}

func chargeTasks(ctx context.Context, ts ...db.Task) error {
	n := 0
	for _, t := range ts {
		n += taskOverhead + jsonLen(t.Title)
		if t.Description != nil {
			n += jsonLen(*t.Description)
		}
	}
	return charge(ctx, n)
}

func chargeTags(ctx context.Context, ts ...db.Tag) error {
	n := 0
	for _, t := range ts {
		n += tagOverhead + jsonLen(t.Name)
	}
	return charge(ctx, n)
}

// jsonLen is the length of s as a JSON string at most: a control character is escaped in six
// bytes, a quote or backslash in two.
func jsonLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20:
			n += 5
		case c == '"' || c == '\\':
			n++
		case c >= utf8.RuneSelf:
			// multi-byte UTF-8 is written as it is; an invalid byte as \ufffd (3 bytes)
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				n += 2
			}
			i += size - 1
		}
	}
	return n
}

// capErrors keeps a response's errors to MaxErrors, and one more that says how many were left out.
func capErrors(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || len(resp.Errors) <= MaxErrors {
		return resp
	}
	left := len(resp.Errors) - MaxErrors
	resp.Errors = append(resp.Errors[:MaxErrors:MaxErrors], &gqlerror.Error{
		Message:    fmt.Sprintf("%d more errors left out (a response lists at most %d)", left, MaxErrors),
		Extensions: map[string]any{"code": apierr.TooManyErrors},
	})
	return resp
}
