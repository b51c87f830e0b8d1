// The example's public surface: the client, the Better Auth token source, the typed documents.
export type { Client, CombinedError, OperationResult } from "@urql/core";
export { createTaskgraphClient, isAuthError, tokenExpiry } from "./client.js";
export type { GetToken, TaskgraphClientOptions } from "./client.js";
export { createSubscriptionClient, resumeSubscription } from "./subscriptions.js";
export type { SubscriptionClientOptions, WsClient } from "./subscriptions.js";
export { betterAuthToken, createCookieFetch, createTaskgraphAuthClient } from "./better-auth.js";
export type { AuthClientOptions, CookieFetchOptions, TaskgraphAuthClient } from "./better-auth.js";
export * from "./operations.js";
export type * from "./gql/graphql.js";
