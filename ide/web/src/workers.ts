// Monaco's web workers, bundled by Vite as same-origin files (worker-src 'self'): the editor core,
// the JSON language (variables, headers) and GraphQL (validation, autocomplete against the schema).
// The same as graphiql/setup-workers/vite, without its console.info on every start.
import EditorWorker from "monaco-editor/esm/vs/editor/editor.worker.js?worker";
import JsonWorker from "monaco-editor/esm/vs/language/json/json.worker.js?worker";
import GraphQLWorker from "monaco-graphql/esm/graphql.worker.js?worker";

(globalThis as { MonacoEnvironment?: unknown }).MonacoEnvironment = {
  getWorker(_workerId: string, label: string): Worker {
    switch (label) {
      case "json":
        return new JsonWorker();
      case "graphql":
        return new GraphQLWorker();
    }
    return new EditorWorker();
  },
};
