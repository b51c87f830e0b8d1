// An urql Client for taskgraph that authenticates with a Better Auth JWT.
import { Client, fetchExchange, subscriptionExchange, type CombinedError, type Exchange } from "@urql/core";
import { authExchange } from "@urql/exchange-auth";
import { persistedExchange } from "@urql/exchange-persisted";
import type { WsClient } from "./subscriptions.js";

/** Returns a fresh JWT from Better Auth (never the session token), or null when signed out. */
export type GetToken = () => Promise<string | null>;

export interface TaskgraphClientOptions {
  /** The GraphQL endpoint, e.g. "http://127.0.0.1:8080/graphql". */
  url: string;
  /** Called once at start, and again whenever the server says the token is no good. */
  getToken: GetToken;
  /**
   * Fetch a new token before sending a request whose token expires within this many seconds,
   * so most requests never meet a 401. null sends the token as it is and relies on the
   * refresh-on-401 path alone. Default 10.
   */
  refreshBeforeExpirySeconds?: number | null;
  /** A fetch to use instead of the global one (tests count requests with it). */
  fetch?: typeof fetch;
  /**
   * Sends subscriptions over this graphql-ws client (createSubscriptionClient); without one,
   * subscriptions fail. Queries and mutations stay on HTTP.
   */
  subscriptions?: WsClient;
  /**
   * Send each document by its hash only (extensions.persistedQuery.sha256Hash, from the hash
   * codegen put in the document), never its text: for a server started with TRUSTED_DOCUMENTS set
   * to this package's src/gql/persisted-documents.json. Queries, mutations and subscriptions alike.
   */
  persistedDocuments?: boolean;
}

/** The hex sha256 codegen's client preset stored in a document ("sha256:<hex>"). */
function documentHash(document: unknown): string | null {
  const hash = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  return typeof hash === "string" ? hash.replace(/^sha256:/, "") : null;
}

/**
 * True for the server's authentication errors: HTTP 401 (a token that failed verification:
 * expired, unknown key, wrong audience...) or a GraphQL error with code UNAUTHENTICATED (an
 * @auth field asked without a token). urql's fetchExchange parses the JSON body of a 401 as a
 * GraphQL result, so both arrive as a CombinedError with the Response attached.
 */
export function isAuthError(error: CombinedError): boolean {
  const status = (error.response as Response | undefined)?.status;
  if (status === 401) return true;
  return error.graphQLErrors.some((e) => e.extensions?.["code"] === "UNAUTHENTICATED");
}

/** Seconds since the epoch at which a JWT expires, read without verifying it (the server verifies). */
export function tokenExpiry(token: string): number | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const claims = JSON.parse(base64UrlDecode(payload)) as { exp?: unknown };
    return typeof claims.exp === "number" ? claims.exp : null;
  } catch {
    return null;
  }
}

function base64UrlDecode(s: string): string {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(s.length / 4) * 4, "=");
  return new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
}

export function createTaskgraphClient(opts: TaskgraphClientOptions): Client {
  const margin = opts.refreshBeforeExpirySeconds === undefined ? 10 : opts.refreshBeforeExpirySeconds;
  return new Client({
    url: opts.url,
    // POST for queries too: the server's contract is POST /graphql, and tokens stay out of URLs' logs.
    preferGetMethod: false,
    // The cache would hide what the server answers; every call here goes to the network.
    requestPolicy: "network-only",
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    exchanges: [
      authExchange(async (utils) => {
        let token = await opts.getToken();
        return {
          addAuthToOperation(operation) {
            if (!token) return operation;
            return utils.appendHeaders(operation, { Authorization: `Bearer ${token}` });
          },
          willAuthError() {
            if (!token) return true;
            if (margin === null) return false;
            const exp = tokenExpiry(token);
            return exp !== null && exp - Date.now() / 1000 < margin;
          },
          // The exchange retries the failed operation once after refreshAuth; a second failure
          // is handed to the caller as it is.
          didAuthError: isAuthError,
          async refreshAuth() {
            token = await opts.getToken();
          },
        };
      }),
      ...(opts.persistedDocuments
        ? [
            persistedExchange({
              enforcePersistedQueries: true,
              enableForMutation: true,
              enableForSubscriptions: true,
              generateHash: async (_query, document) => documentHash(document),
            }),
          ]
        : []),
      ...(opts.subscriptions ? [wsExchange(opts.subscriptions)] : []),
      fetchExchange,
    ],
  });
}

/** urql's subscriptionExchange over graphql-ws: subscriptions go to the socket. */
function wsExchange(ws: WsClient): Exchange {
  return subscriptionExchange({
    forwardSubscription(request) {
      const input = { ...request, query: request.query ?? "" };
      return {
        subscribe(sink) {
          const unsubscribe = ws.subscribe(input, sink);
          return { unsubscribe };
        },
      };
    },
  });
}
