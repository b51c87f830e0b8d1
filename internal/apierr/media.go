package apierr

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// The media types of a GraphQL response over HTTP (GraphQL over HTTP, 2025).
const (
	JSON            = "application/json"
	GraphQLResponse = "application/graphql-response+json"
)

// MediaType is the response type r's Accept header prefers: GraphQLResponse when it accepts
// that at least as much as JSON (Apollo Client 4 and urql list it first), JSON otherwise.
func MediaType(r *http.Request) string {
	var jsonQ, gqlQ float64 = -1, -1
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		switch mt {
		case GraphQLResponse:
			gqlQ = max(gqlQ, q)
		case JSON:
			jsonQ = max(jsonQ, q)
		}
	}
	if gqlQ > 0 && gqlQ >= jsonQ {
		return GraphQLResponse
	}
	return JSON
}
