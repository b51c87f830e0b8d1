// GraphQL Code Generator: typed documents for every graphql(`...`) call in src/, from the server's schema.
import type { CodegenConfig } from "@graphql-codegen/cli";

// TASKGRAPH_SCHEMA: a file, or a running server (`dev`, or `serve` with GRAPHQL_INTROSPECTION=true):
//   http://127.0.0.1:8080/graphql/schema.graphql   its SDL (a URL ending in .graphql is read as SDL)
//   http://127.0.0.1:8080/graphql                  introspection (no token needed)
// Default: this repository's schema file (relative to where codegen runs, this folder).
const config: CodegenConfig = {
  schema: process.env.TASKGRAPH_SCHEMA || "../../schema.graphqls",
  documents: ["src/**/*.ts", "!src/gql/**/*"],
  // Imports with ".js", so the generated code runs under Node's ESM resolution as well as in bundlers.
  emitLegacyCommonJSImports: false,
  generates: {
    "./src/gql/": {
      preset: "client",
      // persisted-documents.json: "sha256:<hex>" -> each document, for TRUSTED_DOCUMENTS; the
      // documents carry the hash (__meta__.hash) for the persisted-query exchange.
      presetConfig: { fragmentMasking: false, persistedDocuments: { hashAlgorithm: "sha256" } },
      config: {
        // RFC 3339 strings; the server answers in UTC ("...Z") and accepts any explicit offset.
        scalars: { Time: "string" },
        strictScalars: true,
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
