package live

import (
	"strings"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// connectionParams reads the token from the connection_init payload shapes clients' docs teach,
// besides our own {"Authorization": "Bearer <jwt>"}: Apollo's {"authToken": "<jwt>"} (a bare
// token, or "Bearer <jwt>") and Hasura's {"headers": {"Authorization": "Bearer <jwt>"}}. It
// returns the payload with the token moved to "Authorization"; a payload that already has one,
// or names the token in several shapes, is returned as it is (the caller then refuses what is
// not one string, or a token sent twice).
func connectionParams(payload transport.InitPayload) transport.InitPayload {
	if _, ok := payload["Authorization"]; ok {
		return payload
	}
	if _, ok := payload["authorization"]; ok {
		return payload
	}
	var found []any
	if v, ok := payload["authToken"]; ok {
		if s, isString := v.(string); isString && s != "" && !hasScheme(s) {
			v = "Bearer " + s
		}
		found = append(found, v)
	}
	if h, ok := payload["headers"].(map[string]any); ok {
		for _, key := range []string{"Authorization", "authorization"} {
			if v, ok := h[key]; ok {
				found = append(found, v)
			}
		}
	}
	if len(found) != 1 {
		if len(found) > 1 {
			// Several tokens: hand them all on, so the token-sent-twice check refuses them.
			out := transport.InitPayload{"Authorization": found[0], "authorization": found[1]}
			return out
		}
		return payload
	}
	out := make(transport.InitPayload, len(payload)+1)
	for k, v := range payload {
		out[k] = v
	}
	out["Authorization"] = found[0]
	return out
}

// hasScheme says whether an authToken value is already "Bearer <jwt>".
func hasScheme(s string) bool {
	scheme, _, ok := strings.Cut(s, " ")
	return ok && strings.EqualFold(scheme, "Bearer")
}
