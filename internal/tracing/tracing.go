// Package tracing exports OpenTelemetry traces over OTLP/HTTP when the environment asks for them
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), and otherwise installs
// nothing: with tracing off no handler, connector or hook is wrapped, so it costs nothing.
package tracing

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation scope of every span of ours.
const Name = "github.com/taskgraph/taskgraph"

// Tracing is a started exporter; nil when tracing is off.
type Tracing struct {
	provider *sdktrace.TracerProvider
	Tracer   trace.Tracer
}

// Config is what the environment says about tracing.
type Config struct {
	Endpoint    string // the OTLP/HTTP traces URL; "" is off
	ServiceName string
}

// ConfigFromEnv reads OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) or
// OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces), OTEL_SERVICE_NAME (default taskgraph), and turns
// tracing off for OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. The exporter's other
// OTEL_* variables (headers, timeout, compression, the batch processor's and the sampler's) are
// the SDK's own, read from the process environment.
func ConfigFromEnv(getenv func(string) string) Config {
	c := Config{Endpoint: getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), ServiceName: getenv("OTEL_SERVICE_NAME")}
	if c.Endpoint == "" {
		if base := getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); base != "" {
			c.Endpoint = strings.TrimRight(base, "/") + "/v1/traces"
		}
	}
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || getenv("OTEL_TRACES_EXPORTER") == "none" {
		c.Endpoint = ""
	}
	if c.ServiceName == "" {
		c.ServiceName = "taskgraph"
	}
	return c
}

// Start starts an OTLP/HTTP exporter, or returns nil when cfg has no endpoint.
func Start(ctx context.Context, cfg Config) (*Tracing, error) {
	if cfg.Endpoint == "" {
		return nil, nil
	}
	endpoint, name := cfg.Endpoint, cfg.ServiceName
	exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, errors.Join(errors.New("OTEL_EXPORTER_OTLP_ENDPOINT"), err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(name)))
	if err != nil {
		return nil, err
	}
	p := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	otel.SetTracerProvider(p)
	// W3C traceparent (and baggage) from the client continue its trace.
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return &Tracing{provider: p, Tracer: p.Tracer(Name)}, nil
}

// Shutdown exports what is buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// Handler gives every HTTP request a server span (continuing the client's traceparent), named by
// its route once the mux has matched it (SetRouteName). No header, token or body is recorded.
func (t *Tracing) Handler(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	return otelhttp.NewHandler(h, "HTTP", otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }))
}

// SetRouteName names the request's server span by its route pattern (never by the raw path,
// which a client chooses); without tracing the span is a no-op.
func SetRouteName(ctx context.Context, pattern string) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetName(pattern)
	}
}
