// End-to-end tests of the console in a real browser: Debian's Chromium (`apt-get install chromium`, installed by
// infra/local/bootstrap.sh chromium), never a downloaded one, driven by Playwright against a running local stack
// (BASE_URL: `make dev`, or the throw-away stack of `make e2e` / `make test`).
import { existsSync } from "node:fs";
import { defineConfig } from "@playwright/test";

const baseURL = process.env["BASE_URL"] ?? "http://127.0.0.1:3000";
const chromium =
  process.env["CHROMIUM_PATH"] ?? ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].find((p) => existsSync(p));
const root = process.getuid?.() === 0;

export default defineConfig({
  testDir: "e2e",
  outputDir: "../.local/e2e/results",
  // One stack, one browser at a time: the tests share the stack's clock and mail box, and the machine has 2 cores.
  workers: 1,
  fullyParallel: false,
  forbidOnly: true,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 15_000 },
  reporter: [["list"], ["html", { outputFolder: "../.local/e2e/report", open: "never" }]],
  use: {
    baseURL,
    browserName: "chromium",
    headless: true,
    viewport: { width: 1280, height: 800 },
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: chromium,
      // Chromium's sandbox needs an unprivileged user; CI machines run the tests as root.
      args: root ? ["--no-sandbox"] : [],
    },
  },
});
