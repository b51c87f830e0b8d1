package auth_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

var reasons = []string{
	auth.ReasonMalformedToken, auth.ReasonTokenTooLarge, auth.ReasonAlgorithmNotAllowed, auth.ReasonUnknownKey,
	auth.ReasonInvalidSignature, auth.ReasonTokenExpired, auth.ReasonTokenNotYetValid, auth.ReasonInvalidIssuer,
	auth.ReasonInvalidAudience, auth.ReasonMissingClaim, auth.ReasonInvalidClaim, auth.ReasonUserNotFound,
}

// FuzzMiddleware feeds arbitrary Authorization header values through the middleware (with the sub
// lookup on). It must never panic, and must answer 200 or a well-formed 401 with one of the
// documented reasons and a matching WWW-Authenticate, never echoing the token. A request passes as
// a user only with a token exactly as it was signed: no other spelling of a valid token verifies.
func FuzzMiddleware(f *testing.F) {
	iss := testkit.NewIssuer(f, "EdDSA")
	u := testUser()
	bySub := testUser()
	v := iss.Verifier(f, &mapLookup{users: map[string]uuid.UUID{bySub.ID: bySub.UUID}})
	h := auth.Middleware(v)(echoUser)

	signed := map[string]uuid.UUID{} // every token signed here that verifies, and its user
	sign := func(claims map[string]any, header map[string]any, user uuid.UUID) string {
		tok := iss.Sign(f, claims, header)
		if user != uuid.Nil {
			signed[tok] = user
		}
		return tok
	}
	claims := func(edit func(c map[string]any)) map[string]any {
		c := iss.Claims(u)
		edit(c)
		return c
	}
	good := sign(iss.Claims(u), nil, u.UUID)
	noUUID := iss.Claims(bySub)
	delete(noUUID, "uuid")
	tokens := []string{
		good,
		sign(noUUID, nil, bySub.UUID),
		sign(iss.Claims(u), map[string]any{"kid": nil}, u.UUID),
		sign(iss.Claims(u), map[string]any{"alg": "Ed25519"}, u.UUID),
		sign(iss.Claims(u), map[string]any{"kid": 12}, uuid.Nil),
		sign(iss.Claims(u), map[string]any{"kid": "not-a-known-kid"}, uuid.Nil),
		sign(iss.Claims(u), map[string]any{"crit": []string{"exp"}}, uuid.Nil),
		sign(iss.Claims(u), map[string]any{"jku": "http://127.0.0.1:1/jwks", "jwk": map[string]any{"kty": "OKP"}}, u.UUID),
		sign(claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), nil, uuid.Nil),
		sign(claims(func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() }), nil, uuid.Nil),
		sign(claims(func(c map[string]any) { c["iss"] = "https://elsewhere.example" }), nil, uuid.Nil),
		sign(claims(func(c map[string]any) { c["aud"] = []any{"x", 5} }), nil, uuid.Nil),
		sign(claims(func(c map[string]any) { c["uuid"] = "Jx2p8sQbV0cYt5nLr4aW9eHk3uZm7dFg" }), nil, uuid.Nil),
		sign(claims(func(c map[string]any) { delete(c, "uuid"); c["sub"] = "nobody" }), nil, uuid.Nil),
		sign(claims(func(c map[string]any) { c["exp"] = "tomorrow" }), nil, uuid.Nil),
	}
	parts := strings.Split(good, ".")
	seeds := []string{
		"bearer " + good,
		"Bearer  " + good + " ",
		"Bearer " + good + "=",
		"Bearer " + parts[0] + "." + parts[1] + ".\n" + parts[2],
		"Bearer " + parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + "B",
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
	}
	for _, tok := range tokens {
		seeds = append(seeds, "Bearer "+tok)
	}
	for _, seed := range seeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		req, err := http.NewRequest(http.MethodPost, "/query", nil)
		if err != nil {
			t.Skip()
		}
		req.Header["Authorization"] = []string{header} // as is: the middleware must cope with anything
		rec := serveRequest(h, req)
		_, token, _ := strings.Cut(strings.TrimSpace(header), " ")
		token = strings.TrimSpace(token)
		switch rec.Code {
		case http.StatusOK:
			if body := rec.Body.String(); body != "anonymous" {
				if want, ok := signed[token]; !ok || body != want.String() {
					t.Fatalf("header %q passed as user %s; only the tokens signed here may (want %v)", header, body, want)
				}
			}
		case http.StatusUnauthorized:
			var b authBody
			if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || len(b.Errors) != 1 {
				t.Fatalf("401 body %q is not the documented shape", rec.Body)
			}
			r := b.Errors[0].Extensions["reason"]
			if !slices.Contains(reasons, r) || b.Errors[0].Extensions["code"] != "UNAUTHENTICATED" {
				t.Fatalf("undocumented reason %q or code in %s", r, rec.Body)
			}
			if want := `Bearer error="invalid_token", error_description="` + r + `"`; rec.Header().Get("WWW-Authenticate") != want {
				t.Fatalf("WWW-Authenticate %q for reason %s", rec.Header().Get("WWW-Authenticate"), r)
			}
			if len(token) >= 16 && strings.Contains(rec.Body.String(), token) {
				t.Fatalf("the 401 echoes the token: %s", rec.Body)
			}
		default:
			t.Fatalf("status %d for header %q", rec.Code, header)
		}
	})
}
