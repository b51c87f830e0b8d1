// The IDE in a real browser: Debian's Chromium, driven by playwright-core, opens `taskgraph dev`'s
// GraphiQL with every request to anything but 127.0.0.1 aborted, and uses it as a person would:
// the editor, the Docs, the starter query, a createTask mutation and the tasks query after it,
// autocomplete, a subscription that shows a change made over plain HTTP. No console error, no request off the machine. A screenshot of each step goes to
// e2e/output/ide/ (gitignored).
//
// Processes: database taskgraph_ide_<random>; `taskgraph dev` on a free loopback port; Chromium.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium, type BrowserContext, type Locator, type Page } from "playwright-core";
import { buildServer, createDatabase, finish, freePort, repoRoot, startDev, workDir } from "./harness.js";

const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const outputDir = path.join(repoRoot, "e2e", "output", "ide");

let base = "";
let token = "";
let context: BrowserContext;
let page: Page;
let failed = false;
let shot = 0;
const drops: Array<() => Promise<void>> = [];
/** Every URL the browser asked for, and those that were not on 127.0.0.1 (aborted). */
const requested: string[] = [];
const foreign: string[] = [];
/** Console errors, uncaught exceptions, failed or refused loads of the page's own files. */
const problems: string[] = [];

/** Saves a numbered screenshot of the page. */
async function snap(name: string): Promise<void> {
  const file = `${String(++shot).padStart(2, "0")}-${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}.png`;
  await page.screenshot({ path: path.join(outputDir, file) });
}

function step(name: string, fn: () => Promise<void>): void {
  test(name, { timeout: 60_000 }, async () => {
    try {
      await fn();
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      // The screenshot is taken whatever happened: on a failure it shows why.
      if (page) await snap(name).catch(() => {});
    }
  });
}

/** The text a Monaco editor shows (its rendered lines; Monaco renders spaces as U+00A0). */
async function editorText(editor: Locator): Promise<string> {
  return (await editor.locator(".view-lines").innerText()).replace(/\u00a0/g, " ");
}

async function waitForText(editor: Locator, what: string, want: (text: string) => boolean, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = "";
  while (Date.now() < deadline) {
    text = await editorText(editor).catch(() => "");
    if (want(text)) return text;
    await page.waitForTimeout(100);
  }
  throw new Error(`${what}: not shown within ${timeoutMs} ms; the editor shows:\n${text}`);
}

const queryEditor = () => page.locator(".graphiql-query-editor");
const resultEditor = () => page.locator(".result-window");

/** Runs one operation of the document with the Execute button's menu. */
async function execute(operation: string): Promise<void> {
  await page.getByRole("button", { name: /^Execute query/ }).click();
  await page.getByRole("menuitem", { name: operation, exact: true }).click();
}

before(
  async () => {
    assert.ok(existsSync(chromiumPath), `no Chromium at ${chromiumPath}: apt-get install chromium (Debian's package; .ci/run does)`);
    rmSync(outputDir, { recursive: true, force: true });
    mkdirSync(outputDir, { recursive: true });
    try {
      const [db, bin, port] = await Promise.all([createDatabase("taskgraph_ide"), buildServer(), freePort()]);
      drops.push(db.drop);
      const dev = await startDev("dev", { bin, port, databaseURL: db.url });
      base = dev.url;
      // The token the IDE puts in its headers editor, read where the page reads it.
      const config = (await (await fetch(`${base}/ide/config.json`)).json()) as { headers: string };
      token = (JSON.parse(config.headers) as Record<string, string>).Authorization!.replace(/^Bearer /, "");
      assert.match(token, /^ey/);

      context = await chromium.launchPersistentContext(mkdtempSync(path.join(workDir, "chromium-")), {
        executablePath: chromiumPath,
        headless: true,
        viewport: { width: 1400, height: 900 },
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          // Belt and braces behind the route below: no name resolves, only 127.0.0.1 is reachable.
          "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        ],
      });
      await context.route("**/*", (route) => {
        const url = new URL(route.request().url());
        if (url.hostname === "127.0.0.1") return route.continue();
        foreign.push(url.href);
        return route.abort("blockedbyclient");
      });
      context.on("request", (req) => {
        requested.push(req.url());
        const url = new URL(req.url());
        if (url.protocol !== "data:" && url.protocol !== "blob:" && url.hostname !== "127.0.0.1") foreign.push(url.href);
      });
      page = context.pages()[0] ?? (await context.newPage());
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console error: ${m.text()}`);
      });
      page.on("pageerror", (err) => problems.push(`uncaught: ${err.message}`));
      page.on("requestfailed", (req) => problems.push(`failed: ${req.url()} ${req.failure()?.errorText}`));
      page.on("response", (res) => {
        if (res.status() >= 400 && !res.url().endsWith("/graphql")) problems.push(`HTTP ${res.status()}: ${res.url()}`);
      });
    } catch (err) {
      failed = true;
      throw err;
    }
  },
  { timeout: 300_000 },
);

after(
  async () => {
    await context?.close().catch(() => {});
    await finish(failed, drops);
    console.error(`\nscreenshots: ${outputDir}\nrequests: ${requested.length}, off 127.0.0.1: ${foreign.length}`);
  },
  { timeout: 60_000 },
);

step("the editor loads with the starter document and the dev token", async () => {
  await page.goto(`${base}/`);
  await queryEditor().locator(".monaco-editor").waitFor({ timeout: 30_000 });
  await waitForText(queryEditor(), "the starter document", (t) => t.includes("query Tasks(") && t.includes("mutation CreateTask("));
  const headers = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden)");
  await waitForText(headers, "the Authorization header", (t) => t.includes(`"Authorization": "Bearer ${token.slice(0, 20)}`));
});

step("the Docs list Query.tasks and Task.tags", async () => {
  await page.getByRole("button", { name: "Show Documentation Explorer" }).click();
  const docs = page.locator(".graphiql-doc-explorer");
  // Listed only once GraphiQL's introspection query has come back and built the schema.
  await docs.locator("a.graphiql-doc-explorer-type-name", { hasText: /^Query$/ }).first().click();
  const content = docs.locator(".graphiql-doc-explorer-content");
  await content.getByText("TaskConnection!", { exact: false }).first().waitFor();
  assert.match(await content.innerText(), /\btasks\(/);
  await snap("docs query");
  await content.locator("a.graphiql-doc-explorer-type-name", { hasText: /^Task$/ }).first().click();
  await content.getByText("tags", { exact: true }).first().waitFor();
  assert.match(await content.innerText(), /tags: \[Tag!\]!/);
});

step("the starter query runs and shows the dev user's data", async () => {
  await page.getByRole("button", { name: "Hide Documentation Explorer" }).click();
  await execute("Tasks");
  const text = await waitForText(resultEditor(), "the Tasks result", (t) => t.includes('"totalCount"'));
  assert.match(text, /"email": "dev@taskgraph\.local"/);
  assert.match(text, /"totalCount": 0/);
});

const title = `Written in GraphiQL ${randomBytes(3).toString("hex")}`;

step("a createTask mutation runs from the editor", async () => {
  await page.getByRole("button", { name: "Variables", exact: true }).click();
  const variables = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden)");
  await waitForText(variables, "the starter variables", (t) => t.includes('"title": "Try taskgraph"'));
  await variables.locator(".monaco-editor").click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(JSON.stringify({ task: { title, priority: "URGENT", dueAt: "2030-01-01T09:00:00+02:00" } }));
  await waitForText(variables, "the new variables", (t) => t.includes(title));
  await execute("CreateTask");
  const text = await waitForText(resultEditor(), "the createTask result", (t) => t.includes('"createTask"'));
  assert.ok(text.includes(`"title": "${title}"`), text);
  assert.match(text, /"dueAt": "2030-01-01T07:00:00Z"/); // in UTC
});

step("the new task shows up in a following tasks query", async () => {
  await execute("Tasks");
  const text = await waitForText(resultEditor(), "the task in Tasks", (t) => t.includes(title));
  assert.match(text, /"totalCount": 1/);
  assert.match(text, /"priority": "URGENT"/);
  // And it is in the database, as the same user sees it over plain HTTP.
  const res = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: "{ tasks { nodes { title } } }" }),
  });
  const body = (await res.json()) as { data: { tasks: { nodes: Array<{ title: string }> } } };
  assert.deepEqual(body.data.tasks.nodes, [{ title }]);
});

step("autocomplete offers the schema's fields", async () => {
  await page.getByRole("button", { name: "New tab" }).click();
  await queryEditor().locator(".monaco-editor").click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  await page.keyboard.type("{ ta");
  await page.keyboard.press("Control+Space");
  const suggestions = page.locator(".suggest-widget .monaco-list-row");
  await suggestions.first().waitFor({ timeout: 15_000 });
  const labels = await suggestions.allInnerTexts();
  assert.ok(labels.some((l) => l.startsWith("tasks")) && labels.some((l) => l.startsWith("tags")), `suggestions: ${labels.join(" | ")}`);
});

step("a new tab and a reload keep the token; tabs and history stay in the browser", async () => {
  const headers = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden)");
  await page.getByRole("button", { name: "Headers", exact: true }).click();
  await waitForText(headers, "the new tab's Authorization header", (t) => t.includes(`"Bearer ${token.slice(0, 20)}`));
  // GraphiQL saves the tabs and the current editors separately, each 500 ms after a change; a
  // reload before both are saved opens an extra tab. Wait for them to agree, and for Monaco's
  // worker loads to finish (a reload would abort them).
  await page.waitForFunction(() => {
    const tabs = JSON.parse(localStorage.getItem("graphiql:tabState") ?? "null") as { activeTabIndex: number; tabs: Array<{ query: string | null; variables: string | null }> } | null;
    const tab = tabs?.tabs[tabs.activeTabIndex];
    return !!tab && (tab.query ?? "") === (localStorage.getItem("graphiql:query") ?? "") && (tab.variables ?? "") === (localStorage.getItem("graphiql:variables") ?? "");
  }, undefined, { timeout: 10_000 });
  await page.waitForLoadState("networkidle");
  // The token is never saved: after a restart of dev, the page shows the new one.
  const saved = await page.evaluate(() => JSON.stringify(Object.entries(localStorage)));
  assert.ok(saved.includes("Written in GraphiQL") && !saved.includes(token.slice(0, 40)), "localStorage holds the history but not the token");
  await page.reload();
  await queryEditor().locator(".monaco-editor").waitFor({ timeout: 30_000 });
  const tabs = await page.locator(".graphiql-tab-button").allInnerTexts();
  assert.deepEqual(tabs, ["Tasks", "<untitled>"]);
  await page.getByRole("button", { name: "Headers", exact: true }).click();
  await waitForText(headers, "the Authorization header after a reload", (t) => t.includes(`"Bearer ${token.slice(0, 20)}`));
  await page.getByRole("button", { name: "Show History" }).click();
  const history = page.locator(".graphiql-history");
  await history.getByText("CreateTask").first().waitFor();
  assert.match(await history.innerText(), /Tasks/);
});

/** The dev server's open subscriptions (its /metrics). */
async function openSubscriptions(): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("taskgraph_subscriptions_open "));
  return line ? Number(line.split(" ")[1]) : -1;
}

step("a subscription runs in GraphiQL over the socket and shows a change made elsewhere", async () => {
  // The starter document's last operation (Monaco renders only the lines in view; the menu lists all).
  await page.locator(".graphiql-tab-button", { hasText: "Tasks" }).click();
  await waitForText(queryEditor(), "the starter document", (t) => t.includes("mutation CreateTask("));
  // GraphiQL parses the operations for the Execute menu after the editor shows them.
  await page.waitForFunction(() => document.querySelector(".graphiql-execute-button")?.getAttribute("aria-haspopup") === "menu", undefined, { timeout: 10_000 });
  await execute("TaskEvents");
  // graphql-ws from the page itself: the headers editor's token in connection_init.
  const deadline = Date.now() + 15_000;
  while ((await openSubscriptions()) !== 1) {
    assert.ok(Date.now() < deadline, "the subscription did not open on the server");
    await page.waitForTimeout(100);
  }
  const seen = `Seen live ${randomBytes(3).toString("hex")}`;
  const res = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: `mutation { createTask(input: {title: ${JSON.stringify(seen)}}) { id } }` }),
  });
  assert.equal(res.status, 200);
  const text = await waitForText(resultEditor(), "the event in the result pane", (t) => t.includes(seen));
  assert.match(text, /"kind": "CREATED"/);
  await page.getByRole("button", { name: /^Stop query/ }).click();
  while ((await openSubscriptions()) !== 0) {
    assert.ok(Date.now() < deadline + 10_000, "the stopped subscription is still open on the server");
    await page.waitForTimeout(100);
  }
});

step("nothing went wrong and nothing left 127.0.0.1", async () => {
  assert.deepEqual(problems, []);
  assert.deepEqual(foreign, []);
  // The page really did load its own code from the server, including Monaco's workers.
  for (const want of ["/ide/config.json", "/ide/assets/index-", "editor.worker-", "json.worker-", "graphql.worker-", "/graphql"]) {
    assert.ok(requested.some((u) => u.startsWith(base) && u.includes(want)), `no request for ${want}`);
  }
});
