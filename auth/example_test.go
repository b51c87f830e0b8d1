package auth_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/auth"
)

// A plain net/http service that serves a handler only to users signed in with Better Auth. In
// production the configuration is auth.NewConfig("https://app.example.com") (Better Auth's base
// URL) or auth.ConfigFromEnv(os.Getenv); here a development issuer stands in for Better Auth.
func Example() {
	betterAuth, token := standInForBetterAuth()
	defer betterAuth.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops the background JWKS refresh

	verifier, err := auth.NewVerifier(ctx, auth.NewConfig(betterAuth.URL), nil, auth.Hooks{})
	if err != nil {
		log.Fatal(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, ok := auth.UserFrom(r.Context()) // set only by the middleware, for a verified token
		if !ok {
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "hello %s", user.Email)
	})
	api := httptest.NewServer(auth.Middleware(verifier)(hello))
	defer api.Close()

	get(api.URL, token)
	get(api.URL, "")
	get(api.URL, "not-a-jwt")
	// Output:
	// 200 hello ada@example.com
	// 401 sign in first
	// 401 {"errors":[{"message":"the bearer token is not a compact JWT (three base64url parts with JSON header and payload)","extensions":{"code":"UNAUTHENTICATED","reason":"malformed_token"}}]}
}

// standInForBetterAuth serves a JWKS at /api/auth/jwks, as Better Auth's jwt plugin does, and
// returns a token signed with its key.
func standInForBetterAuth() (*httptest.Server, string) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	issuer, err := auth.NewDevIssuer(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("GET /api/auth/jwks", issuer.JWKSHandler())
	ada := auth.User{UUID: uuid.MustParse("0b8f2c9e-5d7a-4e21-9c3f-2a6b1d4e8f70"), ID: "ada", Email: "ada@example.com"}
	token, err := issuer.Mint(ada, time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	return srv, token
}

func get(url, token string) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
}
