package main

import "context"

// requestInfo is filled in as a request travels: the mux adds the route, the GraphQL layer what
// only it knows.
type requestInfo struct {
	id        string
	route     string // the mux pattern that matched; "" when none did
	operation string // the executed operation's name; "" when unnamed
	parsed    bool   // the GraphQL layer saw the request (false when auth refused it first)
	signedIn  bool   // the request carried a verified token
	gqlErrors bool
	// socket: a WebSocket upgrade, whose many operations run concurrently for as long as it is
	// open; observeGraphQL leaves it alone (the request is logged as the upgrade it was).
	socket bool
}

type requestInfoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}
