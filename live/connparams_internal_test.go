package live

import (
	"slices"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// The connection_init shapes of Apollo's and Hasura's docs carry the token as ours does; a token
// named twice is still refused, and a payload without one is still missing_token.
func TestConnectionParamsShapes(t *testing.T) {
	cases := []struct {
		name    string
		payload transport.InitPayload
		want    []string
		reason  string
	}{
		{"ours", transport.InitPayload{"Authorization": "Bearer a.b.c"}, []string{"Bearer a.b.c"}, ""},
		{"ours, lower case", transport.InitPayload{"authorization": "Bearer a.b.c"}, []string{"Bearer a.b.c"}, ""},
		{"Apollo authToken, bare", transport.InitPayload{"authToken": "a.b.c"}, []string{"Bearer a.b.c"}, ""},
		{"Apollo authToken, with scheme", transport.InitPayload{"authToken": "Bearer a.b.c"}, []string{"Bearer a.b.c"}, ""},
		{"Hasura headers", transport.InitPayload{"headers": map[string]any{"Authorization": "Bearer a.b.c"}}, []string{"Bearer a.b.c"}, ""},
		{"Hasura headers, lower case", transport.InitPayload{"headers": map[string]any{"authorization": "Bearer a.b.c"}}, []string{"Bearer a.b.c"}, ""},
		{"nothing", transport.InitPayload{"other": 1}, nil, ""},
		{"authToken not a string", transport.InitPayload{"authToken": 42}, nil, "malformed_token"},
		{"two shapes", transport.InitPayload{"authToken": "a.b.c", "headers": map[string]any{"Authorization": "Bearer x.y.z"}}, []string{"Bearer a.b.c", "Bearer x.y.z"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, e := authorization(nil, tc.payload)
			if tc.reason != "" {
				if e == nil || e.Reason != tc.reason {
					t.Fatalf("got %v, %v; want refusal %s", got, e, tc.reason)
				}
				return
			}
			if e != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, e, tc.want)
			}
		})
	}
	// A token in connection_init and in the upgrade request is refused as before.
	if _, e := authorization([]string{"Bearer u.v.w"}, transport.InitPayload{"authToken": "a.b.c"}); e == nil {
		t.Fatal("a token sent twice was accepted")
	}
}
