// GraphiQL for taskgraph. Everything it needs is in this bundle: no CDN, no inline script. The
// server passes its settings as JSON (config.json beside the assets), so the page itself is static
// and the Content-Security-Policy can stay script-src 'self'.
import "./workers";
import "graphiql/style.css";
import "./page.css";

import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

/** What the Go handler (package ide) serves at config.json. */
interface Config {
  /** The GraphQL endpoint, a path on this origin. */
  endpoint: string;
  /** The headers editor's content (JSON text); "" when the server gives none. */
  headers: string;
  /** The document shown when the browser has no saved tabs yet. */
  query: string;
  /** Its variables (JSON text). */
  variables: string;
}

async function loadConfig(): Promise<Config> {
  const res = await fetch(`${import.meta.env.BASE_URL}config.json`, { cache: "no-store" });
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  return (await res.json()) as Config;
}

/** No tabs saved yet (GraphiQL's storage key, "graphiql:" + STORAGE_KEY.tabs). */
const firstVisit = localStorage.getItem("graphiql:tabState") === null;

/** The endpoint as a WebSocket URL on this origin (ws: or wss: like the page). */
function socketURL(endpoint: string): string {
  const url = new URL(endpoint, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

function App({ config }: { config: Config }) {
  // Subscriptions go over graphql-ws (graphql-transport-ws) to the same endpoint; the toolkit
  // sends the headers editor's values as connection_init's payload, so the Authorization header
  // there authenticates the socket too.
  const fetcher = createGraphiQLFetcher({ url: config.endpoint, subscriptionUrl: socketURL(config.endpoint) });
  return (
    <GraphiQL
      fetcher={fetcher}
      // Tabs and history live in this browser's localStorage (GraphiQL's own keys); headers are
      // not persisted, so a restarted dev server's fresh token always wins over an old one.
      shouldPersistHeaders={false}
      initialHeaders={config.headers || undefined}
      defaultHeaders={config.headers || undefined}
      // The starter tab, for a browser with no saved tabs. GraphiQL 5 fills the variables editor
      // from initialVariables only, and initialVariables on every load would open a new tab each
      // time: so it is given on the first visit alone.
      defaultTabs={[{ query: config.query, variables: config.variables || null }]}
      initialVariables={firstVisit && config.variables ? config.variables : undefined}
      defaultEditorToolsVisibility={config.headers ? "headers" : false}
      inputValueDeprecation
      schemaDescription
    />
  );
}

const root = createRoot(document.getElementById("graphiql")!);
loadConfig().then(
  (config) =>
    root.render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    ),
  (err: unknown) => {
    document.getElementById("graphiql")!.textContent = `Cannot start GraphiQL: ${String(err)}`;
  },
);
