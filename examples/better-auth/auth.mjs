// The Better Auth configuration taskgraph expects, built from the environment.
// The same options, as they sit in a Next.js app, are in README.md (lib/auth.ts).
import { betterAuth } from "better-auth";
import { jwt } from "better-auth/plugins";
import pg from "pg";

/** Reads the settings this example understands; throws naming the variable on a bad value. */
export function configFromEnv(env = process.env) {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`PORT: not a TCP port: ${env.PORT}`);
  }
  const host = env.HOST ?? "127.0.0.1";
  const secret = env.BETTER_AUTH_SECRET ?? "";
  if (secret.length < 32) {
    throw new Error("BETTER_AUTH_SECRET: set it to a random string of at least 32 characters (openssl rand -base64 32)");
  }
  const seconds = (name) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: want a positive number of seconds, got ${raw}`);
    return n;
  };
  const alg = env.JWT_ALG ?? "EdDSA";
  if (!["EdDSA", "ES256", "ES512", "RS256", "PS256"].includes(alg)) {
    throw new Error(`JWT_ALG: one of EdDSA, ES256, ES512, RS256, PS256; got ${alg}`);
  }
  return {
    port,
    host,
    // The public base URL: tokens carry it as iss and aud, and taskgraph's BETTER_AUTH_URL must equal it.
    baseURL: env.BETTER_AUTH_URL ?? `http://${host}:${port}`,
    secret,
    databaseURL: env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
    jwtExpiration: env.JWT_EXPIRATION ?? "15m",
    // The claim that carries "user".uuid; "off" leaves it out (taskgraph then looks the user up by sub).
    uuidClaim: env.UUID_CLAIM === "off" ? null : (env.UUID_CLAIM ?? "uuid"),
    alg,
    rotationInterval: seconds("JWKS_ROTATION_INTERVAL"),
    gracePeriod: seconds("JWKS_GRACE_PERIOD"),
    trustedOrigins: (env.TRUSTED_ORIGINS ?? "").split(",").map((s) => s.trim()).filter(Boolean),
  };
}

/** Builds the Better Auth instance and the pool it shares with the uuid lookup. */
export function createAuth(cfg) {
  const pool = new pg.Pool({ connectionString: cfg.databaseURL, max: 5 });

  const keyPairConfig = cfg.alg === "EdDSA" ? { alg: "EdDSA", crv: "Ed25519" } : { alg: cfg.alg };

  const options = {
    baseURL: cfg.baseURL,
    secret: cfg.secret,
    database: pool,
    trustedOrigins: cfg.trustedOrigins,
    emailAndPassword: { enabled: true },
    telemetry: { enabled: false },
    plugins: [
      jwt({
        jwt: {
          expirationTime: cfg.jwtExpiration,
          // definePayload replaces the default payload (the whole user row), so name every claim.
          definePayload: async ({ user }) => {
            const payload = { email: user.email, name: user.name };
            if (cfg.uuidClaim) {
              // Better Auth does not know the uuid column; PostgreSQL filled it on insert.
              const { rows } = await pool.query('SELECT uuid FROM "user" WHERE id = $1', [user.id]);
              if (!rows[0]?.uuid) throw new Error('user has no uuid: run the migrations (ALTER TABLE "user" ADD COLUMN uuid ...)');
              payload[cfg.uuidClaim] = rows[0].uuid;
            }
            return payload;
          },
        },
        jwks: {
          keyPairConfig,
          ...(cfg.rotationInterval ? { rotationInterval: cfg.rotationInterval } : {}),
          ...(cfg.gracePeriod ? { gracePeriod: cfg.gracePeriod } : {}),
        },
      }),
    ],
  };
  return { auth: betterAuth(options), options, pool };
}
