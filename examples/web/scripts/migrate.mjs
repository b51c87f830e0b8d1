// Better Auth's migrations for this app (user, session, account, verification, jwks) and the
// uuid column taskgraph reads, on DATABASE_URL; the same environment as `next start` (.env.local
// included). taskgraph's own migrations run with `taskgraph migrate` (or at its start); either
// order works (../better-auth/README.md, "Migration order").
import nextEnv from "@next/env";
import { getMigrations } from "better-auth/db/migration";
import { jwt } from "better-auth/plugins";
import pg from "pg";

nextEnv.loadEnvConfig(process.cwd());
const env = process.env;

// Any constant: keeps two copies from migrating at once (the same lock as examples/better-auth).
const MIGRATION_LOCK = 7_245_199_301;
const ADD_UUID = `ALTER TABLE "user" ADD COLUMN IF NOT EXISTS uuid uuid UNIQUE NOT NULL DEFAULT gen_random_uuid()`;

const pool = new pg.Pool({ connectionString: env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", max: 2 });
const options = {
  baseURL: env.BETTER_AUTH_URL || "http://127.0.0.1:3000",
  secret: env.BETTER_AUTH_SECRET,
  database: pool,
  emailAndPassword: { enabled: true },
  telemetry: { enabled: false },
  plugins: [jwt()],
};

const lock = await pool.connect();
try {
  await lock.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
  const { toBeCreated, toBeAdded, runMigrations } = await getMigrations(options);
  if (toBeCreated.length || toBeAdded.length) {
    const names = [...toBeCreated, ...toBeAdded].map((t) => t.table);
    console.error(`better-auth: migrating tables ${[...new Set(names)].join(", ")}`);
    await runMigrations();
  }
  await pool.query(ADD_UUID);
} finally {
  await lock.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
  lock.release();
  await pool.end();
}
