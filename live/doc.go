// Package live delivers each user's committed task and tag changes to that user's open
// subscriptions, on every replica.
//
// The path of a change: committed changes come from the feed, in commit order: with
// wal_level=logical from the WAL (a temporary replication slot per replica decoding the
// publication db.Publication with pgoutput, on DATABASE_LISTEN_URL), so writers send nothing;
// otherwise from the NOTIFY fallback (a write method queues a NOTIFY in its transaction, ids only,
// and every replica LISTENs on its own direct connection). Each change goes to a bounded resume
// window and, when its user has subscribers here, to that user's own queue; workers take users in
// turn, load the changed rows once per batch for that user under row-level security, and put the
// same event in each subscriber's bounded buffer.
//
// What it guarantees:
//   - A subscription hears only its own user's changes, exactly those committed after it started
//     (or after the cursor it resumes from, while the window holds them), in commit order.
//   - When the feed's connection is lost or goes silent (LIVE_FEED_TIMEOUT), every subscription
//     ends with ErrEventsLost (its client refetches and subscribes again); the feed reconnects by
//     itself, and a subscription opened meanwhile ends with ErrEventsLost once it is back.
//   - Memory is bounded: SUBSCRIPTIONS_PER_USER and SUBSCRIPTIONS_MAX open at once
//     (ErrTooManySubscriptions), a fixed buffer per subscription (a subscriber that leaves it full
//     for SlowReader is disconnected, never buffered without bound), a fixed queue per user, whose
//     overflow ends that user's subscriptions only, and a bounded resume window. A
//     subscription costs no goroutine of its own: the worker sends into the channel the transport
//     reads, and one goroutine pings every socket.
//   - Connections end on time: a WebSocket closes with 4403 token_expired at the token's expiry (an
//     SSE subscription ends with ErrTokenExpired); Shutdown delivers what was committed before it,
//     then closes sockets with 1001.
//
// websocket.go and sse.go are the two transports (gqlgen's, with our authentication, close codes
// and shutdown); package graph's subscription resolvers call Hub.Subscribe.
package live
