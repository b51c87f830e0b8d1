// A codegen hook: the client preset's gql.ts helper says `any` twice; say what it means instead,
// so that nothing in gql/ is typed `any`. Fails when the text it expects has changed.
import { readFileSync, writeFileSync } from "node:fs";

for (const file of process.argv.slice(2).filter((f) => f.endsWith("gql.ts"))) {
  let text = readFileSync(file, "utf8");
  const swaps = [
    ["(documents as any)[source] ?? {}", "(documents as Record<string, unknown>)[source] ?? {}"],
    ["DocumentNode<any, any>>", "DocumentNode<unknown, never>>"],
    ["DocumentNode<  infer TType,  any>", "DocumentNode<  infer TType,  never>"],
  ];
  for (const [from, to] of swaps) {
    if (!text.includes(from)) throw new Error(`${file}: expected ${JSON.stringify(from)}; update scripts/no-any.mjs`);
    text = text.replace(from, to);
  }
  if (/\bany\b/.test(text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ""))) throw new Error(`${file}: still says any`);
  writeFileSync(file, text);
}
