package graph

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// encodeResponse must write what gqlgen's transport (json.Marshal of the response) writes, byte
// for byte, or decline.
func TestEncodeResponseIsWhatJSONMarshalWrites(t *testing.T) {
	yes := true
	err := &gqlerror.Error{Message: `bad "input"`, Path: ast.Path{ast.PathName("tasks")}, Extensions: map[string]any{"code": "BAD_USER_INPUT"}}
	cases := []struct {
		name string
		resp graphql.Response
		ok   bool
	}{
		{"data", graphql.Response{Data: json.RawMessage(`{"tasks":{"edges":[{"node":{"id":"1","title":"é \"q\" \\ x","tags":[]}}]}}`)}, true},
		{"no data", graphql.Response{}, true},
		{"errors and null data", graphql.Response{Errors: gqlerror.List{err}}, true},
		{"errors and data", graphql.Response{Errors: gqlerror.List{err}, Data: json.RawMessage(`{"me":null}`)}, true},
		{"extensions", graphql.Response{Data: json.RawMessage(`{"a":1}`), Extensions: map[string]any{"cost": 3, "z": []int{1}}}, true},
		{"html characters", graphql.Response{Data: json.RawMessage(`{"title":"<b>a & b</b>"}`)}, false},
		{"dashes and other E2 80 characters", graphql.Response{Data: json.RawMessage("{\"title\":\"a \u2014 b \u2026\u2030\"}")}, true},
		{"line separator", graphql.Response{Data: json.RawMessage("{\"title\":\"a\u2028b\"}")}, false},
		{"paragraph separator at the end", graphql.Response{Data: json.RawMessage("{\"t\":\"\u2029\"}")}, false},
		{"incremental", graphql.Response{Data: json.RawMessage(`{}`), HasNext: &yes}, false},
	}
	for _, c := range cases {
		enc, ok := encodeResponse(&c.resp)
		got := slices.Concat(enc.head, enc.data, enc.tail)
		if ok != c.ok {
			t.Errorf("%s: ok = %v, want %v", c.name, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		want, err := json.Marshal(&c.resp)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, want)
		}
	}
}
