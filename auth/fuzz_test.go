package auth_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

var reasons = []string{
	auth.ReasonMalformedToken, auth.ReasonTokenTooLarge, auth.ReasonAlgorithmNotAllowed, auth.ReasonUnknownKey,
	auth.ReasonInvalidSignature, auth.ReasonTokenExpired, auth.ReasonTokenNotYetValid, auth.ReasonInvalidIssuer,
	auth.ReasonInvalidAudience, auth.ReasonMissingClaim, auth.ReasonInvalidClaim, auth.ReasonUserNotFound,
}

// FuzzMiddleware feeds arbitrary Authorization header values through the middleware: it must never
// panic, and must answer 200 or a well-formed 401 with one of the documented reasons.
func FuzzMiddleware(f *testing.F) {
	iss := testkit.NewIssuer(f, "EdDSA")
	v := iss.Verifier(f, nil)
	h := auth.Middleware(v)(echoUser)
	u := testUser()
	good := iss.TokenFor(f, u)
	parts := strings.Split(good, ".")
	for _, seed := range []string{
		"Bearer " + good,
		"bearer " + good,
		"Bearer " + iss.Sign(f, iss.Claims(u), map[string]any{"kid": nil}),
		"Bearer " + iss.Sign(f, iss.Claims(u), map[string]any{"alg": "Ed25519"}),
		"Bearer " + iss.Sign(f, iss.Claims(u), map[string]any{"kid": 12}),
		"Bearer " + parts[0] + "." + parts[1] + ".",
		"Bearer " + parts[0] + ".." + parts[2],
		"Bearer " + parts[1] + "." + parts[0] + "." + parts[2],
		"Bearer eyJhbGciOiJub25lIn0.e30.",
		"Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
		"Bearer eyJhbGciOiJFZERTQSIsImtpZCI6W119.e30.c2ln",
		"Bearer e30.e30.e30",
		"Bearer a.b.c",
		"Bearer ....",
		"Bearer",
		"Bearer ",
		"Basic dXNlcjpwYXNz",
		"",
		"Bearer " + strings.Repeat("A", 9000),
		"Bearer \x00\xff.\x01.\x02",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		req, err := http.NewRequest(http.MethodPost, "/query", nil)
		if err != nil {
			t.Skip()
		}
		req.Header.Set("Authorization", header)
		rec := serveRequest(h, req)
		switch rec.Code {
		case http.StatusOK:
		case http.StatusUnauthorized:
			var b authBody
			if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || len(b.Errors) != 1 {
				t.Fatalf("401 body %q is not the documented shape", rec.Body)
			}
			if r := b.Errors[0].Extensions["reason"]; !slices.Contains(reasons, r) {
				t.Fatalf("undocumented reason %q", r)
			}
		default:
			t.Fatalf("status %d for header %q", rec.Code, header)
		}
	})
}
