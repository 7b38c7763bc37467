// Unit tests of the console's pure code (money, redirects): node, no browser (the browser tests are e2e/).
import { defineConfig, mergeConfig } from "vitest/config";
import viteConfig from "./vite.config";

export default mergeConfig(viteConfig, defineConfig({ test: { include: ["src/**/*.test.ts"], environment: "node" } }));
