// GraphQL Code Generator: typed documents for every graphql(`...`) call in src/, from the server's schema.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: process.env.TASKGRAPH_SCHEMA ?? "../../schema.graphqls",
  documents: ["src/**/*.ts", "!src/gql/**/*"],
  // Imports with ".js", so the generated code runs under Node's ESM resolution as well as in bundlers.
  emitLegacyCommonJSImports: false,
  generates: {
    "./src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
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
