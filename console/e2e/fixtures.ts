// What every end-to-end test needs: the stack (from the variables infra/local/dev.py gives the command it runs),
// fresh identities, the mail the stack sent (moto's SES), signing up and in through the UI, and screenshots of the
// main pages for the README (written to console/screenshots when SCREENSHOTS=1).
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Page, expect, test as base } from "@playwright/test";

export const stack = {
  baseUrl: process.env["BASE_URL"] ?? "http://127.0.0.1:3000",
  motoUrl: process.env["MOTO_URL"] ?? "http://127.0.0.1:3001",
  adminEmail: process.env["ADMIN_EMAIL"] ?? "admin@example.com",
  adminPassword: process.env["ADMIN_PASSWORD"] ?? "",
  /** The solution `devstack setup` seeds (free, pro and enterprise tiers with Stripe and PhonePe prices). */
  demoSolutionId: process.env["DEMO_SOLUTION_ID"] ?? "sol_0000000000000000000000demo",
};

let counter = 0;
/** A fresh address on every run (the stack under `make dev` keeps its data). */
export function uniqueEmail(who: string): string {
  counter += 1;
  return `${who}-${Date.now().toString(36)}-${counter}@example.com`;
}

export const PASSWORD = "correct horse battery staple";

interface SentMail {
  subject?: string;
  body?: string;
  destinations?: { ToAddresses?: string[] } | string[];
}

/** The first match of `pattern` in mail sent to `to` (the outbox job delivers every few seconds). */
export async function mailMatch(to: string, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await fetch(`${stack.motoUrl}/moto-api/data.json`);
    const data = (await answer.json()) as Record<string, Record<string, SentMail[]>>;
    const messages = [...(data["sesv2"]?.["Message"] ?? []), ...(data["ses"]?.["Message"] ?? [])];
    for (const m of messages.reverse()) {
      const dest = JSON.stringify(m.destinations ?? "");
      if (!dest.includes(to)) continue;
      const match = `${m.subject ?? ""}\n${m.body ?? ""}`.match(pattern);
      if (match) return match;
    }
    if (Date.now() > deadline) throw new Error(`no mail to ${to} matching ${pattern} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/** A path of the console from a link in a mail (the stack's base URL is the console's origin). */
export function consolePath(link: string): string {
  const url = new URL(link);
  return url.pathname + url.search;
}

/**
 * Sign up through the console; returns the address used. One address may register 20 accounts an hour
 * (identity/throttle.rs): the whole suite runs in one stack from 127.0.0.1, so it must stay under that (16 today);
 * `make test` gives it a stack of its own.
 */
export async function signUp(page: Page, name: string, email = uniqueEmail(name.toLowerCase())): Promise<string> {
  await page.goto("/sign-up");
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
  return email;
}

/** Follow the verification link mailed to `email`. */
export async function verifyEmail(page: Page, email: string): Promise<void> {
  const [link] = await mailMatch(email, /https?:\/\/\S+\/verify-email\?token=[A-Za-z0-9_-]+/);
  await page.goto(consolePath(link));
  await expect(page.getByText("is verified")).toBeVisible();
}

export async function signIn(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
}

export async function signOut(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Sign out" }).first().click();
  await expect(page.getByRole("link", { name: "Sign in" }).first()).toBeVisible();
}

const SCREENSHOTS = fileURLToPath(new URL("../screenshots/", import.meta.url));

/** A screenshot of a main page for the README (only with SCREENSHOTS=1: they are committed, not made on every run). */
export async function readmeShot(page: Page, name: string): Promise<void> {
  if (process.env["SCREENSHOTS"] !== "1") return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true, animations: "disabled" });
}

/** The API itself (what a partner's backend does between two looks at the console), with a bearer token. */
export async function apiCall<T = unknown>(
  method: string,
  path: string,
  options: { token?: string; apiKey?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (options.token) headers["authorization"] = `Bearer ${options.token}`;
  if (options.apiKey) headers["x-api-key"] = options.apiKey;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const answer = await fetch(stack.baseUrl + path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await answer.text();
  return { status: answer.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/**
 * Every test fails on a script error or a Content-Security-Policy refusal in its page (the gateway sends the
 * distribution's CSP, so an inline script or style that would break in AWS breaks here).
 */
export const test = base.extend<{ cleanConsole: void }>({
  cleanConsole: [
    async ({ page }, use) => {
      const problems: string[] = [];
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      page.on("console", (message) => {
        if (message.type() === "error" && /Content Security Policy|Refused to/.test(message.text())) problems.push(message.text());
      });
      await use();
      expect(problems, "script errors or CSP refusals in the page").toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };
