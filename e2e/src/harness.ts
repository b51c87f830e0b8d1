// Starting and stopping the real things the suite runs against: a PostgreSQL database, the Go
// server built from this checkout, and Better Auth example servers. Every child is killed at the
// end, also when a test or the start-up fails.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, rmSync, type WriteStream } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const betterAuthDir = path.join(repoRoot, "examples", "better-auth");

/** The PostgreSQL server to create the suite's databases in (trust auth, user postgres). */
export const adminDatabaseURL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable";

export const workDir = mkdtempSync(path.join(tmpdir(), "taskgraph-e2e-"));

/** A child process whose output is kept (last lines in memory, all of it in a file). */
export class Child {
  readonly logFile: string;
  private readonly tail: string[] = [];
  private readonly log: WriteStream;
  private exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exitPromise: Promise<void>;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    this.logFile = path.join(workDir, `${name}.log`);
    this.log = createWriteStream(this.logFile);
    const keep = (chunk: Buffer) => {
      this.log.write(chunk);
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim() === "") continue;
        this.tail.push(line);
        if (this.tail.length > 60) this.tail.shift();
      }
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    this.exitPromise = new Promise((resolve) => {
      proc.on("exit", (code, signal) => {
        this.exited = { code, signal };
        resolve();
      });
      proc.on("error", (err) => {
        this.tail.push(`spawn error: ${err.message}`);
        this.exited = { code: -1, signal: null };
        resolve();
      });
    });
  }

  get hasExited(): boolean {
    return this.exited !== null;
  }

  output(): string {
    return this.tail.join("\n");
  }

  describeExit(): string {
    if (!this.exited) return "still running";
    return this.exited.signal ? `killed by ${this.exited.signal}` : `exited with code ${this.exited.code}`;
  }

  /** SIGTERM, then SIGKILL if it has not gone within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.exited) {
      this.proc.kill("SIGTERM");
      const timer = setTimeout(() => this.proc.kill("SIGKILL"), graceMs);
      await this.exitPromise;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => this.log.end(resolve));
  }

  waitExit(): Promise<void> {
    return this.exitPromise;
  }
}

const children = new Set<Child>();

// A last resort when the runner itself is torn down: never leave a server behind.
process.on("exit", () => {
  for (const c of children) if (!c.hasExited) c.proc.kill("SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    for (const c of children) if (!c.hasExited) c.proc.kill("SIGKILL");
    process.exit(130);
  });
}

export function start(name: string, command: string, args: string[], opts: { cwd: string; env: Record<string, string> }): Child {
  const proc = spawn(command, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const child = new Child(name, proc);
  children.add(child);
  return child;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => c.stop()));
}

export function allChildren(): Child[] {
  return [...children];
}

/** Runs a command to completion; throws with its output when it fails. */
export async function run(name: string, command: string, args: string[], opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<string> {
  const child = start(name, command, args, { cwd: opts.cwd, env: opts.env ?? {} });
  const timer = setTimeout(() => child.proc.kill("SIGKILL"), opts.timeoutMs ?? 180_000);
  await child.waitExit();
  clearTimeout(timer);
  await child.stop();
  if (child.proc.exitCode !== 0) {
    throw new Error(`${name} (${command} ${args.join(" ")}) ${child.describeExit()}:\n${child.output()}`);
  }
  return child.output();
}

/** Runs a command with `input` on its standard input; resolves with its exit code and output. */
export async function runWithInput(command: string, args: string[], opts: { cwd: string; env: Record<string, string>; input: string }): Promise<{ code: number | null; output: string }> {
  const proc = spawn(command, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ["pipe", "pipe", "pipe"] });
  const chunks: Buffer[] = [];
  proc.stdout.on("data", (c: Buffer) => chunks.push(c));
  proc.stderr.on("data", (c: Buffer) => chunks.push(c));
  proc.stdin.end(opts.input);
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    proc.on("error", reject);
    proc.on("close", resolve);
  });
  clearTimeout(timer);
  return { code, output: Buffer.concat(chunks).toString("utf8") };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers `status`; fails early with the child's output if it dies. */
export async function waitReady(child: Child, url: string, timeoutMs = 60_000, status = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (child.hasExited) {
      throw new Error(`${child.name} ${child.describeExit()} before it was ready (${url}); its output:\n${child.output()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      const body = await res.text();
      if (res.status === status) return;
      last = `${res.status} ${body.slice(0, 300)}`;
    } catch (err) {
      last = String((err as Error).cause ?? err);
    }
    await sleep(150);
  }
  throw new Error(`${child.name} not ready at ${url} after ${timeoutMs} ms (last: ${last}); its output:\n${child.output()}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A fresh database on the test server; drop() removes it even with connections left open. */
export async function createDatabase(prefix: string): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminDatabaseURL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminDatabaseURL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminDatabaseURL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Builds the Go server from the checkout (or uses TASKGRAPH_BIN) and returns the binary's path. */
export async function buildServer(): Promise<string> {
  if (process.env.TASKGRAPH_BIN) return path.resolve(process.env.TASKGRAPH_BIN);
  const bin = path.join(workDir, "taskgraph");
  await run("go-build", "go", ["build", "-o", bin, "."], { cwd: repoRoot, timeoutMs: 300_000 });
  return bin;
}

export interface BetterAuthOptions {
  port: number;
  databaseURL: string;
  secret: string;
  /** The public base URL (iss and aud of its tokens); default its own address. */
  baseURL?: string;
  env?: Record<string, string>;
}

export async function startBetterAuth(name: string, o: BetterAuthOptions): Promise<{ child: Child; url: string }> {
  const child = start(name, process.execPath, ["server.mjs"], {
    cwd: betterAuthDir,
    env: {
      PORT: String(o.port),
      HOST: "127.0.0.1",
      DATABASE_URL: o.databaseURL,
      BETTER_AUTH_SECRET: o.secret,
      BETTER_AUTH_URL: o.baseURL ?? `http://127.0.0.1:${o.port}`,
      ...o.env,
    },
  });
  const url = `http://127.0.0.1:${o.port}`;
  await waitReady(child, `${url}/api/auth/ok`);
  return { child, url };
}

export interface ServerOptions {
  bin: string;
  port: number;
  databaseURL: string;
  betterAuthURL: string;
  env?: Record<string, string>;
}

export async function startServer(name: string, o: ServerOptions): Promise<{ child: Child; url: string; graphql: string }> {
  const child = start(name, o.bin, ["serve"], {
    cwd: workDir,
    env: {
      ADDR: `127.0.0.1:${o.port}`,
      DATABASE_URL: o.databaseURL,
      BETTER_AUTH_URL: o.betterAuthURL,
      METRICS_PUBLIC: "true", // the suite reads /metrics (off the API's address by default)
      ...o.env,
    },
  });
  const url = `http://127.0.0.1:${o.port}`;
  await waitReady(child, `${url}/readyz`);
  return { child, url, graphql: `${url}/graphql` };
}

export function removeWorkDir(): void {
  rmSync(workDir, { recursive: true, force: true });
}

/** Starts `taskgraph dev` (its own issuer, GraphiQL, introspection) on a free loopback port. */
export async function startDev(name: string, o: { bin: string; port: number; databaseURL: string; env?: Record<string, string> }): Promise<{ child: Child; url: string; graphql: string }> {
  const child = start(name, o.bin, ["dev"], {
    cwd: workDir,
    // The signing key in the work folder, not the user's configuration folder.
    env: { ADDR: `127.0.0.1:${o.port}`, DATABASE_URL: o.databaseURL, DEV_KEY_FILE: path.join(workDir, `${name}-key.pem`), ...o.env },
  });
  const url = `http://127.0.0.1:${o.port}`;
  await waitReady(child, `${url}/readyz`);
  return { child, url, graphql: `${url}/graphql` };
}

/** The end of a suite: stops every child, prints their last lines if the suite failed (keeping
 * the work folder with their full logs), and drops its databases. */
export async function finish(failed: boolean, drops: Array<() => Promise<void>>): Promise<void> {
  await stopAll();
  if (failed) {
    for (const c of allChildren()) {
      console.error(`\n----- ${c.name} (${c.describeExit()}), last lines of ${c.logFile} -----\n${c.output()}`);
    }
  }
  for (const drop of drops) await drop().catch((err) => console.error(`drop database: ${err}`));
  if (!failed) removeWorkDir();
}
