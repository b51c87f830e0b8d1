package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskgraph/taskgraph/auth"
)

// operationSpans gives every GraphQL operation a span named by its operation name, with its kind,
// the sha256 of its document, the user (the application UUID) and the executor that ran it; the
// SQL round trips it causes are its children. Variables are never recorded. Installed only when
// tracing is on (Options.Tracer).
type operationSpans struct{ tracer trace.Tracer }

var (
	_ graphql.HandlerExtension     = operationSpans{}
	_ graphql.OperationInterceptor = operationSpans{}
)

func (operationSpans) ExtensionName() string                   { return "OperationSpans" }
func (operationSpans) Validate(graphql.ExecutableSchema) error { return nil }

func (s operationSpans) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	kind, name := "query", oc.OperationName
	if oc.Operation != nil {
		kind = string(oc.Operation.Operation)
		if name == "" {
			name = oc.Operation.Name
		}
	}
	spanName := name
	if spanName == "" {
		spanName = "anonymous " + kind
	}
	sum := sha256.Sum256([]byte(oc.RawQuery))
	attrs := []attribute.KeyValue{
		attribute.String("graphql.operation.type", kind),
		attribute.String("graphql.operation.name", name),
		attribute.String("graphql.document.hash", hex.EncodeToString(sum[:])),
		attribute.String("taskgraph.executor", ExecutorResolvers), // until the compiled path says otherwise
	}
	if u, ok := auth.UserFrom(ctx); ok {
		attrs = append(attrs, attribute.String("enduser.id", u.UUID.String()))
	}
	ctx, span := s.tracer.Start(ctx, spanName, trace.WithAttributes(attrs...))
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if resp != nil && len(resp.Errors) > 0 {
			span.SetStatus(codes.Error, "the response has errors")
		}
		// A query or mutation answers once; a subscription's stream ends with nil.
		if resp == nil || kind != "subscription" {
			span.End()
		}
		return resp
	}
}

// noteExecutor records on the operation's span (the current one) which executor answers it;
// without tracing the span is a no-op.
func noteExecutor(ctx context.Context, executor string) {
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("taskgraph.executor", executor))
}
