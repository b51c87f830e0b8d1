// A minimal Better Auth server for taskgraph: email+password sign-in and the jwt plugin.
//
//   node server.mjs                 migrate, then serve /api/auth/* on HOST:PORT
//   node server.mjs --migrate-only  migrate and exit
//
// Configuration is read from the environment; see README.md.
import http from "node:http";
import { toNodeHandler } from "better-auth/node";
import { getMigrations } from "better-auth/db/migration";
import { configFromEnv, createAuth } from "./auth.mjs";

// Any constant works; it only keeps several copies of this example from migrating at the same time.
const MIGRATION_LOCK = 7_245_199_301;

// Better Auth does not know our uuid column: PostgreSQL fills it on insert. taskgraph's first
// migration runs the same statement, so whichever side migrates first, the column is there.
const ADD_UUID = `ALTER TABLE "user" ADD COLUMN IF NOT EXISTS uuid uuid UNIQUE NOT NULL DEFAULT gen_random_uuid()`;

async function migrate(options, pool) {
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
  }
}

async function main() {
  const cfg = configFromEnv();
  const { auth, options, pool } = createAuth(cfg);
  await migrate(options, pool);
  if (process.argv.includes("--migrate-only")) {
    await pool.end();
    return;
  }

  const handler = toNodeHandler(auth);
  const server = http.createServer((req, res) => {
    if (req.url === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    handler(req, res);
  });
  server.listen(cfg.port, cfg.host, () => {
    const claim = cfg.uuidClaim ? `claim ${cfg.uuidClaim}` : "no uuid claim";
    const rot = cfg.rotationInterval ? `, key rotation every ${cfg.rotationInterval}s` : "";
    console.error(
      `better-auth: listening on http://${cfg.host}:${cfg.port} (base URL ${cfg.baseURL}, ` +
        `${cfg.alg}, JWTs for ${cfg.jwtExpiration}, ${claim}${rot})`,
    );
  });

  const stop = () => {
    server.close(() => pool.end().finally(() => process.exit(0)));
    server.closeAllConnections?.();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  console.error(`better-auth: ${err?.stack ?? err}`);
  process.exit(1);
});
