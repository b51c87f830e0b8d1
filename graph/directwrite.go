package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"

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
		enc, ok := encodeResponse(resp)
		if !ok {
			return resp
		}
		// The data is written as it came, not copied into one buffer with its frame: with the
		// length known, net/http sends it without chunking.
		w := e.w.ResponseWriter
		w.Header().Set("Content-Length", strconv.Itoa(len(enc.head)+len(enc.data)+len(enc.tail)))
		for _, b := range [][]byte{enc.head, enc.data, enc.tail} {
			if _, err := w.Write(b); err != nil {
				break
			}
		}
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

// encoded is a response as json.Marshal would write it, in three parts: head, the data as it
// is, tail.
type encoded struct{ head, data, tail []byte }

// encodeResponse writes resp as json.Marshal would ({"errors":..., "data":..., "extensions":...}),
// with data as is. It declines (false) what it would not write exactly the same way:
// incremental-delivery fields, and data with characters json.Marshal escapes (<, >, &, U+2028,
// U+2029), so that the bytes a client gets keep meaning the same.
func encodeResponse(resp *graphql.Response) (encoded, bool) {
	if resp == nil || resp.Label != "" || resp.Path != nil || resp.HasNext != nil || marshalEscapes(resp.Data) {
		return encoded{}, false
	}
	head := []byte(`{`)
	if len(resp.Errors) > 0 {
		errs, err := json.Marshal(resp.Errors)
		if err != nil {
			return encoded{}, false
		}
		head = append(append(append(head, `"errors":`...), errs...), ',')
	}
	head = append(head, `"data":`...)
	data := []byte(resp.Data)
	if len(data) == 0 {
		data = []byte("null")
	}
	tail := []byte(`}`)
	if len(resp.Extensions) > 0 {
		ext, err := json.Marshal(resp.Extensions)
		if err != nil {
			return encoded{}, false
		}
		tail = append(append([]byte(`,"extensions":`), ext...), '}')
	}
	return encoded{head: head, data: data, tail: tail}, true
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
