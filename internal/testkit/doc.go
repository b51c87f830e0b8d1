// Package testkit holds the shared helpers of the tests: a real PostgreSQL database per test
// (db.go) and real signing keys behind a real JWKS endpoint (keys.go: Issuer, Key), so that tests
// exercise the same code paths as production instead of mocks.
package testkit
