import { defineConfig } from "vite";

// Built into ../dist, which the Go package ide embeds and serves under /ide/ (index.html at /).
// Hashed file names under assets/ let the server cache them forever; no source maps, no inline
// scripts or workers (the page's CSP is script-src 'self', worker-src 'self').
export default defineConfig({
  base: "/ide/",
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 8000,
    rollupOptions: {
      // GraphiQL's dependencies mark modules "use client" for React Server Components: meaningless
      // in a bundle, and reported once per module.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
  worker: { format: "es" },
});
