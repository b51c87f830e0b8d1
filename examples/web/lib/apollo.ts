// Apollo Client 4 for taskgraph: queries and mutations over HTTP, subscriptions over graphql-ws,
// the JWT from Better Auth on both, refreshed before expiry and on a refusal.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { CombinedGraphQLErrors, ServerError } from "@apollo/client/errors";
import { SetContextLink } from "@apollo/client/link/context";
import { ErrorLink } from "@apollo/client/link/error";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { relayStylePagination } from "@apollo/client/utilities";
import { OperationTypeNode } from "graphql";
import { createClient, type Client as WsClient } from "graphql-ws";
import { from, switchMap } from "rxjs";
import type { TokenSource } from "./token";

/** Close code of a socket whose token is missing, refused or expired (README, Live updates). */
export const CLOSE_AUTH = 4403;

/** Whether an Apollo error says the token was refused: a GraphQL UNAUTHENTICATED with a reason
 * (HTTP 401 answered as application/graphql-response+json), or a bare HTTP 401 from a server
 * that answers it as application/json (Apollo then raises ServerError). */
export function isTokenRefused(error: unknown): boolean {
  if (CombinedGraphQLErrors.is(error)) {
    return error.errors.some((e) => e.extensions?.code === "UNAUTHENTICATED" && typeof e.extensions?.reason === "string");
  }
  return ServerError.is(error) && error.statusCode === 401;
}

export function createCache(): InMemoryCache {
  return new InMemoryCache({
    typePolicies: {
      Query: {
        fields: {
          // One list per filter; "Load more" appends the next page (Relay cursors).
          tasks: relayStylePagination(["filter"]),
        },
      },
      // Events are not entities: without this Apollo would normalise every TaskEvent of a task
      // under "TaskEvent:<task id>" and a later event would overwrite an earlier one.
      TaskEvent: { keyFields: false },
      TagEvent: { keyFields: false },
    },
  });
}

export interface Links {
  client: ApolloClient;
  ws: WsClient;
}

export function createApollo(opts: {
  apiUrl: string;
  tokens: TokenSource;
  /** Called with true when the API cannot be reached, false when it answers again. */
  onUnreachable: (down: boolean) => void;
  /** Called when the socket reconnects after a drop: changes in between were not sent. */
  onReconnected: () => void;
}): Links {
  const { apiUrl, tokens } = opts;
  const httpUrl = `${apiUrl.replace(/\/$/, "")}/graphql`;
  const wsUrl = httpUrl.replace(/^http/, "ws");

  let refusedSocket = false;
  let connectedBefore = false;
  const ws = createClient({
    url: wsUrl,
    lazy: true,
    // A function: each (re)connection asks for the current token, a new one after a 4403.
    connectionParams: async () => {
      const token = refusedSocket ? await tokens.refresh() : await tokens.get();
      refusedSocket = false;
      return token ? { Authorization: `Bearer ${token}` } : {};
    },
    retryAttempts: Infinity,
    shouldRetry: () => true,
    on: {
      connected: () => {
        opts.onUnreachable(false);
        if (connectedBefore) opts.onReconnected();
        connectedBefore = true;
      },
      closed: (event) => {
        if (event instanceof CloseEvent && event.code === CLOSE_AUTH) refusedSocket = true;
      },
    },
  });

  const auth = new SetContextLink(async (prev) => {
    const token = await tokens.get();
    return { headers: { ...prev.headers, ...(token ? { Authorization: `Bearer ${token}` } : {}) } };
  });

  // The refresh recipe: a refused token is fetched anew once, and the operation sent again.
  const refresh = new ErrorLink(({ error, operation, forward }) => {
    if (!isTokenRefused(error) || operation.getContext().tokenRetried) return;
    operation.setContext({ tokenRetried: true });
    return from(tokens.refresh()).pipe(switchMap(() => forward(operation)));
  });

  const http = new HttpLink({
    uri: httpUrl,
    fetch: async (input, init) => {
      try {
        const res = await fetch(input, init);
        opts.onUnreachable(false);
        return res;
      } catch (err) {
        opts.onUnreachable(true);
        throw err;
      }
    },
  });

  const transport = ApolloLink.split(
    ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
    new GraphQLWsLink(ws),
    http,
  );

  const client = new ApolloClient({
    link: ApolloLink.from([refresh, auth, transport]),
    cache: createCache(),
    clientAwareness: { name: "taskgraph-web", version: "0.0.0" },
  });
  return { client, ws };
}
