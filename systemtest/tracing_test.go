package systemtest

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// otlpReceiver is an OTLP/HTTP traces endpoint (protobuf, as otlptracehttp sends): it decodes
// every export request and keeps the spans.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "not an OTLP/HTTP protobuf export", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	b, _ := io.ReadAll(body)
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// TestTracesReachAnOTLPReceiver: with OTEL_EXPORTER_OTLP_ENDPOINT set, a request that carries a
// W3C traceparent yields spans of that trace at the receiver: the HTTP server span, the
// operation's (named by the operation, with its kind, hash and user) and one per SQL round
// trip; no span holds the token or a variable's value.
func TestTracesReachAnOTLPReceiver(t *testing.T) {
	receiver := &otlpReceiver{}
	rsrv := httptest.NewServer(receiver)
	defer rsrv.Close()
	iss := testkit.NewIssuer(t, "EdDSA")
	dbURL := testkit.NewDBURL(t)
	u, token := signedIn(t, iss, dbURL, "tr")
	srv := startServe(t, iss, dbURL, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rsrv.URL})
	base := srv.Base
	addr := strings.TrimPrefix(base, "http://")

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const secret = "a-variable-value-never-exported"
	body := `{"query":"query Me($s: String) { me { email } tasks(filter: {search: $s}) { totalCount } }","variables":{"s":"` + secret + `"}}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(out), "tr@example.com") {
		t.Fatalf("the traced request: %d %s", resp.StatusCode, out)
	}

	// Over GET the variables are in the URL: the server span records the path only.
	get, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/graphql?query="+url.QueryEscape("query Me2($s: String) { tasks(filter: {search: $s}) { totalCount } }")+"&variables="+url.QueryEscape(`{"s":"`+secret+`"}`), nil)
	get.Header.Set("Authorization", "Bearer "+token)
	get.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b8-01")
	if resp, err := http.DefaultClient.Do(get); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the traced GET: %v %v", resp, err)
	}

	srv.Terminate(t) // shutdown exports what is buffered
	srv.Wait(t, 20*time.Second)

	receiver.mu.Lock()
	defer receiver.mu.Unlock()
	names := map[string]*tracepb.Span{}
	var sql int
	for _, s := range receiver.spans {
		if hex.EncodeToString(s.TraceId) != traceID {
			continue
		}
		names[s.Name] = s
		if strings.HasPrefix(s.Name, "SQL ") {
			sql++
		}
		b, _ := proto.Marshal(s)
		if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(token)) {
			t.Errorf("span %q holds a variable or the token", s.Name)
		}
	}
	if names["POST /graphql"] == nil || names["Me"] == nil || names["GET /graphql"] == nil || names["Me2"] == nil || sql == 0 {
		t.Fatalf("spans of the trace: %v (%d SQL); want POST /graphql, Me and SQL round trips", keys(names), sql)
	}
	attrs := map[string]string{}
	for _, kv := range names["Me"].Attributes {
		attrs[kv.Key] = kv.Value.GetStringValue()
	}
	if attrs["graphql.operation.type"] != "query" || attrs["enduser.id"] != u.UUID.String() || len(attrs["graphql.document.hash"]) != 64 || attrs["taskgraph.executor"] != "compiled" {
		t.Errorf("the operation span's attributes: %v", attrs)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
