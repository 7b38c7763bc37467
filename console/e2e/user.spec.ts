// The end user's console: sign up, verify, a solution token, usage through the API, a Stripe subscription; the
// refusal of an unverified address; a phone-sized screen; an accessibility smoke test.
import type { Page } from "@playwright/test";
import { apiCall, expect, readmeShot, signUp, stack, test, verifyEmail } from "./fixtures";
import { seriousViolations, subscribeWithStripe } from "./helpers";

const DEMO = stack.demoSolutionId;

/** Generate a solution token for the demo solution on /tokens; returns it (read from the page, once). */
async function generateToken(page: Page): Promise<string> {
  await page.goto("/tokens");
  await page.getByLabel("Solution", { exact: true }).selectOption({ label: "Demo Solution (free)" });
  await page.getByRole("button", { name: "Generate token" }).click();
  const secret = page.getByRole("textbox", { name: "Solution token", exact: true });
  await expect(secret).toBeVisible();
  return secret.inputValue();
}

test("a user signs up, verifies, tracks usage with a token and subscribes to pro with Stripe", async ({ page, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const email = await signUp(page, "Uma");
  await expect(page.getByText("Welcome aboard!")).toBeVisible();
  await expect(page.getByText("Please verify your email address.")).toBeVisible();

  await verifyEmail(page, email);
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1, name: "Hello, Uma" })).toBeVisible();
  await expect(page.getByText("Please verify your email address.")).toHaveCount(0);
  const demoRow = page.getByRole("row").filter({ has: page.getByRole("link", { name: "Demo Solution", exact: true }) });
  await expect(demoRow.getByTestId(`tier-${DEMO}`)).toHaveText("free");

  // A solution token, shown once.
  const token = await generateToken(page);
  expect(token.split(".")).toHaveLength(3);
  await page.getByRole("button", { name: "Copy" }).first().click();
  await expect(page.getByRole("button", { name: "Copied" })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
  await readmeShot(page, "tokens");
  await page.reload();
  await expect(page.getByRole("heading", { name: "My live tokens" })).toBeVisible();
  await expect(page.getByRole("cell", { name: "Solution", exact: true }).first()).toBeVisible();
  await expect(page.getByRole("textbox", { name: "Solution token", exact: true })).toHaveCount(0);
  expect(await page.content()).not.toContain(token);

  // The partner's backend reports uses with the token.
  for (const action of ["search", "search", "search", "report.generate", "report.generate"]) {
    const answer = await apiCall<{ used: number }>("POST", "/api/track-usage", { token, body: { action } });
    expect(answer.status).toBe(200);
  }
  await page.goto(`/usage?solution=${DEMO}`);
  await expect(page.getByTestId("usage-total")).toHaveText("5 uses in this period: report.generate 2, search 3.");
  await expect(page.getByTestId("quota-used")).toHaveText("5");
  await expect(page.getByText("5 of 100 used")).toBeVisible();
  await page.getByText("Show the numbers").click();
  const today = new Date().toISOString().slice(0, 10);
  const todayRow = page.getByRole("row", { name: new RegExp(`^${today}`) });
  await expect(todayRow.getByRole("cell")).toHaveText(["2", "3"]);
  await readmeShot(page, "usage");
  // Two more: the chart and the gauge follow.
  for (const action of ["search", "report.generate"]) {
    expect((await apiCall("POST", "/api/track-usage", { token, body: { action } })).status).toBe(200);
  }
  await page.getByRole("button", { name: "Refresh" }).click();
  await expect(page.getByTestId("quota-used")).toHaveText("7");
  await expect(todayRow.getByRole("cell")).toHaveText(["3", "4"]);

  // Subscribe to pro with Stripe: the stand-in's hosted page, then back to /billing/success.
  await page.goto("/catalog");
  await page.getByRole("searchbox", { name: "Search solutions" }).fill("demo");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.getByRole("link", { name: "Demo Solution", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Demo Solution" })).toBeVisible();
  await expect(page.getByText("No reviews yet.")).toBeVisible();
  await readmeShot(page, "catalog-solution");
  await page.getByRole("button", { name: "Subscribe to Pro" }).click();
  await expect(page.getByRole("heading", { name: "Subscribe to Pro" })).toBeVisible();
  await subscribeWithStripe(page);
  await expect(page.getByTestId("new-tier")).toHaveText("Pro");

  await page.goto("/");
  await expect(page.getByTestId(`tier-${DEMO}`)).toHaveText("pro");
  await readmeShot(page, "home");

  await page.goto("/billing");
  await expect(page.getByRole("heading", { level: 3, name: "Demo Solution: Pro" })).toBeVisible();
  await expect(page.getByText("active", { exact: true }).first()).toBeVisible();
  const history = page.getByRole("table", { name: "Payments and refunds, newest first" });
  await expect(async () => {
    await page.reload();
    await expect(history.getByRole("row").filter({ hasText: "Demo Solution" })).toHaveCount(1, { timeout: 2_000 });
  }).toPass({ timeout: 30_000 });
  await expect(history.getByRole("row").filter({ hasText: "Demo Solution" })).toContainText("Payment");
  await expect(history.getByRole("row").filter({ hasText: "Demo Solution" })).toContainText("₹");
  // Changing plan shows both prices and when it applies before anything happens.
  await page.getByRole("button", { name: "Upgrade" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText("applies immediately");
  await expect(dialog).toContainText("prorated difference");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await readmeShot(page, "billing");
});

test("a user subscribes to enterprise with PhonePe and comes back to a verified payment", async ({ page }) => {
  const email = await signUp(page, "Ravi");
  await verifyEmail(page, email);
  await page.goto(`/catalog/${DEMO}`);
  await page.getByRole("button", { name: "Subscribe to Enterprise" }).click();
  await page.getByLabel("Pay with").selectOption({ label: "UPI (PhonePe)" });
  await page.getByRole("button", { name: "Continue to payment" }).click();
  // The stand-in's hosted page pays at once and sends the user back with the order id.
  await page.waitForURL(/\/billing\/phonepe\/return\?merchant_order_id=/);
  await expect(page.getByText("Payment received.")).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("status").filter({ hasText: "Payment received." })).toContainText("Enterprise");
  await page.goto("/billing");
  const card = page.getByRole("listitem").filter({ has: page.getByRole("heading", { level: 3, name: "Demo Solution: Enterprise" }) });
  await expect(card).toContainText("UPI (PhonePe)");
  await expect(card).toContainText("active");
  await expect(page.getByRole("table", { name: "Invoices, newest first" }).getByRole("link", { name: /Download PDF/ })).toHaveAttribute(
    "rel",
    "noopener noreferrer",
  );
  // A downgrade waits for the period's end, and says so before it is confirmed.
  await card.getByLabel("New plan for Demo Solution").selectOption({ label: "Pro" });
  await card.getByRole("button", { name: "Downgrade" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText("waits for the end of the current period");
  await expect(dialog).toContainText("From Enterprise");
  await dialog.getByRole("button", { name: "Downgrade at period end" }).click();
  await expect(page.getByText(/Demo Solution changes to Pro on /)).toBeVisible();
  await expect(card).toContainText("Scheduled change");
  // Canceling keeps the plan until the period's end.
  await card.getByRole("button", { name: "Cancel subscription" }).click();
  await expect(dialog).toContainText("you keep the Enterprise plan until then");
  await dialog.getByRole("button", { name: "Cancel at period end" }).click();
  await expect(page.getByText(/Demo Solution ends on /)).toBeVisible();
  await expect(card).toContainText("ends at the period's end, no renewal");
  await expect(card.getByRole("button", { name: "Cancel subscription" })).toHaveCount(0);
});

test("a team owner switches Usage, Billing and subscribing between their own account and the team's", async ({ page }) => {
  await signUp(page, "Tara");
  // The team is made through the API with the console's own session (the organizations area has its own tests).
  const session = await page.evaluate(() => JSON.parse(localStorage.getItem("monetization.console.session") ?? "{}") as { token: string });
  const team = await apiCall<{ org_id: string }>("POST", "/api/orgs", { token: session.token, body: { name: "Tara's Team" } });
  expect(team.status).toBe(201);
  await page.goto(`/usage?solution=${DEMO}`);
  const account = page.getByLabel("Account", { exact: true });
  await expect(account).toBeVisible();
  await expect(page.getByText("0 of 100 used")).toBeVisible();
  await account.selectOption({ label: "Tara's Team (team, owner)" });
  await expect(page.getByText("0 of 100 used")).toBeVisible();
  await expect(page.getByTestId("usage-total")).toHaveText("0 uses in this period.");
  await page.goto("/billing");
  await page.getByLabel("Billing account").selectOption({ label: "Tara's Team (team, owner)" });
  await expect(page.getByText("No subscriptions.")).toBeVisible();
  await expect(page.getByText("No payments yet.")).toBeVisible();
  await page.goto(`/catalog/${DEMO}`);
  await page.getByRole("button", { name: "Subscribe to Pro" }).click();
  await expect(page.getByLabel("Subscribe for").locator("option")).toHaveText([/^Me \(/, "Tara's Team (team, owner)"]);
  // A token acting for the team counts against the team's shared quota: near the limit, Usage suggests upgrading.
  const teamToken = await apiCall<{ token: string }>("POST", "/api/generate-token", {
    token: session.token,
    body: { solution_id: DEMO, org_id: team.body.org_id },
  });
  expect(teamToken.status).toBe(201);
  const tracked = await apiCall("POST", "/api/track-usage", { token: teamToken.body.token, body: { action: "search", quantity: 85 } });
  expect(tracked.status).toBe(200);
  await page.goto(`/usage?solution=${DEMO}`);
  await page.getByLabel("Account", { exact: true }).selectOption({ label: "Tara's Team (team, owner)" });
  await expect(page.getByText("85 of 100 used")).toBeVisible();
  await expect(page.getByText("You have used 85% of today's limit.")).toBeVisible();
  await expect(page.getByText("A team owner can upgrade the team's plan.")).toBeVisible();
  await expect(page.getByRole("link", { name: "See the plans" })).toHaveAttribute("href", `/catalog/${DEMO}`);
  await expect(page.getByRole("table", { name: /Members' shares/ }).getByRole("row")).toHaveCount(2);
});

test("an unverified user who tries to subscribe is told to verify the address", async ({ page }) => {
  await signUp(page, "Nova");
  await page.goto(`/catalog/${DEMO}`);
  await page.getByRole("button", { name: "Subscribe to Pro" }).click();
  await page.getByRole("button", { name: "Continue to payment" }).click();
  await expect(page.getByText("Verify your email address first.")).toBeVisible();
  await expect(page.getByText("Paid plans and payments need a verified address.")).toBeVisible();
  const resend = page.getByRole("button", { name: "Send the verification link again" });
  await expect(resend).toBeVisible();
  expect(page.url()).toContain(`/catalog/${DEMO}`);
});

test("at 375 px wide the pages do not scroll sideways and the menu opens from the keyboard", async ({ page }) => {
  await signUp(page, "Pia");
  await page.setViewportSize({ width: 375, height: 740 });
  for (const [path, heading] of [
    ["/", "Hello, Pia"],
    [`/usage?solution=${DEMO}`, "Usage"],
    ["/billing", "Billing"],
  ] as const) {
    await page.goto(path);
    await expect(page.getByRole("heading", { level: 1, name: heading })).toBeVisible();
    await expect(page.getByRole("status").filter({ hasText: "Loading…" })).toHaveCount(0);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, `horizontal scroll on ${path}`).toBeLessThanOrEqual(0);
  }
  const menu = page.getByRole("button", { name: "Menu" });
  await expect(page.getByRole("link", { name: "Usage", exact: true })).toBeHidden();
  await menu.focus();
  await page.keyboard.press("Enter");
  await expect(menu).toHaveAttribute("aria-expanded", "true");
  const usage = page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Usage", exact: true });
  await expect(usage).toBeVisible();
  // Tab into the navigation and follow a link with the keyboard.
  for (let i = 0; i < 10 && !(await usage.evaluate((el) => el === document.activeElement)); i += 1) await page.keyboard.press("Tab");
  await expect(usage).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/usage$/);
  await expect(menu).toHaveAttribute("aria-expanded", "false");
});

test("Home, Usage, Billing and Tokens have no serious or critical accessibility violations", async ({ page }) => {
  const email = await signUp(page, "Axel");
  await verifyEmail(page, email);
  const checks: [string, () => Promise<void>][] = [
    ["/", async () => void (await expect(page.getByTestId(`tier-${DEMO}`)).toBeVisible())],
    [`/usage?solution=${DEMO}`, async () => void (await expect(page.getByTestId("quota-used")).toBeVisible())],
    ["/billing", async () => void (await expect(page.getByRole("heading", { name: "Invoices" })).toBeVisible())],
  ];
  for (const [path, ready] of checks) {
    await page.goto(path);
    await ready();
    await expect(page.getByRole("status").filter({ hasText: "Loading…" })).toHaveCount(0);
    expect(await seriousViolations(page), path).toEqual([]);
  }
  await generateToken(page);
  await expect(page.getByRole("table", { name: "My live tokens" })).toBeVisible();
  expect(await seriousViolations(page), "/tokens").toEqual([]);
});
