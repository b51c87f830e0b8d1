// Package live delivers each user's committed task and tag changes to that user's open
// subscriptions, on every replica.
//
// The path of a change: a db.Store write method queues a NOTIFY inside its transaction
// (db.EventsChannel, ids only), so PostgreSQL announces it at commit, in commit order, and never
// after a rollback. Every replica's Hub listens on its own direct connection (DATABASE_LISTEN_URL,
// since a transaction-mode pooler cannot carry LISTEN). A notification goes to the worker that owns
// its user (one per hash of the user, so a user's changes stay in order); when that user has
// subscribers on this replica, the worker loads the changed rows once, for that user and under
// row-level security, and puts the same event in each subscriber's bounded buffer.
//
// What it guarantees:
//   - A subscription hears only its own user's changes, committed after it started, in commit order.
//   - When the listener's connection is lost, every subscription ends with ErrEventsLost (its
//     client refetches and subscribes again); the listener reconnects by itself, and a subscription
//     opened meanwhile ends with ErrEventsLost once it is back (events committed in between were
//     not heard).
//   - Memory is bounded: SUBSCRIPTIONS_PER_USER and SUBSCRIPTIONS_MAX open at once
//     (ErrTooManySubscriptions), a fixed buffer per subscription (a subscriber that leaves it full
//     for SlowReader is disconnected, never buffered without bound), a fixed queue per worker. A
//     subscription costs no goroutine of its own: the worker sends into the channel the transport
//     reads, and one goroutine pings every socket.
//   - Connections end on time: a WebSocket closes with 4403 token_expired at the token's expiry (an
//     SSE subscription ends with ErrTokenExpired); Shutdown delivers what was committed before it,
//     then closes sockets with 1001.
//
// websocket.go and sse.go are the two transports (gqlgen's, with our authentication, close codes
// and shutdown); package graph's subscription resolvers call Hub.Subscribe.
package live
