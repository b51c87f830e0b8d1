// Package systemtest tests the taskgraph binary from outside: TestMain builds it once, and each
// test starts it as a process configured through its environment variables, then talks to it
// over HTTP, WebSocket (graphql-transport-ws), SSE and SQL. Tests of package main's own functions
// stay beside them.
package systemtest
