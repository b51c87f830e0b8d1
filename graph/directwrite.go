package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
)

// The POST transport (transport.go) writes an operation's response with its data as the
// generated code produced it. gqlgen's transport hands the whole response to json.Marshal, which
// validates, compacts and copies the data again (gqlgen issue #2842: the only way around it is a
// transport of one's own); on a page of 20 tasks that was about a tenth of the server's CPU.
// Everything else (reading the request, headers, status codes, errors before execution) stays
// gqlgen's: the operation's response is written here and the bytes gqlgen then writes for it are
// dropped.

// directExec writes an operation's response itself (see encodeResponse), then lets the transport
// marshal an empty response in its place, which dropWriter discards.
type directExec struct {
	graphql.GraphExecutor
	w *dropWriter
}

func (e directExec) DispatchOperation(ctx context.Context, rc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	next, ctx := e.GraphExecutor.DispatchOperation(ctx, rc)
	return func(ctx context.Context) *graphql.Response {
		resp := next(ctx)
		b, ok := encodeResponse(resp)
		if !ok {
			return resp
		}
		_, _ = e.w.ResponseWriter.Write(b)
		e.w.drop = true
		return &graphql.Response{}
	}, ctx
}

// dropWriter passes writes through until the response has been written directly.
type dropWriter struct {
	http.ResponseWriter
	drop bool
}

func (w *dropWriter) Write(b []byte) (int, error) {
	if w.drop {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// encodeResponse writes resp as json.Marshal would ({"errors":..., "data":..., "extensions":...}),
// with data copied as is. It declines (false) what it would not write exactly the same way:
// incremental-delivery fields, and data with characters json.Marshal escapes (<, >, &, U+2028,
// U+2029), so that the bytes a client gets keep meaning the same.
func encodeResponse(resp *graphql.Response) ([]byte, bool) {
	if resp == nil || resp.Label != "" || resp.Path != nil || resp.HasNext != nil || marshalEscapes(resp.Data) {
		return nil, false
	}
	var b bytes.Buffer
	b.Grow(len(resp.Data) + 64)
	b.WriteByte('{')
	if len(resp.Errors) > 0 {
		errs, err := json.Marshal(resp.Errors)
		if err != nil {
			return nil, false
		}
		b.WriteString(`"errors":`)
		b.Write(errs)
		b.WriteByte(',')
	}
	b.WriteString(`"data":`)
	if len(resp.Data) == 0 {
		b.WriteString("null")
	} else {
		b.Write(resp.Data)
	}
	if len(resp.Extensions) > 0 {
		ext, err := json.Marshal(resp.Extensions)
		if err != nil {
			return nil, false
		}
		b.WriteString(`,"extensions":`)
		b.Write(ext)
	}
	b.WriteByte('}')
	return b.Bytes(), true
}

// marshalEscapes reports whether data holds a character that json.Marshal writes escaped:
// <, > or & (ASCII, so IndexAny's fast path), or U+2028 or U+2029 (E2 80 A8/A9 in UTF-8).
func marshalEscapes(data []byte) bool {
	if bytes.IndexAny(data, "<>&") >= 0 {
		return true
	}
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte("\xe2\x80"))
		if j < 0 {
			return false
		}
		i += j + 2
		if i < len(data) && (data[i] == 0xa8 || data[i] == 0xa9) {
			return true
		}
	}
}
