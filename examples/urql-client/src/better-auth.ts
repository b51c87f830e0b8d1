// Getting taskgraph's JWT from Better Auth with its own client and the jwt client plugin.
import { createAuthClient } from "better-auth/client";
import { jwtClient } from "better-auth/client/plugins";
import type { GetToken } from "./client.js";

export interface AuthClientOptions {
  /** Better Auth's base URL, e.g. "http://127.0.0.1:3000" (the same as taskgraph's BETTER_AUTH_URL). */
  baseURL: string;
  /**
   * A fetch to use instead of the global one. In a browser the session cookie travels by
   * itself; outside one (Node, tests) pass createCookieFetch() so it is kept.
   */
  fetch?: typeof fetch;
}

export function createTaskgraphAuthClient(opts: AuthClientOptions) {
  return createAuthClient({
    baseURL: opts.baseURL,
    plugins: [jwtClient()],
    ...(opts.fetch ? { fetchOptions: { customFetchImpl: opts.fetch } } : {}),
  });
}

export type TaskgraphAuthClient = ReturnType<typeof createTaskgraphAuthClient>;

/**
 * A GetToken that asks Better Auth's GET /api/auth/token for a JWT. The session's own `token`
 * (from signIn/getSession) is an opaque session id, not a JWT: taskgraph refuses it.
 */
export function betterAuthToken(authClient: TaskgraphAuthClient): GetToken {
  return async () => {
    const { data, error } = await authClient.token();
    if (error) {
      if (error.status === 401) return null; // signed out: requests go without a token
      throw new Error(`better-auth /token: ${error.status} ${error.message ?? error.statusText}`);
    }
    return data.token;
  };
}

export interface CookieFetchOptions {
  /**
   * The Origin to send, as a browser page on that origin would. Node's fetch sends
   * `Sec-Fetch-Mode: cors`, so Better Auth's CSRF check treats it as a browser and refuses a
   * POST without a trusted Origin (403 MISSING_OR_NULL_ORIGIN). Default: the request's own origin.
   */
  origin?: string;
  base?: typeof fetch;
}

/**
 * A fetch that keeps cookies the way a browser would for one site, for using the Better Auth
 * client outside a browser. Cookies are kept by name only (no domain, path or expiry rules):
 * enough for one Better Auth server, not a general cookie jar.
 */
export function createCookieFetch(opts: CookieFetchOptions = {}): typeof fetch & { cookies: Map<string, string> } {
  const base = opts.base ?? fetch;
  const cookies = new Map<string, string>();
  const cookieFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (!headers.has("origin")) {
      const url = input instanceof Request ? input.url : String(input);
      headers.set("origin", opts.origin ?? new URL(url).origin);
    }
    if (cookies.size > 0) {
      headers.set("cookie", [...cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const res = await base(input, { ...init, headers });
    for (const line of res.headers.getSetCookie()) {
      const [pair = "", ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
      if (expired || value === "") cookies.delete(name);
      else cookies.set(name, value);
    }
    return res;
  };
  return Object.assign(cookieFetch, { cookies }) as typeof fetch & { cookies: Map<string, string> };
}
