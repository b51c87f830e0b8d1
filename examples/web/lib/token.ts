// The JWT for taskgraph: fetched from Better Auth (authClient.token()), kept in memory only,
// refreshed before it expires and whenever the server refuses it. Its lifetime is measured from
// when it arrived (exp - iat), so a browser clock that is off does not matter.

/** Fetches a new JWT; null when there is no session (signed out). */
export type FetchToken = () => Promise<string | null>;

export class SignedOutError extends Error {
  constructor() {
    super("signed out — sign in again");
    this.name = "SignedOutError";
  }
}

interface Held {
  token: string;
  /** Date.now() after which the token is refreshed before use. */
  refreshAt: number;
}

/** Seconds of lifetime from a JWT's iat and exp (no verification: the server does that). */
export function lifetimeSeconds(jwt: string): number | null {
  const part = jwt.split(".")[1];
  if (!part) return null;
  try {
    const json: unknown = JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/")));
    if (typeof json !== "object" || json === null) return null;
    const { iat, exp } = json as { iat?: unknown; exp?: unknown };
    if (typeof iat !== "number" || typeof exp !== "number" || exp <= iat) return null;
    return exp - iat;
  } catch {
    return null;
  }
}

export class TokenSource {
  private held: Held | null = null;
  private inflight: Promise<string | null> | null = null;
  /** Counts refreshes (tests and the UI read it). */
  refreshes = 0;

  constructor(
    private readonly fetchToken: FetchToken,
    private readonly onSignedOut: () => void,
  ) {}

  /** A token good for a while yet, refreshing first when it is close to expiry. */
  async get(): Promise<string | null> {
    if (this.held && Date.now() < this.held.refreshAt) return this.held.token;
    return this.refresh();
  }

  /** A new token now (after a 401 or a 4403), shared by everyone asking at the same time. */
  refresh(): Promise<string | null> {
    if (!this.inflight) {
      this.inflight = this.fetchToken()
        .then((token) => {
          this.refreshes++;
          if (!token) {
            this.held = null;
            this.onSignedOut();
            return null;
          }
          const life = lifetimeSeconds(token) ?? 60;
          // Refresh with a quarter of the lifetime left, at most a minute before expiry.
          const margin = Math.min(60, life / 4);
          this.held = { token, refreshAt: Date.now() + (life - margin) * 1000 };
          return token;
        })
        .finally(() => {
          this.inflight = null;
        });
    }
    return this.inflight;
  }

  clear(): void {
    this.held = null;
  }
}
