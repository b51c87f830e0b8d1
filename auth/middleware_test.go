package auth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// echoUser answers 200 with the authenticated user's UUID, or "anonymous".
var echoUser = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if u, ok := auth.UserFrom(r.Context()); ok {
		_, _ = w.Write([]byte(u.UUID.String()))
		return
	}
	_, _ = w.Write([]byte("anonymous"))
})

func serve(h http.Handler, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query":"{ me { id } }"}`))
	for _, v := range headers {
		req.Header.Add("Authorization", v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

type authBody struct {
	Errors []struct {
		Message    string            `json:"message"`
		Extensions map[string]string `json:"extensions"`
	} `json:"errors"`
}

func decodeBody(t *testing.T, rec *httptest.ResponseRecorder) authBody {
	t.Helper()
	var b authBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body.String(), err)
	}
	if len(b.Errors) != 1 {
		t.Fatalf("body %q: want exactly one error", rec.Body.String())
	}
	return b
}

func TestMiddleware(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	var mu sync.Mutex
	var failures []string
	v := testkit.StartVerifier(t, iss.Config(), nil, auth.Hooks{AuthFailure: func(reason string) {
		mu.Lock()
		failures = append(failures, reason)
		mu.Unlock()
	}})
	testkit.WaitKeysLoaded(t, v)
	h := auth.Middleware(v)(echoUser)
	u := testUser()
	tok := iss.TokenFor(t, u)

	cases := []struct {
		name    string
		headers []string
		status  int
		reason  string
		body    string
	}{
		{"no header: anonymous", nil, 200, "", "anonymous"},
		{"valid token", []string{"Bearer " + tok}, 200, "", u.UUID.String()},
		{"scheme is case-insensitive", []string{"bearer " + tok}, 200, "", u.UUID.String()},
		{"BEARER", []string{"BEARER " + tok}, 200, "", u.UUID.String()},
		{"two headers", []string{"Bearer " + tok, "Bearer " + tok}, 401, auth.ReasonMalformedToken, ""},
		{"Basic scheme", []string{"Basic YWxhZGRpbjpvcGVuc2VzYW1l"}, 401, auth.ReasonMalformedToken, ""},
		{"token without scheme", []string{tok}, 401, auth.ReasonMalformedToken, ""},
		{"Bearer alone", []string{"Bearer"}, 401, auth.ReasonMalformedToken, ""},
		{"Bearer and spaces", []string{"Bearer    "}, 401, auth.ReasonMalformedToken, ""},
		// What Apollo's documented auth link sends when signed out: no token, not a bad one.
		{"empty header: anonymous", []string{""}, 200, "", "anonymous"},
		{"blank header: anonymous", []string{"  "}, 200, "", "anonymous"},
		{"garbage", []string{"Bearer garbage"}, 401, auth.ReasonMalformedToken, ""},
		{"expired", []string{"Bearer " + iss.Sign(t, expired(iss.Claims(u)), nil)}, 401, auth.ReasonTokenExpired, ""},
		{"too large", []string{"Bearer " + strings.Repeat("a", 9<<10)}, 401, auth.ReasonTokenTooLarge, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(h, tc.headers...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status == 200 {
				if rec.Body.String() != tc.body {
					t.Fatalf("body %q, want %q", rec.Body, tc.body)
				}
				return
			}
			wantWWW := `Bearer error="invalid_token", error_description="` + tc.reason + `"`
			if got := rec.Header().Get("WWW-Authenticate"); got != wantWWW {
				t.Fatalf("WWW-Authenticate %q, want %q", got, wantWWW)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			b := decodeBody(t, rec)
			e := b.Errors[0]
			if e.Extensions["code"] != "UNAUTHENTICATED" || e.Extensions["reason"] != tc.reason || len(e.Extensions) != 2 {
				t.Fatalf("extensions %v, want code UNAUTHENTICATED and reason %s", e.Extensions, tc.reason)
			}
			if e.Message == "" {
				t.Fatal("empty message")
			}
			for _, h := range tc.headers {
				if len(h) > 20 && strings.Contains(rec.Body.String(), strings.TrimPrefix(h, "Bearer ")) {
					t.Fatal("the response echoes the token")
				}
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failures) != 8 {
		t.Fatalf("AuthFailure called %d times (%v), want 8", len(failures), failures)
	}
}

// A refused token is answered in the media type the client prefers: Apollo Client 4 reads an
// application/graphql-response+json body whatever the status, so its refresh link sees the
// GraphQL error UNAUTHENTICATED; under application/json it would raise a bare ServerError.
func TestMiddlewareAnswersInTheAcceptedMediaType(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	h := auth.Middleware(iss.Verifier(t, nil))(echoUser)
	bad := "Bearer " + iss.Sign(t, expired(iss.Claims(testUser())), nil)
	cases := []struct{ accept, want string }{
		{"", "application/json"},
		{"application/json", "application/json"},
		{"*/*", "application/json"},
		// Apollo Client 4's HttpLink.
		{"application/graphql-response+json,application/json;q=0.9", "application/graphql-response+json"},
		// urql.
		{"application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed", "application/graphql-response+json"},
		{"application/json, application/graphql-response+json;q=0.5", "application/json"},
		{"application/graphql-response+json;q=0", "application/json"},
	}
	for _, tc := range cases {
		req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query":"{ me { id } }"}`))
		req.Header.Set("Authorization", bad)
		if tc.accept != "" {
			req.Header.Set("Accept", tc.accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized || rec.Header().Get("Content-Type") != tc.want {
			t.Fatalf("Accept %q: %d %q, want 401 %q", tc.accept, rec.Code, rec.Header().Get("Content-Type"), tc.want)
		}
		e := decodeBody(t, rec).Errors[0]
		if e.Extensions["code"] != "UNAUTHENTICATED" || e.Extensions["reason"] != auth.ReasonTokenExpired {
			t.Fatalf("Accept %q: extensions %v", tc.accept, e.Extensions)
		}
	}
}

func TestMiddlewareExpiredMessageHelpsTheOperator(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	h := auth.Middleware(iss.Verifier(t, nil))(echoUser)
	c := iss.Claims(testUser())
	c["exp"] = c["iat"].(int64) - 180
	rec := serve(h, "Bearer "+iss.Sign(t, c, nil))
	msg := decodeBody(t, rec).Errors[0].Message
	if msg != "token expired 3m ago; the frontend should fetch a fresh token" {
		t.Fatalf("message %q", msg)
	}
}

func TestMiddlewareUnavailableThenUp(t *testing.T) {
	iss := testkit.NewIssuer(t, "ES256")
	iss.SetDown(true)
	v := testkit.StartVerifier(t, iss.Config(), nil, auth.Hooks{})
	h := auth.Middleware(v)(echoUser)
	u := testUser()
	tok := iss.TokenFor(t, u)

	rec := serve(h, "Bearer "+tok)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503; body %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if code := decodeBody(t, rec).Errors[0].Extensions["code"]; code != "AUTH_UNAVAILABLE" {
		t.Fatalf("code %q, want AUTH_UNAVAILABLE", code)
	}
	// Anonymous requests are not affected.
	if rec := serve(h); rec.Code != 200 {
		t.Fatalf("anonymous: status %d", rec.Code)
	}

	iss.SetDown(false)
	testkit.WaitKeysLoaded(t, v)
	if rec := serve(h, "Bearer "+tok); rec.Code != 200 || rec.Body.String() != u.UUID.String() {
		t.Fatalf("after the JWKS came up: status %d body %s", rec.Code, rec.Body)
	}
}

func expired(c map[string]any) map[string]any {
	c["exp"] = c["iat"].(int64) - 3600
	return c
}
