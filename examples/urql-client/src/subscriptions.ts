// Live updates: a graphql-ws client (graphql-transport-ws, the protocol taskgraph serves at the
// WebSocket upgrade of /graphql) that authenticates every connection with a fresh Better Auth JWT.
import { createClient, type Client as WsClient, type ClientOptions } from "graphql-ws";
import type { GetToken } from "./client.js";

export type { WsClient };

export interface SubscriptionClientOptions {
  /** The WebSocket endpoint, e.g. "ws://127.0.0.1:8080/graphql" (wss:// in production). */
  url: string;
  /**
   * Called on every (re)connect: the token goes in connection_init's payload as
   * {"Authorization": "Bearer <jwt>"}. The server closes the socket with 4403 token_expired when
   * the token expires; graphql-ws then reconnects, this runs again, and the client's active
   * subscriptions are sent again on the new socket.
   */
  getToken: GetToken;
  /** The WebSocket class: the global one in browsers and Node 22; `WebSocket` from "ws" on Node 20. */
  webSocketImpl?: unknown;
  /** graphql-ws's other options (retries, lazy, on: { closed, ... }). */
  options?: Omit<ClientOptions, "url" | "connectionParams" | "webSocketImpl">;
}

export function createSubscriptionClient(opts: SubscriptionClientOptions): WsClient {
  return createClient({
    url: opts.url,
    // A function, so a reconnect after 4403 token_expired sends a new token, never the old one.
    connectionParams: async () => {
      const token = await opts.getToken();
      return token ? { Authorization: `Bearer ${token}` } : {};
    },
    ...(opts.webSocketImpl ? { webSocketImpl: opts.webSocketImpl } : {}),
    // graphql-ws retries (5 times by default) on 4403 (a refused or expired token), 1001 (a
    // replica shutting down) and 1013 (no keys loaded yet); not on 1008 (too slow a reader).
    ...opts.options,
  });
}

/**
 * Subscribes through graphql-ws so that a dropped socket loses nothing: every event's cursor is
 * kept in the subscribe payload's variables.after, and graphql-ws sends that payload again on each
 * retry (retryAttempts), so the server resumes after the last event received. When the server no
 * longer holds the missed changes (LIVE_RESUME_WINDOW, 60 s by default), the subscription ends with
 * EVENTS_LOST: onLost runs, refetch, then call this again.
 */
export function resumeSubscription<E extends { cursor: string }>(
  ws: WsClient,
  query: string,
  field: "taskEvents" | "tagEvents",
  onEvent: (event: E) => void,
  onLost: (error: unknown) => void,
): () => void {
  const payload = { query, variables: { after: null as string | null } };
  return ws.subscribe<Record<string, E>>(payload, {
    next: ({ data, errors }) => {
      if (errors?.length) return onLost(errors);
      const event = data?.[field];
      if (!event) return;
      payload.variables.after = event.cursor; // the next retry resumes after this event
      onEvent(event);
    },
    error: onLost,
    complete: () => {},
  });
}
