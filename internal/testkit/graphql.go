package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// payload of a "next" message.
type Result struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (r Result) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func DecodeResult(t testing.TB, raw json.RawMessage) Result {
	t.Helper()
	var r Result
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("payload %s: %v", raw, err)
	}
	return r
}

// MutateOK posts a query as token and fails the test on any error; it returns data[field].
func MutateOK(t testing.TB, base, token, query string, vars map[string]any, field string) json.RawMessage {
	t.Helper()
	r, err := PostOK(context.Background(), base, token, query, vars)
	if err != nil {
		t.Fatal(err)
	}
	return r.Data[field]
}

// PostOK posts a query as token; any error in the answer, or a status other than 200, is an
// error. It only returns errors, so it may run off the test's goroutine.
func PostOK(ctx context.Context, base, token, query string, vars map[string]any) (Result, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("POST %s: %w", base, err)
	}
	defer resp.Body.Close()
	var r Result
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Errors) > 0 || resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("%s via %s: status %d, %+v, %v", firstWords(query), base, resp.StatusCode, r.Errors, err)
	}
	return r, nil
}

func firstWords(s string) string {
	if len(s) > 60 {
		return s[:60]
	}
	return s
}

func IDOf(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal(raw, &v); err != nil || v.ID == "" {
		t.Fatalf("no id in %s", raw)
	}
	return v.ID
}

// PostGraphQL posts query as token ("" for none) to url and decodes the answer.
func PostGraphQL(t testing.TB, url, token, query string) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s: decoding the answer: %v", url, err)
	}
	return resp.StatusCode, out
}

// Scrape reads base's /metrics.
func Scrape(t testing.TB, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// MetricValue finds a sample line such as `name{labels} 3`.
func MetricValue(exposition, series string) string {
	for _, line := range strings.Split(exposition, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return rest
		}
	}
	return ""
}
