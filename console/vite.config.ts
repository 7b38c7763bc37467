// The console's build: a static single-page app in dist/, served at `/` by the local gateway (`make dev`) and by
// CloudFront in AWS. The SDK is compiled from its source (sdk/typescript/src), so the console always uses the SDK
// of the same commit and only what it imports of it.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  resolve: {
    alias: {
      "@monetization/sdk": fileURLToPath(new URL("../sdk/typescript/src/index.ts", import.meta.url)),
    },
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // No source maps in the build: it is served to everyone as it is (and smaller to deploy).
    sourcemap: false,
    // Every file name carries its content hash (cached for a year); index.html is never cached.
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
});
