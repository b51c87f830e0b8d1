// GraphQL Code Generator: typed documents for every graphql(`...`) call in the app, from the
// server's schema (this repository's schema.graphqls, or TASKGRAPH_SCHEMA: a file or a running
// server's /graphql/schema.graphql).
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: process.env.TASKGRAPH_SCHEMA || "../../schema.graphqls",
  documents: ["app/**/*.tsx", "components/**/*.tsx", "lib/**/*.ts", "!gql/**/*"],
  ignoreNoDocuments: false,
  // gql.ts's helper says `any` twice: scripts/no-any.mjs says what it means.
  hooks: { afterAllFileWrite: ["node scripts/no-any.mjs"] },
  generates: {
    "./gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        // Time: an RFC 3339 string; the server answers in UTC ("...Z") and accepts any explicit
        // offset. lib/time.ts converts it to and from the browser's time zone.
        scalars: { Time: "string", ID: "string" },
        strictScalars: true,
        enumsAsTypes: true,
        useTypeImports: true,
        avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false },
      },
    },
  },
};

export default config;
