package graph

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

func TestDirective(t *testing.T) {
	called := false
	next := func(ctx context.Context) (any, error) { called = true; return "secret", nil }

	res, err := authDirective(context.Background(), nil, next)
	if called || res != nil {
		t.Fatal("the directive let an anonymous request through")
	}
	var ge *gqlerror.Error
	if !errors.As(err, &ge) || ge.Extensions["code"] != "UNAUTHENTICATED" {
		t.Fatalf("err = %#v, want a *gqlerror.Error with extensions.code UNAUTHENTICATED", err)
	}
	raw, _ := json.Marshal(ge)
	if !strings.Contains(string(raw), `"code":"UNAUTHENTICATED"`) {
		t.Fatalf("error JSON %s lacks extensions.code UNAUTHENTICATED", raw)
	}

	// Through the middleware, an authenticated request passes the directive.
	iss := testkit.NewIssuer(t, "EdDSA")
	h := auth.Middleware(iss.Verifier(t, nil))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := authDirective(r.Context(), nil, next)
		if err != nil || res != "secret" {
			http.Error(w, "refused", 500)
		}
	}))
	u := auth.User{UUID: uuid.New(), ID: "Jx2p8sQbV0cYt5nLr4aW9eHk3uZm7dFg", Email: "ada@example.com", Name: "Ada"}
	req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query":"{ me { id } }"}`))
	req.Header.Add("Authorization", "Bearer "+iss.TokenFor(t, u))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || !called {
		t.Fatalf("status %d, next called %v", rec.Code, called)
	}
}
