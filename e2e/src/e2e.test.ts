// The bridge, end to end: users sign up on a real Better Auth, get JWTs from its real token
// endpoint, and use the real taskgraph server through the typed urql client.
//
// Processes (all on free 127.0.0.1 ports, killed at the end; see README.md):
//   main database: taskgraph migrate; Better Auth "ba-main" (uuid claim, 15m tokens); two more
//     Better Auth servers on the same database, secret and public URL, i.e. replicas of ba-main
//     with other settings: "ba-short" (tokens live 2s) and "ba-nouuid" (no uuid claim); taskgraph
//     "api" trusting ba-main's URL (AUTH_CLOCK_SKEW=1s so the expiry test is quick); taskgraph
//     "api-wrongaud" with AUTH_AUDIENCE set to something else; "api-live", a second replica of
//     "api" (same settings, same database), where the live-update scenarios subscribe.
//   rotation database: Better Auth "ba-rot" (migrates first here, RS256 keys rotated every 3s)
//     and taskgraph "api-rot" trusting it with AUTH_ALGORITHMS=RS256.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { after, before, test } from "node:test";
import { WebSocket } from "ws";
import {
  betterAuthToken,
  createCookieFetch,
  createSubscriptionClient,
  createTagMutation,
  createTaskMutation,
  createTaskgraphAuthClient,
  createTaskgraphClient,
  deleteTagMutation,
  deleteTaskMutation,
  meQuery,
  tagEventsSubscription,
  taskEventsSubscription,
  tagQuery,
  tagsQuery,
  taskQuery,
  tasksQuery,
  updateTagMutation,
  updateTaskMutation,
  type Client,
  type CombinedError,
  type GetToken,
  type TaskFilter,
  type TaskOrder,
  type TasksQueryVariables,
  type TaskgraphAuthClient,
  type WsClient,
} from "../../examples/urql-client/dist/index.js";
import {
  buildServer,
  createDatabase,
  finish,
  freePort,
  repoRoot,
  run,
  runWithInput,
  sleep,
  startBetterAuth,
  startServer,
  workDir,
} from "./harness.js";

interface Env {
  bin: string;
  mainDatabaseURL: string;
  api: string; // taskgraph GraphQL URL
  liveAPI: string; // a second replica of api
  liveBase: string; // its base URL (/metrics)
  wrongAudAPI: string;
  rotAPI: string;
  trustedAPI: string; // api with TRUSTED_DOCUMENTS: the urql client's manifest, enforced
  mainURL: string; // Better Auth public URL (iss, aud)
  shortURL: string;
  noUUIDURL: string;
  rotURL: string;
  drops: Array<() => Promise<void>>;
}

const env: Env = { bin: "", mainDatabaseURL: "", api: "", liveAPI: "", liveBase: "", wrongAudAPI: "", rotAPI: "", trustedAPI: "", mainURL: "", shortURL: "", noUUIDURL: "", rotURL: "", drops: [] };
let failed = false;
const timings: string[] = [];

/** Wraps a test body so that a failure prints the children's output at the end. */
function step(name: string, fn: () => Promise<void>, timeout = 60_000): void {
  test(name, { timeout }, async () => {
    const t0 = Date.now();
    try {
      await fn();
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      timings.push(`${name}: ${Date.now() - t0} ms`);
    }
  });
}

before(
  async () => {
    const t0 = Date.now();
    const secret = randomBytes(32).toString("hex");
    try {
      const [main, rot, bin] = await Promise.all([
        createDatabase("taskgraph_e2e"),
        createDatabase("taskgraph_e2e_rot"),
        buildServer(),
      ]);
      env.drops.push(main.drop, rot.drop);
      env.bin = bin;
      env.mainDatabaseURL = main.url;
      timings.push(`setup: databases and go build: ${Date.now() - t0} ms`);

      // Main database: our migrations first (they create "user" with its uuid), then Better Auth's.
      await run("migrate", bin, ["migrate"], { cwd: workDir, env: { DATABASE_URL: main.url } });
      timings.push(`setup: taskgraph migrate: ${Date.now() - t0} ms`);
      const [pMain, pShort, pNoUUID, pRot, pAPI, pWrong, pRotAPI, pLive, pTrusted] = await Promise.all(
        Array.from({ length: 9 }, () => freePort()),
      );
      env.mainURL = `http://127.0.0.1:${pMain}`;
      // All four at once: the example takes an advisory lock around its migrations.
      const replicas = { databaseURL: main.url, secret, baseURL: env.mainURL };
      const [, short, nouuid, rotBA] = await Promise.all([
        startBetterAuth("ba-main", { port: pMain!, databaseURL: main.url, secret }),
        startBetterAuth("ba-short", { ...replicas, port: pShort!, env: { JWT_EXPIRATION: "2s" } }),
        startBetterAuth("ba-nouuid", { ...replicas, port: pNoUUID!, env: { UUID_CLAIM: "off" } }),
        // Rotation database: Better Auth migrates first, taskgraph's serve migrates after it.
        startBetterAuth("ba-rot", {
          port: pRot!,
          databaseURL: rot.url,
          secret,
          env: { JWT_ALG: "RS256", JWKS_ROTATION_INTERVAL: "3", JWKS_GRACE_PERIOD: "600" },
        }),
      ]);
      timings.push(`setup: Better Auth servers ready: ${Date.now() - t0} ms`);
      env.shortURL = short.url;
      env.noUUIDURL = nouuid.url;
      env.rotURL = rotBA.url;

      const apiSettings = { bin, databaseURL: main.url, betterAuthURL: env.mainURL, env: { AUTH_CLOCK_SKEW: "1s" } };
      const manifest = path.join(repoRoot, "examples", "urql-client", "src", "gql", "persisted-documents.json");
      const [api, live, wrong, rotAPI, trusted] = await Promise.all([
        startServer("api", { ...apiSettings, port: pAPI! }),
        startServer("api-live", { ...apiSettings, port: pLive! }),
        startServer("api-wrongaud", {
          bin,
          port: pWrong!,
          databaseURL: main.url,
          betterAuthURL: env.mainURL,
          env: { AUTH_AUDIENCE: "https://api.example.invalid" },
        }),
        startServer("api-rot", {
          bin,
          port: pRotAPI!,
          databaseURL: rot.url,
          betterAuthURL: env.rotURL,
          env: { AUTH_ALGORITHMS: "RS256" },
        }),
        startServer("api-trusted", { ...apiSettings, port: pTrusted!, env: { ...apiSettings.env, TRUSTED_DOCUMENTS: manifest } }),
      ]);
      env.api = api.graphql;
      env.liveAPI = live.graphql;
      env.liveBase = live.url;
      env.wrongAudAPI = wrong.graphql;
      env.rotAPI = rotAPI.graphql;
      env.trustedAPI = trusted.graphql;
      timings.push(`setup: all servers ready: ${Date.now() - t0} ms`);
    } catch (err) {
      failed = true;
      throw err;
    }
  },
  { timeout: 360_000 },
);

after(
  async () => {
    await finish(failed, env.drops);
    console.error(`\ntimings:\n  ${timings.join("\n  ")}`);
  },
  { timeout: 60_000 },
);

// ---------------------------------------------------------------------------------------------
// Helpers

interface User {
  email: string;
  authClient: TaskgraphAuthClient;
  /** The cookies Better Auth set (the session cookie): another replica accepts them too. */
  cookies: Map<string, string>;
  getToken: GetToken;
  sessionToken: string;
  client: Client;
}

async function signUp(baseURL: string, name: string, api: string): Promise<User> {
  const email = `${name.toLowerCase()}-${randomBytes(3).toString("hex")}@example.com`;
  const fetchWithCookies = createCookieFetch();
  const authClient = createTaskgraphAuthClient({ baseURL, fetch: fetchWithCookies });
  const res = await authClient.signUp.email({ email, password: "correct horse battery staple", name });
  assert.equal(res.error, null, `sign-up ${email}: ${JSON.stringify(res.error)}`);
  assert.ok(fetchWithCookies.cookies.has("better-auth.session_token"), "sign-up sets the session cookie");
  const getToken = betterAuthToken(authClient);
  return {
    email,
    authClient,
    cookies: fetchWithCookies.cookies,
    getToken,
    sessionToken: res.data!.token!,
    client: createTaskgraphClient({ url: api, getToken }),
  };
}

/** The same signed-in user's tokens from another Better Auth server (same session cookie). */
function tokenFrom(user: User, baseURL: string): GetToken {
  const fetchWithCookies = createCookieFetch();
  for (const [k, v] of user.cookies) fetchWithCookies.cookies.set(k, v);
  return betterAuthToken(createTaskgraphAuthClient({ baseURL, fetch: fetchWithCookies }));
}

function decode(jwt: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = jwt.split(".");
  return {
    header: JSON.parse(Buffer.from(h!, "base64url").toString()),
    payload: JSON.parse(Buffer.from(p!, "base64url").toString()),
  };
}

function codeOf(error: CombinedError | undefined): unknown {
  return error?.graphQLErrors[0]?.extensions?.["code"];
}

/** Sends one GraphQL request by hand, to look at statuses and headers the client hides. */
async function raw(url: string, query: string, token?: string, variables?: Record<string, unknown>) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token !== undefined) headers["authorization"] = `Bearer ${token}`;
  const res = await fetch(url, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  let body: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`not JSON (${res.status}): ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, body };
}

/** A fetch that counts the HTTP statuses the client meets. */
function countingFetch() {
  const statuses: number[] = [];
  const f = async (input: RequestInfo | URL, init?: RequestInit) => {
    const res = await fetch(input, init);
    statuses.push(res.status);
    return res;
  };
  return { fetch: f as typeof fetch, statuses };
}

function countingGetToken(inner: GetToken, first?: string) {
  let calls = 0;
  const getToken: GetToken = async () => {
    calls++;
    if (calls === 1 && first !== undefined) return first;
    return inner();
  };
  return { getToken, calls: () => calls };
}

// ---------------------------------------------------------------------------------------------
// Scenarios (they run in order and build on each other's users and data)

let alice: User;
let bob: User;
let aliceUUID = "";

step("two users sign up through Better Auth's HTTP API and get JWTs from its token endpoint", async () => {
  alice = await signUp(env.mainURL, "Alice", env.api);
  bob = await signUp(env.mainURL, "Bob", env.api);

  const jwt = await alice.getToken();
  assert.ok(jwt, "GET /api/auth/token returns a token");
  const { header, payload } = decode(jwt);
  assert.equal(header["alg"], "EdDSA");
  assert.equal(typeof header["kid"], "string");
  assert.equal(payload["iss"], env.mainURL);
  assert.equal(payload["aud"], env.mainURL);
  assert.equal(payload["email"], alice.email);
  assert.match(String(payload["uuid"]), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  aliceUUID = String(payload["uuid"]);

  const me = await alice.client.query(meQuery, {}).toPromise();
  assert.equal(me.error, undefined, me.error?.message);
  assert.equal(me.data?.me.uuid, aliceUUID);
  assert.equal(me.data?.me.id, payload["sub"], "me.id is Better Auth's user id (sub)");
  assert.equal(me.data?.me.email, alice.email);
  assert.equal(me.data?.me.name, "Alice");

  const bobMe = await bob.client.query(meQuery, {}).toPromise();
  assert.equal(bobMe.error, undefined, bobMe.error?.message);
  assert.notEqual(bobMe.data?.me.uuid, aliceUUID);
});

step("the session token is not a JWT: taskgraph refuses it with 401", async () => {
  assert.equal(alice.sessionToken.split(".").length === 3, false, "Better Auth's session token is opaque");
  const res = await raw(env.api, "{ me { email } }", alice.sessionToken);
  assert.equal(res.status, 401);
  assert.equal(res.body.errors?.[0]?.extensions?.["code"], "UNAUTHENTICATED");
  assert.equal(res.body.errors?.[0]?.extensions?.["reason"], "malformed_token");
  assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer .*error="invalid_token"/i);
});

step("no token: @auth fields answer UNAUTHENTICATED with HTTP 200", async () => {
  const res = await raw(env.api, "{ me { email } }");
  assert.equal(res.status, 200);
  assert.equal(res.body.errors?.[0]?.extensions?.["code"], "UNAUTHENTICATED");
});

step("a signed-out client gets UNAUTHENTICATED after one token attempt, without looping", async () => {
  const counted = countingGetToken(async () => null);
  const http = countingFetch();
  const client = createTaskgraphClient({ url: env.api, getToken: counted.getToken, fetch: http.fetch });
  const me = await client.query(meQuery, {}).toPromise();
  assert.equal(codeOf(me.error), "UNAUTHENTICATED");
  assert.deepEqual(http.statuses, [200]);
  assert.ok(counted.calls() <= 2, `getToken called ${counted.calls()} times`);
});

step("CORS: a page on Better Auth's origin may send Authorization; another origin may not", async () => {
  const preflight = (origin: string) =>
    fetch(env.api, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
  const ok = await preflight(env.mainURL);
  assert.ok(ok.status >= 200 && ok.status < 300, `preflight status ${ok.status}`);
  assert.equal(ok.headers.get("access-control-allow-origin"), env.mainURL);
  assert.match(ok.headers.get("access-control-allow-headers") ?? "", /authorization/i);
  const other = await preflight("https://evil.example");
  assert.equal(other.headers.get("access-control-allow-origin"), null);
});

interface Seeded {
  tags: { work: string; home: string; urgent: string };
  taskIds: string[];
}
const seeded = new Map<string, Seeded>();

async function seed(user: User, label: string): Promise<Seeded> {
  const c = user.client;
  const work = await c.mutation(createTagMutation, { input: { name: "Work", color: "#ABC" } }).toPromise();
  assert.equal(work.error, undefined, work.error?.message);
  assert.equal(work.data?.createTag.color, "#aabbcc", "#rgb is stored as lowercase #rrggbb");
  const home = await c.mutation(createTagMutation, { input: { name: "  home  " } }).toPromise();
  assert.equal(home.error, undefined, home.error?.message);
  assert.equal(home.data?.createTag.name, "home", "names are trimmed");
  assert.equal(home.data?.createTag.color, null, "a tag without a colour has none");
  const urgent = await c.mutation(createTagMutation, { input: { name: "urgent", color: "#FF0000" } }).toPromise();
  assert.equal(urgent.error, undefined, urgent.error?.message);
  const dup = await c.mutation(createTagMutation, { input: { name: "WORK" } }).toPromise();
  assert.equal(codeOf(dup.error), "CONFLICT", "tag names are unique per user, case-insensitively");

  const tags = { work: work.data!.createTag.id, home: home.data!.createTag.id, urgent: urgent.data!.createTag.id };
  const specs = [
    { title: `${label} 1 write report`, priority: "HIGH", dueAt: "2026-03-01T10:00:00+05:00", tagIds: [tags.work] },
    { title: `${label} 2 buy milk`, priority: "LOW", dueAt: "2026-03-02T08:30:00-08:00", tagIds: [tags.home] },
    { title: `${label} 3 fix the roof`, priority: "URGENT", tagIds: [tags.home, tags.urgent] },
    { title: `${label} 4 plan sprint`, description: "with the team", tagIds: [tags.work, tags.urgent] },
    { title: `${label} 5 call mum`, priority: "MEDIUM", completed: true, tagIds: [tags.home] },
    { title: `${label} 6 tidy desk`, tagIds: [] as string[] },
    { title: `${label} 7 expenses`, priority: "HIGH", dueAt: "2026-02-28T23:00:00Z", tagIds: [tags.work] },
  ] as const;
  const taskIds: string[] = [];
  for (const s of specs) {
    const r = await c.mutation(createTaskMutation, { input: { ...s, tagIds: [...s.tagIds] } }).toPromise();
    assert.equal(r.error, undefined, `${s.title}: ${r.error?.message}`);
    taskIds.push(r.data!.createTask.id);
  }
  return { tags, taskIds };
}

step("each user creates tags (with and without colour) and tasks (tags, priorities, offset due dates)", async () => {
  seeded.set("alice", await seed(alice, "A"));
  seeded.set("bob", await seed(bob, "B"));

  const a = seeded.get("alice")!;
  const first = await alice.client.query(taskQuery, { id: a.taskIds[0]! }).toPromise();
  assert.equal(first.error, undefined, first.error?.message);
  const t = first.data?.task;
  assert.ok(t);
  assert.equal(t.dueAt, "2026-03-01T05:00:00Z", "a +05:00 due date comes back in UTC");
  assert.equal(t.priority, "HIGH");
  assert.equal(t.completed, false);
  assert.equal(t.completedAt, null);
  assert.deepEqual(t.tags.map((x) => x.name), ["Work"]);
  const done = await alice.client.query(taskQuery, { id: a.taskIds[4]! }).toPromise();
  assert.equal(done.data?.task?.completed, true);
  assert.match(done.data?.task?.completedAt ?? "", /Z$/, "completedAt is set, in UTC");

  const tags = await alice.client.query(tagsQuery, {}).toPromise();
  assert.equal(tags.error, undefined, tags.error?.message);
  assert.deepEqual(tags.data?.tags.map((x) => x.name).sort(), ["Work", "home", "urgent"]);
});

async function walk(client: Client, order: TaskOrder, filter: TaskFilter | undefined, pageSize: number, backward = false) {
  const ids: string[] = [];
  let cursor: string | null = null;
  let total = -1;
  for (let pages = 0; pages < 50; pages++) {
    const vars: TasksQueryVariables = backward
      ? { last: pageSize, before: cursor, orderBy: order, filter }
      : { first: pageSize, after: cursor, orderBy: order, filter };
    const r = await client.query(tasksQuery, vars).toPromise();
    assert.equal(r.error, undefined, r.error?.message);
    const conn = r.data!.tasks;
    total = conn.totalCount;
    const pageIds = conn.edges.map((e) => e.node.id);
    if (backward) ids.unshift(...pageIds);
    else ids.push(...pageIds);
    const more = backward ? conn.pageInfo.hasPreviousPage : conn.pageInfo.hasNextPage;
    if (!more) return { ids, total };
    cursor = backward ? conn.pageInfo.startCursor ?? null : conn.pageInfo.endCursor ?? null;
    assert.ok(cursor, "a page with more after it has a cursor");
  }
  throw new Error("pagination did not end");
}

step("pages through tasks with cursors, forward and backward, in several orders", async () => {
  const all = seeded.get("alice")!.taskIds;
  for (const order of [
    { field: "CREATED_AT", direction: "DESC" },
    { field: "PRIORITY", direction: "DESC" },
    { field: "DUE_AT", direction: "ASC" },
    { field: "TITLE", direction: "ASC" },
  ] as const) {
    const fwd = await walk(alice.client, order, undefined, 3);
    assert.equal(fwd.total, all.length, `totalCount for ${order.field}`);
    assert.equal(fwd.ids.length, all.length, `${order.field} ${order.direction}: every task once`);
    assert.equal(new Set(fwd.ids).size, all.length, "no duplicates");
    assert.deepEqual(new Set(fwd.ids), new Set(all));
    const back = await walk(alice.client, order, undefined, 2, true);
    assert.deepEqual(back.ids, fwd.ids, `${order.field} ${order.direction}: backward walk gives the same order`);
  }
  const byCreated = await walk(alice.client, { field: "CREATED_AT", direction: "ASC" }, undefined, 4);
  assert.deepEqual(byCreated.ids, all, "CREATED_AT ASC is creation order");
  const byTitle = await walk(alice.client, { field: "TITLE", direction: "ASC" }, undefined, 10);
  assert.deepEqual(byTitle.ids, all, "TITLE ASC ('A 1 ...' to 'A 7 ...')");
  const byDue = await walk(alice.client, { field: "DUE_AT", direction: "ASC" }, undefined, 3);
  assert.deepEqual(byDue.ids.slice(0, 3), [all[6], all[0], all[1]], "due dates compare in UTC, NULLs last");

  const bad = await alice.client.query(tasksQuery, { first: 2, after: "not-a-cursor" }).toPromise();
  assert.equal(codeOf(bad.error), "BAD_USER_INPUT", "a malformed cursor");
  const tooMany = await alice.client.query(tasksQuery, { first: 101 }).toPromise();
  assert.equal(codeOf(tooMany.error), "BAD_USER_INPUT", "first > 100");
});

step("filters by tag (ANY, ALL), completion, priority, search and due range", async () => {
  const { tags, taskIds: ids } = seeded.get("alice")!;
  const q = async (filter: TaskFilter) => (await walk(alice.client, { field: "CREATED_AT", direction: "ASC" }, filter, 100)).ids;
  assert.deepEqual(await q({ tagIds: [tags.work] }), [ids[0], ids[3], ids[6]]);
  assert.deepEqual(await q({ tagIds: [tags.home, tags.urgent], tagMatch: "ANY" }), [ids[1], ids[2], ids[3], ids[4]]);
  assert.deepEqual(await q({ tagIds: [tags.home, tags.urgent], tagMatch: "ALL" }), [ids[2]]);
  assert.deepEqual(await q({ completed: true }), [ids[4]]);
  assert.equal((await q({ completed: false })).length, 6);
  assert.deepEqual(await q({ priorities: ["HIGH", "URGENT"] }), [ids[0], ids[2], ids[6]]);
  assert.deepEqual(await q({ search: "WITH THE" }), [ids[3]], "search matches the description, case-insensitively");
  assert.deepEqual(
    await q({ dueAfter: "2026-03-01T09:00:00+05:00", dueBefore: "2026-03-02T00:00:00Z" }),
    [ids[0]],
    "due range in mixed offsets; tasks without due dates excluded",
  );
  const counted = await alice.client.query(tasksQuery, { first: 1, filter: { tagIds: [tags.home] } }).toPromise();
  assert.equal(counted.data?.tasks.totalCount, 3);
  assert.equal(counted.data?.tasks.edges.length, 1);
});

step("updates with patch semantics and deletes", async () => {
  const { tags, taskIds: ids } = seeded.get("alice")!;
  const c = alice.client;
  const id = ids[3]!; // "A 4 plan sprint", description "with the team", tags work+urgent
  const before = (await c.query(taskQuery, { id }).toPromise()).data!.task!;

  const done = await c.mutation(updateTaskMutation, { id, input: { completed: true } }).toPromise();
  assert.equal(done.error, undefined, done.error?.message);
  const t1 = done.data!.updateTask;
  assert.equal(t1.completed, true);
  assert.ok(t1.completedAt, "completed: true sets completedAt");
  assert.equal(t1.title, before.title, "an omitted field is unchanged");
  assert.equal(t1.description, "with the team");
  assert.deepEqual(t1.tags.map((x) => x.id).sort(), [tags.work, tags.urgent].sort());
  assert.ok(Date.parse(t1.updatedAt) > Date.parse(before.updatedAt), "updatedAt moves");

  const cleared = await c
    .mutation(updateTaskMutation, { id, input: { description: null, priority: "LOW", dueAt: "2026-04-01T12:00:00+02:00", tagIds: [tags.home] } })
    .toPromise();
  assert.equal(cleared.error, undefined, cleared.error?.message);
  const t2 = cleared.data!.updateTask;
  assert.equal(t2.description, null, "explicit null clears");
  assert.equal(t2.priority, "LOW");
  assert.equal(t2.dueAt, "2026-04-01T10:00:00Z");
  assert.deepEqual(t2.tags.map((x) => x.id), [tags.home], "tagIds replaces the set");
  assert.equal(t2.completed, true, "still completed");

  const reopened = await c.mutation(updateTaskMutation, { id, input: { completed: false, dueAt: null } }).toPromise();
  assert.equal(reopened.data?.updateTask.completedAt, null, "completed: false clears completedAt");
  assert.equal(reopened.data?.updateTask.dueAt, null);

  const blank = await c.mutation(updateTaskMutation, { id, input: { title: "   " } }).toPromise();
  assert.equal(codeOf(blank.error), "BAD_USER_INPUT", "a blank title");
  assert.equal(blank.error?.graphQLErrors[0]?.extensions?.["field"], "title");
  const offsetless = await c.mutation(updateTaskMutation, { id, input: { dueAt: "2026-04-01T12:00:00" } }).toPromise();
  assert.equal(codeOf(offsetless.error), "BAD_USER_INPUT", "a due date without an offset");

  const renamed = await c.mutation(updateTagMutation, { id: tags.home, input: { color: "#00FF00" } }).toPromise();
  assert.equal(renamed.error, undefined, renamed.error?.message);
  assert.equal(renamed.data?.updateTag.name, "home");
  assert.equal(renamed.data?.updateTag.color, "#00ff00");

  const del = await c.mutation(deleteTaskMutation, { id: ids[5]! }).toPromise();
  assert.equal(del.error, undefined, del.error?.message);
  assert.equal(del.data?.deleteTask, ids[5]);
  assert.equal((await c.query(taskQuery, { id: ids[5]! }).toPromise()).data?.task, null);
  const again = await c.mutation(deleteTaskMutation, { id: ids[5]! }).toPromise();
  assert.equal(codeOf(again.error), "NOT_FOUND");

  const delTag = await c.mutation(deleteTagMutation, { id: tags.urgent }).toPromise();
  assert.equal(delTag.error, undefined, delTag.error?.message);
  const roof = await c.query(taskQuery, { id: ids[2]! }).toPromise();
  assert.deepEqual(roof.data?.task?.tags.map((x) => x.id), [tags.home], "a deleted tag leaves its tasks");
  const notUUID = await c.query(taskQuery, { id: "42" }).toPromise();
  assert.equal(codeOf(notUUID.error), "BAD_USER_INPUT", "an ID that is not a UUID");
});

step("isolation: each user sees only their own; the other's IDs behave as nonexistent", async () => {
  const a = seeded.get("alice")!;
  const b = seeded.get("bob")!;
  const aliceTask = a.taskIds[0]!;
  const aliceTag = a.tags.work;
  const random = "00000000-0000-4000-8000-000000000000";
  const snapshot = JSON.stringify((await alice.client.query(taskQuery, { id: aliceTask }).toPromise()).data);

  const bobAll = await walk(bob.client, { field: "CREATED_AT", direction: "ASC" }, undefined, 100);
  assert.deepEqual(bobAll.ids, b.taskIds, "Bob sees exactly his tasks");
  const bobTags = await bob.client.query(tagsQuery, {}).toPromise();
  assert.deepEqual(new Set(bobTags.data?.tags.map((t) => t.id)), new Set(Object.values(b.tags)));

  for (const id of [aliceTask, random]) {
    const task = await bob.client.query(taskQuery, { id }).toPromise();
    assert.equal(task.error, undefined);
    assert.equal(task.data?.task, null, `task(${id === random ? "random" : "Alice's"}) is null`);
    const upd = await bob.client.mutation(updateTaskMutation, { id, input: { title: "mine now" } }).toPromise();
    assert.equal(codeOf(upd.error), "NOT_FOUND");
    const del = await bob.client.mutation(deleteTaskMutation, { id }).toPromise();
    assert.equal(codeOf(del.error), "NOT_FOUND");
  }
  for (const id of [aliceTag, random]) {
    assert.equal((await bob.client.query(tagQuery, { id }).toPromise()).data?.tag, null);
    const upd = await bob.client.mutation(updateTagMutation, { id, input: { name: "x" } }).toPromise();
    assert.equal(codeOf(upd.error), "NOT_FOUND");
    const del = await bob.client.mutation(deleteTagMutation, { id }).toPromise();
    assert.equal(codeOf(del.error), "NOT_FOUND");
    const create = await bob.client.mutation(createTaskMutation, { input: { title: "steal a tag", tagIds: [id] } }).toPromise();
    assert.equal(codeOf(create.error), "NOT_FOUND", "another user's tag in createTask");
    const retag = await bob.client.mutation(updateTaskMutation, { id: b.taskIds[0]!, input: { tagIds: [id] } }).toPromise();
    assert.equal(codeOf(retag.error), "NOT_FOUND", "another user's tag in updateTask");
  }
  const byAliceTag = await bob.client.query(tasksQuery, { first: 10, filter: { tagIds: [aliceTag] } }).toPromise();
  assert.equal(byAliceTag.data?.tasks.totalCount ?? 0, 0, "filtering by Alice's tag finds nothing of Alice's");
  const aliceCursor = (await alice.client.query(tasksQuery, { first: 1 }).toPromise()).data!.tasks.pageInfo.endCursor!;
  const withCursor = await bob.client.query(tasksQuery, { first: 5, after: aliceCursor }).toPromise();
  for (const e of withCursor.data?.tasks.edges ?? []) assert.ok(b.taskIds.includes(e.node.id), "Alice's cursor shows Bob nothing of hers");

  const after = JSON.stringify((await alice.client.query(taskQuery, { id: aliceTask }).toPromise()).data);
  assert.equal(after, snapshot, "Alice's task is unchanged");
  const stillBob = await walk(bob.client, { field: "CREATED_AT", direction: "ASC" }, undefined, 100);
  assert.deepEqual(stillBob.ids, b.taskIds, "Bob created nothing with Alice's tags");
});

let expiredToken = "";

// ---------------------------------------------------------------------------------------------
// Live updates: subscriptions over graphql-ws on one replica, mutations through the other.

/** The open subscriptions api-live reports (so a test mutates only once its subscribers listen). */
async function openSubscriptions(): Promise<number> {
  const text = await (await fetch(`${env.liveBase}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("taskgraph_subscriptions_open "));
  return line ? Number(line.split(" ")[1]) : -1;
}

/**
 * settled waits until api-live has as many open subscriptions as a step found (its listeners'
 * sockets close asynchronously): the next step's count starts from there, not from subscriptions
 * still closing.
 */
async function settled(before: number): Promise<void> {
  await until("api-live's subscriptions back to the step's start", async () => (await openSubscriptions()) === before);
}

async function until(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface Heard {
  kind: string;
  id: string;
  title?: string;
  tagIds?: string[];
}

/**
 * A user's subscriptions to both fields on api-live, through the urql client over graphql-ws.
 * socketToken is what the socket's connection_init sends (default: getToken, which the HTTP
 * client's auth exchange uses).
 */
function listen(user: User, getToken: GetToken = user.getToken, socketToken: GetToken = getToken) {
  const closes: Array<{ code: number; reason: string }> = [];
  let connects = 0;
  const ws: WsClient = createSubscriptionClient({
    url: env.liveAPI.replace(/^http/, "ws"),
    getToken: socketToken,
    webSocketImpl: WebSocket,
    options: {
      on: {
        connected: () => void connects++,
        closed: (e) => void closes.push({ code: (e as { code: number }).code, reason: (e as { reason: string }).reason }),
      },
      retryWait: async () => sleep(200),
    },
  });
  const client = createTaskgraphClient({ url: env.api, getToken, subscriptions: ws });
  const tasks: Heard[] = [];
  const tags: Heard[] = [];
  const errors: unknown[] = [];
  const subs = [
    client.subscription(taskEventsSubscription, {}).subscribe((r) => {
      if (r.error) return void errors.push(r.error);
      const e = r.data!.taskEvents;
      tasks.push({ kind: e.kind, id: e.id, ...(e.task ? { title: e.task.title, tagIds: e.task.tags.map((t) => t.id) } : {}) });
    }),
    client.subscription(tagEventsSubscription, {}).subscribe((r) => {
      if (r.error) return void errors.push(r.error);
      const e = r.data!.tagEvents;
      tags.push({ kind: e.kind, id: e.id, ...(e.tag ? { title: e.tag.name } : {}) });
    }),
  ];
  return {
    tasks,
    tags,
    errors,
    closes,
    connects: () => connects,
    stop: async () => {
      for (const s of subs) s.unsubscribe();
      await ws.dispose();
    },
  };
}

step("live updates: two users subscribed on one replica, mutating through another, each hear exactly their own", async () => {
  const before = await openSubscriptions();
  const ears = { alice: listen(alice), bob: listen(bob) };
  await until("four subscriptions on api-live", async () => (await openSubscriptions()) === before + 4);
  try {
    // Both users' changes, interleaved, through api (the other replica).
    const want = { alice: { tasks: [] as Heard[], tags: [] as Heard[] }, bob: { tasks: [] as Heard[], tags: [] as Heard[] } };
    // Each change waits for its events before the next (an event shows the row as loaded after
    // the commit); the two users run at the same time.
    const run = async (name: "alice" | "bob", user: User) => {
      const c = user.client;
      const w = want[name];
      const ear = ears[name];
      const heard = () => until(`${name}'s events`, () => ear.tasks.length >= w.tasks.length && ear.tags.length >= w.tags.length);
      const tag = (await c.mutation(createTagMutation, { input: { name: `live ${name}` } }).toPromise()).data!.createTag;
      w.tags.push({ kind: "CREATED", id: tag.id, title: `live ${name}` });
      await heard();
      const task = (await c.mutation(createTaskMutation, { input: { title: `${name} live`, tagIds: [tag.id] } }).toPromise()).data!.createTask;
      w.tasks.push({ kind: "CREATED", id: task.id, title: `${name} live`, tagIds: [tag.id] });
      await heard();
      await c.mutation(updateTaskMutation, { id: task.id, input: { title: `${name} live 2` } }).toPromise();
      w.tasks.push({ kind: "UPDATED", id: task.id, title: `${name} live 2`, tagIds: [tag.id] });
      await heard();
      await c.mutation(updateTagMutation, { id: tag.id, input: { name: `live ${name} 2` } }).toPromise();
      w.tags.push({ kind: "UPDATED", id: tag.id, title: `live ${name} 2` });
      await heard();
      await c.mutation(deleteTagMutation, { id: tag.id }).toPromise();
      w.tags.push({ kind: "DELETED", id: tag.id });
      w.tasks.push({ kind: "UPDATED", id: task.id, title: `${name} live 2`, tagIds: [] });
      await heard();
      await c.mutation(deleteTaskMutation, { id: task.id }).toPromise();
      w.tasks.push({ kind: "DELETED", id: task.id });
      // A refused change sends nothing: the other user's task.
      const other = seeded.get(name === "alice" ? "bob" : "alice")!.taskIds[1]!;
      const refused = await c.mutation(updateTaskMutation, { id: other, input: { title: "hijack" } }).toPromise();
      assert.equal(codeOf(refused.error), "NOT_FOUND");
    };
    await Promise.all([run("alice", alice), run("bob", bob)]);
    for (const name of ["alice", "bob"] as const) {
      const ear = ears[name];
      await until(`${name}'s events`, () => ear.tasks.length >= want[name].tasks.length && ear.tags.length >= want[name].tags.length);
      await sleep(300); // anything extra would arrive now
      assert.deepEqual(ear.errors, []);
      assert.deepEqual(ear.tasks, want[name].tasks, `${name}'s task events`);
      assert.deepEqual(ear.tags, want[name].tags, `${name}'s tag events`);
    }
  } finally {
    await ears.alice.stop();
    await ears.bob.stop();
    await settled(before);
  }
});

step("live updates: a socket whose token expires closes with 4403 token_expired, and graphql-ws reconnects with a fresh token", async () => {
  const before = await openSubscriptions();
  // The first token comes from ba-short and lives 2 s (api-live allows 1 s of skew): the socket is
  // closed under the client. Every later one is a normal token, so the reconnected socket stays
  // open and the event below cannot fall between two expiries. Each wait is on an event the client
  // reports (connected, closed), not on a window of time.
  const short = tokenFrom(alice, env.shortURL);
  let calls = 0;
  const ear = listen(alice, alice.getToken, () => (calls++ === 0 ? short() : alice.getToken()));
  try {
    await until("the first connection", () => ear.connects() >= 1, 10_000);
    await until("the expiry close", () => ear.closes.length > 0, 10_000);
    assert.equal(ear.closes[0]!.code, 4403);
    assert.equal(ear.closes[0]!.reason, "token_expired");
    await until("the reconnect and resubscribe", async () => ear.connects() >= 2 && (await openSubscriptions()) === before + 2);
    const task = (await alice.client.mutation(createTaskMutation, { input: { title: "after the reconnect" } }).toPromise()).data!.createTask;
    await until("the event after the reconnect", () => ear.tasks.some((e) => e.id === task.id));
    assert.deepEqual(ear.errors, [], "the subscription survived the reconnect");
    assert.equal(ear.closes.length, 1, "one close: the expired token's");
    await alice.client.mutation(deleteTaskMutation, { id: task.id }).toPromise(); // later scenarios count Alice's tasks
  } finally {
    await ear.stop();
    await settled(before);
  }
});

step("an expired token gets 401 token_expired, and the client refreshes and recovers", async () => {
  const shortToken = tokenFrom(alice, env.shortURL);
  const jwt = (await shortToken())!;
  const { payload } = decode(jwt);
  assert.equal(Number(payload["exp"]) - Number(payload["iat"]), 2, "the short instance issues 2s tokens");
  const fresh = await raw(env.api, "{ me { uuid } }", jwt);
  assert.equal(fresh.status, 200, JSON.stringify(fresh.body));

  // exp plus the server's 1s AUTH_CLOCK_SKEW, plus a second for whole-second rounding.
  await sleep(Math.max(0, (Number(payload["exp"]) + 2) * 1000 - Date.now()));
  const expired = await raw(env.api, "{ me { uuid } }", jwt);
  assert.equal(expired.status, 401);
  assert.equal(expired.body.errors?.[0]?.extensions?.["code"], "UNAUTHENTICATED");
  assert.equal(expired.body.errors?.[0]?.extensions?.["reason"], "token_expired");
  assert.ok(!JSON.stringify(expired.body).includes(jwt), "the answer does not echo the token");
  expiredToken = jwt;

  // The client starts with the expired token and no early refresh: it must meet the 401,
  // fetch one new token, and retry.
  const counted = countingGetToken(shortToken, jwt);
  const http = countingFetch();
  const client = createTaskgraphClient({ url: env.api, getToken: counted.getToken, refreshBeforeExpirySeconds: null, fetch: http.fetch });
  const me = await client.query(meQuery, {}).toPromise();
  assert.equal(me.error, undefined, me.error?.message);
  assert.equal(me.data?.me.uuid, aliceUUID);
  assert.deepEqual(http.statuses, [401, 200], "one 401, then the retry succeeds");
  assert.equal(counted.calls(), 2, "one refresh");

  // With early refresh on, the expired token is replaced before it is sent: no 401 at all.
  const early = countingGetToken(shortToken, jwt);
  const http2 = countingFetch();
  const client2 = createTaskgraphClient({ url: env.api, getToken: early.getToken, refreshBeforeExpirySeconds: 1, fetch: http2.fetch });
  const me2 = await client2.query(meQuery, {}).toPromise();
  assert.equal(me2.error, undefined, me2.error?.message);
  assert.deepEqual(http2.statuses, [200]);
});

step("trusted documents: the urql client sends its documents by hash to a server enforcing its manifest; other text is refused", async () => {
  const client = createTaskgraphClient({ url: env.trustedAPI, getToken: alice.getToken, persistedDocuments: true });
  const me = await client.query(meQuery, {}).toPromise();
  assert.equal(me.error, undefined, me.error?.message);
  assert.equal(me.data?.me.uuid, aliceUUID);
  const created = await client.mutation(createTaskMutation, { input: { title: "trusted" } }).toPromise();
  assert.equal(created.error, undefined, created.error?.message);
  await client.mutation(deleteTaskMutation, { id: created.data!.createTask.id }).toPromise();
  const other = await raw(env.trustedAPI, "{ me { uuid } }", (await alice.getToken())!);
  assert.equal(other.status, 400);
  assert.equal(other.body.errors?.[0]?.extensions?.["code"], "TRUSTED_DOCUMENT_REQUIRED");
});

step("the diagnostics (verify-jwks, verify-token, doctor) accept the real Better Auth and its tokens", async () => {
  const cfg = { cwd: workDir, env: { DATABASE_URL: env.mainDatabaseURL, BETTER_AUTH_URL: env.mainURL } };
  const jwks = await runWithInput(env.bin, ["verify-jwks"], { ...cfg, input: "" });
  assert.equal(jwks.code, 0, jwks.output);
  const kid = String(decode((await alice.getToken())!).header["kid"]);
  assert.ok(jwks.output.includes(kid), `verify-jwks lists the key ${kid}:\n${jwks.output}`);

  const token = (await alice.getToken())!;
  const good = await runWithInput(env.bin, ["verify-token", "--token", "-"], { ...cfg, input: token });
  assert.equal(good.code, 0, good.output);
  assert.ok(!good.output.includes(token), "verify-token does not print the token");
  assert.ok(good.output.includes(aliceUUID), `verify-token names the user:\n${good.output}`);

  const doctor = await runWithInput(env.bin, ["doctor", "--token", "-"], { ...cfg, input: (await alice.getToken())! });
  assert.equal(doctor.code, 0, doctor.output);
  assert.doesNotMatch(doctor.output, /FAIL/);

  assert.ok(expiredToken, "the expiry step ran first");
  // With the api server's 1s skew (the default 30s would still accept a token 3s past exp).
  const skew = { cwd: cfg.cwd, env: { ...cfg.env, AUTH_CLOCK_SKEW: "1s" } };
  const expired = await runWithInput(env.bin, ["verify-token", "--token", "-"], { ...skew, input: expiredToken });
  assert.notEqual(expired.code, 0, "an expired token fails verify-token");
  assert.match(expired.output, /token_expired/);
});

step("a Better Auth without the uuid claim works through the sub lookup", async () => {
  const jwt = (await tokenFrom(alice, env.noUUIDURL)())!;
  const { payload } = decode(jwt);
  assert.equal(payload["uuid"], undefined, "the token carries no uuid claim");
  assert.equal(typeof payload["sub"], "string");
  const client = createTaskgraphClient({ url: env.api, getToken: tokenFrom(alice, env.noUUIDURL) });
  const me = await client.query(meQuery, {}).toPromise();
  assert.equal(me.error, undefined, me.error?.message);
  assert.equal(me.data?.me.uuid, aliceUUID, "resolved to the same user");
  const tasks = await client.query(tasksQuery, { first: 100 }).toPromise();
  assert.equal(tasks.error, undefined, tasks.error?.message);
  assert.equal(tasks.data?.tasks.totalCount, seeded.get("alice")!.taskIds.length - 1, "Alice's tasks (one was deleted)");
});

step("a server with the wrong AUTH_AUDIENCE refuses real tokens with 401 invalid_audience", async () => {
  const jwt = (await alice.getToken())!;
  const res = await raw(env.wrongAudAPI, "{ me { uuid } }", jwt);
  assert.equal(res.status, 401);
  assert.equal(res.body.errors?.[0]?.extensions?.["reason"], "invalid_audience");
  // The client refreshes once, then hands the failure over instead of looping.
  const counted = countingGetToken(alice.getToken);
  const http = countingFetch();
  const client = createTaskgraphClient({ url: env.wrongAudAPI, getToken: counted.getToken, fetch: http.fetch });
  const me = await client.query(meQuery, {}).toPromise();
  assert.equal(codeOf(me.error), "UNAUTHENTICATED");
  assert.equal(me.error?.graphQLErrors[0]?.extensions?.["reason"], "invalid_audience");
  assert.deepEqual(http.statuses, [401, 401]);
  assert.equal(counted.calls(), 2);
});

step(
  "Better Auth (RS256) rotates its signing key during the run and requests keep working",
  async () => {
    const carol = await signUp(env.rotURL, "Carol", env.rotAPI);
    const t1 = (await carol.getToken())!;
    const kid1 = decode(t1).header["kid"];
    assert.equal(decode(t1).header["alg"], "RS256", "this Better Auth signs with RSA keys (JWT_ALG=RS256)");
    const me1 = await carol.client.query(meQuery, {}).toPromise();
    assert.equal(me1.error, undefined, me1.error?.message);
    const created = await carol.client.mutation(createTaskMutation, { input: { title: "before rotation" } }).toPromise();
    assert.equal(created.error, undefined, created.error?.message);

    // The key was minted with a 3s lifetime; the first signature after that mints a new one.
    let t2 = t1;
    const deadline = Date.now() + 15_000;
    while (decode(t2).header["kid"] === kid1 && Date.now() < deadline) {
      await sleep(500);
      t2 = (await carol.getToken())!;
    }
    const kid2 = decode(t2).header["kid"];
    assert.notEqual(kid2, kid1, "Better Auth signs with a new key");
    const jwks = (await (await fetch(`${env.rotURL}/api/auth/jwks`)).json()) as { keys: Array<{ kid: string }> };
    const kids = jwks.keys.map((k) => k.kid);
    assert.ok(kids.includes(String(kid1)) && kids.includes(String(kid2)), "the old key stays published for the grace period");

    const withNew = await raw(env.rotAPI, "{ tasks(first: 5) { totalCount } }", t2);
    assert.equal(withNew.status, 200, `new kid: ${JSON.stringify(withNew.body)}`);
    assert.deepEqual(withNew.body.data, { tasks: { totalCount: 1 } });
    const withOld = await raw(env.rotAPI, "{ tasks(first: 5) { totalCount } }", t1);
    assert.equal(withOld.status, 200, `old kid during grace: ${JSON.stringify(withOld.body)}`);

    const list = await carol.client.query(tasksQuery, { first: 5 }).toPromise();
    assert.equal(list.error, undefined, list.error?.message);
    assert.equal(list.data?.tasks.edges[0]?.node.title, "before rotation");
  },
  60_000,
);
