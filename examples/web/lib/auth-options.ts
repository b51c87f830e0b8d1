// The settings Better Auth reads from the environment, shared by the route handler (lib/auth.ts)
// and the migration script (scripts/migrate.mjs reads the same variables).

export interface AuthEnv {
  [name: string]: string | undefined;
}

export function authOptions(env: AuthEnv) {
  const secret = env.BETTER_AUTH_SECRET ?? "";
  if (secret.length < 32) {
    throw new Error("BETTER_AUTH_SECRET: set it to a random string of at least 32 characters (make web writes one to .env.local)");
  }
  const baseURL = env.BETTER_AUTH_URL || "http://127.0.0.1:3000";
  const trusted = (env.TRUSTED_ORIGINS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    // The public base URL: every JWT's iss and aud; taskgraph's BETTER_AUTH_URL must equal it.
    baseURL,
    secret,
    trustedOrigins: trusted,
    emailAndPassword: { enabled: true, minPasswordLength: 8 },
    telemetry: { enabled: false },
  };
}
