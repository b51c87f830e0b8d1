// Better Auth, as in its Next.js guide: email and password, the jwt plugin signing short-lived
// JWTs with the application user's UUID in the `uuid` claim (what taskgraph verifies), its tables
// in the same PostgreSQL as taskgraph's. Server only: the route handler app/api/auth/[...all].
import { betterAuth } from "better-auth";
import { nextCookies } from "better-auth/next-js";
import { jwt } from "better-auth/plugins";
import { Pool } from "pg";
import { authOptions } from "./auth-options";

const env = process.env;

function build() {
  const pool = new Pool({
    connectionString: env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
    max: 5,
  });

  return betterAuth({
    ...authOptions(env),
    database: pool,
    plugins: [
      jwt({
        jwt: {
          expirationTime: env.JWT_EXPIRATION || "15m",
          // definePayload replaces the default payload (the whole user row): name every claim.
          definePayload: async ({ user }) => {
            // Better Auth does not know the uuid column; PostgreSQL filled it on insert.
            const { rows } = await pool.query<{ uuid: string }>('SELECT uuid FROM "user" WHERE id = $1', [user.id]);
            const uuid = rows[0]?.uuid;
            if (!uuid) throw new Error('user has no uuid: run the migrations (npm run migrate)');
            return { uuid, email: user.email, name: user.name };
          },
        },
      }),
      nextCookies(), // last: lets server actions set the session cookie
    ],
  });
}

let instance: ReturnType<typeof build> | null = null;

/** The Better Auth instance, made on first use (not at build time, when there is no secret). */
export function getAuth() {
  instance ??= build();
  return instance;
}
