import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The suites against the local stack run when it is up (SDK_API_URL, set by `make test`).
    testTimeout: 20_000,
    benchmark: { include: ["bench/**/*.bench.ts"] },
  },
});
