// The schema as tools get it from a running server: the standard introspection queries (graphql-js
// getIntrospectionQuery with its options, GraphiQL's), the SDL endpoint, and GraphQL Code Generator
// pointed at either URL, against `dev` and against `serve` with GRAPHQL_INTROSPECTION=true; and
// plain `serve`, which publishes neither.
//
// Processes: database taskgraph_schema_<random>; `taskgraph dev` ("dev"); `taskgraph serve` with
// GRAPHQL_INTROSPECTION=true ("serve-introspection") and without ("serve"), both trusting dev's
// built-in issuer as their Better Auth.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import {
  GraphQLSchema,
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  lexicographicSortSchema,
  printSchema,
  type IntrospectionOptions,
  type IntrospectionQuery,
} from "graphql";
import { serverAudits } from "graphql-http";
import { buildServer, createDatabase, finish, freePort, repoRoot, run, startDev, startServer, workDir } from "./harness.js";

const schemaFile = path.join(repoRoot, "schema.graphqls");
const sdl = readFileSync(schemaFile, "utf8");
const urqlClient = path.join(repoRoot, "examples", "urql-client");

/** Base URLs of the servers that publish their schema, and of the one that does not. */
const open: Record<string, string> = {};
let closed = "";
/** The token dev printed in its banner. */
let devToken = "";
let failed = false;
const drops: Array<() => Promise<void>> = [];

function step(name: string, fn: () => Promise<void>, timeout = 60_000): void {
  test(name, { timeout }, async () => {
    try {
      await fn();
    } catch (err) {
      failed = true;
      throw err;
    }
  });
}

before(
  async () => {
    try {
      const [db, bin, pDev, pOpen, pClosed] = await Promise.all([createDatabase("taskgraph_schema"), buildServer(), freePort(), freePort(), freePort()]);
      drops.push(db.drop);
      const dev = await startDev("dev", { bin, port: pDev, databaseURL: db.url });
      const [withIntrospection, without] = await Promise.all([
        startServer("serve-introspection", { bin, port: pOpen, databaseURL: db.url, betterAuthURL: dev.url, env: { GRAPHQL_INTROSPECTION: "true" } }),
        startServer("serve", { bin, port: pClosed, databaseURL: db.url, betterAuthURL: dev.url }),
      ]);
      open.dev = dev.url;
      devToken = /Authorization: Bearer ([A-Za-z0-9_.-]+)/.exec(dev.child.output())?.[1] ?? "";
      assert.ok(devToken, "dev printed a token");
      open["serve with GRAPHQL_INTROSPECTION=true"] = withIntrospection.url;
      closed = without.url;
    } catch (err) {
      failed = true;
      throw err;
    }
  },
  { timeout: 300_000 },
);

after(
  async () => {
    await finish(failed, drops);
  },
  { timeout: 60_000 },
);

async function post(base: string, query: string): Promise<{ status: number; body: { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> } }> {
  const res = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: (await res.json()) as never };
}

/** The schema as printSchema shows it, sorted, without directives (introspection carries no
 * directive usages, and a server's list of directive definitions is its own business). */
function normalise(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(new GraphQLSchema({ ...schema.toConfig(), directives: [] })));
}

const variants: Record<string, IntrospectionOptions> = {
  "getIntrospectionQuery()": {},
  "without descriptions": { descriptions: false },
  "every option": { descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true, oneOf: true },
  "GraphiQL 5's": { inputValueDeprecation: true, schemaDescription: true },
};

step("the standard introspection queries succeed and give back schema.graphqls", async () => {
  const want = normalise(buildSchema(sdl));
  assert.match(want, /type Task \{/);
  for (const [server, base] of Object.entries(open)) {
    for (const [name, options] of Object.entries(variants)) {
      const { status, body } = await post(base, getIntrospectionQuery(options));
      assert.equal(status, 200, `${server}, ${name}: ${JSON.stringify(body).slice(0, 300)}`);
      assert.equal(body.errors, undefined, `${server}, ${name}: ${JSON.stringify(body.errors)}`);
      const client = buildClientSchema(body.data as IntrospectionQuery);
      if (options.descriptions !== false) assert.equal(normalise(client), want, `${server}, ${name}`);
      else assert.match(normalise(client), /\n {2}tasks\(after: String, before: String, filter: TaskFilter, first: Int/);
    }
  }
});

step("GET /graphql/schema.graphql is schema.graphqls, @auth included", async () => {
  for (const [server, base] of Object.entries(open)) {
    const res = await fetch(`${base}/graphql/schema.graphql`);
    assert.equal(res.status, 200, server);
    assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(await res.text(), sdl, server);
  }
});

step("plain serve publishes no schema: 404, and introspection is INTROSPECTION_DISABLED", async () => {
  const res = await fetch(`${closed}/graphql/schema.graphql`);
  assert.equal(res.status, 404);
  const { status, body } = await post(closed, getIntrospectionQuery());
  assert.equal(status, 200); // a request error under application/json (GraphQL over HTTP)
  assert.equal(body.errors?.[0]?.extensions?.code, "INTROSPECTION_DISABLED");
  assert.equal("data" in body, false);
});

/** Runs the example's codegen.ts in a copy of the example with TASKGRAPH_SCHEMA=schema and
 * returns the generated files. */
async function codegen(schema: string): Promise<Record<string, string>> {
  const dir = mkdtempSync(path.join(workDir, "codegen-"));
  cpSync(path.join(urqlClient, "src"), path.join(dir, "src"), { recursive: true, filter: (p) => !p.includes(`${path.sep}gql`) });
  for (const f of ["codegen.ts", "package.json", "tsconfig.json"]) cpSync(path.join(urqlClient, f), path.join(dir, f));
  symlinkSync(path.join(urqlClient, "node_modules"), path.join(dir, "node_modules"));
  await run("codegen", path.join(urqlClient, "node_modules", ".bin", "graphql-codegen"), ["--config", "codegen.ts"], {
    cwd: dir,
    env: { TASKGRAPH_SCHEMA: schema },
    timeoutMs: 120_000,
  });
  const out: Record<string, string> = {};
  for (const f of readdirSync(path.join(dir, "src", "gql"))) out[f] = readFileSync(path.join(dir, "src", "gql", f), "utf8");
  return out;
}

step(
  "codegen pointed at a URL generates the same types as from the file",
  async () => {
    const fromFile = await codegen(schemaFile);
    assert.deepEqual(Object.keys(fromFile).sort(), ["fragment-masking.ts", "gql.ts", "graphql.ts", "index.ts", "persisted-documents.json"].filter((f) => f in fromFile).sort());
    assert.match(fromFile["graphql.ts"] ?? "", /export type TasksQuery = \{/);
    for (const url of [`${open.dev}/graphql/schema.graphql`, `${open.dev}/graphql`, `${open["serve with GRAPHQL_INTROSPECTION=true"]}/graphql`]) {
      assert.deepEqual(await codegen(url), fromFile, url);
    }
  },
  240_000,
);

/** The files docs/typed-client.md tells a reader to write: each block after a `<!-- recipe: NAME -->` line. */
function recipeFiles(): Record<string, string> {
  const doc = readFileSync(path.join(repoRoot, "docs", "typed-client.md"), "utf8");
  const files: Record<string, string> = {};
  for (const m of doc.matchAll(/<!-- recipe: (\S+) -->\n```\w*\n([\s\S]*?)```/g)) files[m[1]!] = m[2]!;
  return files;
}

step(
  "the typed-client recipe (docs/typed-client.md) works in an empty folder against a running server",
  async () => {
    const files = recipeFiles();
    assert.deepEqual(Object.keys(files).sort(), ["codegen.ts", "src/tasks.ts", "tsconfig.json"]);
    const dir = mkdtempSync(path.join(workDir, "recipe-"));
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), text);
    }
    // The packages the recipe installs, as examples/urql-client installed them.
    symlinkSync(path.join(urqlClient, "node_modules"), path.join(dir, "node_modules"));
    const bin = (name: string) => path.join(urqlClient, "node_modules", ".bin", name);
    // run throws, with the command's output, when it fails.
    await run("recipe codegen", bin("graphql-codegen"), ["--config", "codegen.ts"], { cwd: dir, env: { TASKGRAPH_SCHEMA: `${open.dev}/graphql/schema.graphql` } });
    await run("recipe tsc", bin("tsc"), ["-p", "."], { cwd: dir });
    // The manifest: "sha256:" + the hex sha256 of each document's text -> the text; the server's
    // persisted queries take the same hash.
    const manifest = JSON.parse(readFileSync(path.join(dir, "src", "gql", "persisted-documents.json"), "utf8")) as Record<string, string>;
    const entries = Object.entries(manifest);
    assert.equal(entries.length, 1);
    const [id, text] = entries[0]!;
    const hash = createHash("sha256").update(text).digest("hex");
    assert.equal(id, `sha256:${hash}`);
    const res = await fetch(`${open.dev}/graphql`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${devToken}` },
      body: JSON.stringify({ query: text, variables: { first: 1 }, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }),
    });
    const body = (await res.json()) as { data?: { tasks?: { totalCount: number } }; errors?: unknown };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(typeof body.data?.tasks?.totalCount, "number", JSON.stringify(body));
  },
  240_000,
);

step("graphql-http's server audit: 61 of 61 ok against serve with introspection, signed in and anonymous", async () => {
  const url = `${open["serve with GRAPHQL_INTROSPECTION=true"]}/graphql`;
  const signedIn: typeof fetch = (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${devToken}`);
    return fetch(input, { ...init, headers });
  };
  for (const [who, fetchFn] of [["anonymous", fetch], ["signed in", signedIn]] as const) {
    const results: string[] = [];
    let ok = 0;
    for (const audit of serverAudits({ url, fetchFn })) {
      const r = await audit.fn();
      if (r.status === "ok") ok++;
      else results.push(`${r.status} ${audit.id} ${audit.name}: ${r.reason}`);
    }
    assert.deepEqual(results, [], `${who}: not ok`);
    assert.equal(ok, 61, `${who}: ${ok} audits ok`);
  }
});
