// The partner and admin areas: a user applies, an admin approves; the partner drafts a solution with a free and
// a pro tier, submits it, an admin publishes it; the partner's API key tracks a user's usage through the API and
// the analytics show it. A rejected applicant sees the reason; a non-admin is refused the admin pages; axe finds
// no serious or critical violation on the main pages.
import AxeBuilder from "@axe-core/playwright";
import type { Browser, Locator, Page } from "@playwright/test";
import { PASSWORD, apiCall, expect, readmeShot, signIn, signUp, stack, test, uniqueEmail, verifyEmail } from "./fixtures";

const ONE_PIXEL_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);

/** Serious and critical accessibility violations of the page as it is now. */
async function seriousViolations(page: Page): Promise<string[]> {
  // @axe-core/playwright types its page with its own copy of playwright-core: the same object at run time.
  const result = await new AxeBuilder({ page: page as unknown as ConstructorParameters<typeof AxeBuilder>[0]["page"] }).analyze();
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/** The admin, signed in in a browser context of their own. */
async function adminPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ baseURL: stack.baseUrl });
  const page = await context.newPage();
  await signIn(page, stack.adminEmail, stack.adminPassword);
  return page;
}

/** Apply as a partner through the console (the user is signed in and verified). */
async function apply(page: Page, company: string): Promise<void> {
  await page.goto("/partner");
  await page.getByLabel("Company").fill(company);
  await page.getByLabel("Contact email").fill(uniqueEmail("finance"));
  await page.getByLabel("Website").fill("https://acme.example");
  await page.getByLabel("UPI address").fill("acmelabs@okhdfc");
  await page.getByRole("button", { name: "Send application" }).click();
  await expect(page.getByText("Your application is waiting for review.")).toBeVisible();
  await expect(page.getByText("ac•••@okhdfc")).toBeVisible();
}

/** Confirm a ConfirmButton's dialog. */
async function confirm(page: Page, opener: string, confirmLabel: string, reason?: string): Promise<void> {
  await page.getByRole("button", { name: opener, exact: true }).click();
  const dialog = page.getByRole("dialog");
  if (reason !== undefined) await dialog.getByRole("textbox").fill(reason);
  await dialog.getByRole("button", { name: confirmLabel, exact: true }).click();
  await expect(dialog).toBeHidden();
}

/** The row of a tier in a table of tiers (its row header). */
function tierRow(table: Locator, tier: string): Locator {
  return table.getByRole("row").filter({ has: table.page().getByRole("rowheader", { name: tier, exact: true }) });
}

/** Today in a time zone, as YYYY-MM-DD (the analytics' days are the solution's). */
function today(timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

test("a partner is approved, publishes a solution with a pro price, tracks usage with an API key and sees it in analytics", async ({
  page,
  browser,
}) => {
  const email = await signUp(page, "Pia");
  await verifyEmail(page, email);
  const company = `Acme Labs ${Date.now().toString(36)}`;
  await apply(page, company);
  // After a reload the console finds the application again (its organization).
  await page.reload();
  await expect(page.getByText("Your application is waiting for review.")).toBeVisible();
  await page.goto("/partner");
  await expect(page.getByText("Your application is waiting for review.")).toBeVisible();

  // The admin approves it.
  const admin = await adminPage(browser);
  await admin.goto("/admin/partners");
  await expect(admin.getByRole("row").filter({ hasText: company })).toBeVisible();
  expect(await seriousViolations(admin)).toEqual([]);
  await readmeShot(admin, "admin-partners");
  await confirm(admin, `Approve ${company}`, "Approve");
  await expect(admin.getByText(`${company} is approved.`)).toBeVisible();

  // The partner sees it, and drafts a solution with a free and a pro tier.
  await page.reload();
  await expect(page.getByRole("heading", { name: "Next steps" })).toBeVisible();
  await expect(page.getByText("your role: owner")).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
  const tabs = page.getByRole("navigation", { name: "Partner" });
  await tabs.getByRole("link", { name: "Solutions" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Solutions" })).toBeVisible();
  await expect(page.getByText("No solution yet.")).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
  await page.getByRole("link", { name: "New solution" }).click();
  const name = `Acme Search ${Date.now().toString(36)}`;
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Description").fill("Fast search over Indian company filings.");
  await page.getByLabel("Category").fill("developer-tools");
  await page.getByLabel("Tags").fill("search, india");
  await expect(page.getByLabel("Offer the Free tier")).toBeChecked();
  await page.getByLabel("Free daily limit").fill("100");
  await page.getByLabel("Offer the Pro tier").check();
  await page.getByLabel("Pro daily limit").fill("10000");
  // Exact minor units from the typed text: 499.99 → 49999 paise. A third decimal is refused before sending.
  await page.getByLabel("Pro price 1 amount").fill("499.999");
  await page.getByRole("button", { name: "Create draft" }).click();
  await expect(page.getByText("At most 2 digits after the decimal point.")).toBeVisible();
  await page.getByLabel("Pro price 1 amount").fill("499.99");
  await page.getByRole("button", { name: "Create draft" }).click();
  await expect(page.getByText("The draft was created.")).toBeVisible();
  const solutionId = /solutions\/(sol_[0-9a-z]{26})/.exec(page.url())?.[1] ?? "";
  expect(solutionId).not.toBe("");
  const live = page.getByRole("table", { name: "Tiers and prices", exact: true });
  await expect(tierRow(live, "pro")).toContainText("₹499.99");
  await expect(tierRow(live, "free")).toContainText("100");
  await readmeShot(page, "partner-solution");
  // A logo goes from the browser straight to storage (S3's presigned PUT; moto here), which the console's CSP
  // (connect-src) and the bucket's CORS both allow.
  await page.getByLabel("Kind").selectOption("logo");
  await page.getByLabel("File").setInputFiles({ name: "logo.png", mimeType: "image/png", buffer: ONE_PIXEL_PNG });
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  await expect(page.getByText("Uploaded.")).toBeVisible();
  await expect(page.getByText(/^logo: /)).toBeVisible();
  // A phone-sized screen: no horizontal page scroll on the form.
  await page.setViewportSize({ width: 375, height: 800 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByRole("button", { name: "Submit for review" }).click();
  await expect(page.getByText("Submitted for review.")).toBeVisible();

  // The admin publishes it.
  await admin.goto("/admin/solutions");
  await expect(admin.getByRole("heading", { name })).toBeVisible();
  await confirm(admin, `Approve ${name}`, "Approve");
  await expect(admin.getByText(`${name} is published.`)).toBeVisible();

  await page.reload();
  await expect(page.getByText("the catalog shows it")).toBeVisible();

  // A new price of a published solution waits for the admin, who sees it against the live one.
  await page.getByLabel("Pro price 1 amount").fill("599");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("The change of tiers or prices waits for an administrator's approval.")).toBeVisible();
  const pending = page.getByRole("table", { name: "Pending change of tiers and prices against the live ones" });
  await expect(tierRow(pending, "pro")).toContainText("changed");
  await expect(tierRow(live, "pro")).toContainText("₹499.99");
  await admin.getByLabel("Show").selectOption("changes");
  const diff = admin.getByRole("article", { name });
  const proChange = tierRow(diff, "pro");
  await expect(proChange).toContainText("changed");
  await expect(proChange).toContainText("₹499.99");
  await expect(proChange).toContainText("₹599.00");
  await readmeShot(admin, "admin-solutions");
  await confirm(admin, `Approve ${name}`, "Approve");
  await expect(admin.getByText(`The change of ${name} is approved.`)).toBeVisible();
  await page.reload();
  await expect(tierRow(live, "pro")).toContainText("₹599.00");

  // The admin overrides the pro tier's daily limit; the catalog shows it.
  await admin.goto("/admin/tier-limits");
  await admin.getByLabel("Solution id").fill(solutionId);
  await admin.getByLabel("Tier", { exact: true }).selectOption("pro");
  await admin.getByLabel("Daily limit").fill("20000");
  await admin.getByRole("button", { name: "Set limits" }).click();
  await expect(admin.getByRole("status").filter({ hasText: "daily 20,000" })).toBeVisible();
  await expect(tierRow(admin.getByRole("table", { name: "Tiers of", exact: false }), "pro")).toContainText("20,000");

  // An API key, shown once.
  await tabs.getByRole("link", { name: "API keys" }).click();
  await page.getByLabel("Key name").fill("backend");
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = page.getByRole("textbox", { name: "API key", exact: true });
  await expect(secret).toBeVisible();
  const key = await secret.inputValue();
  expect(key).toMatch(/^mk_/);
  await readmeShot(page, "partner-api-key");
  await page.getByRole("button", { name: "Done" }).click();
  await page.reload();
  await expect(page.getByRole("row").filter({ hasText: "backend" })).toContainText("active");
  expect(await page.content()).not.toContain(key);

  // A user of the solution (a token makes their free entitlement), tracked by the partner's backend with the key.
  const customer = await apiCall<{ user_id: string; access_token: string }>("POST", "/api/auth/register", {
    body: { name: "Cara", email: uniqueEmail("cara"), password: PASSWORD },
  });
  expect(customer.status).toBe(201);
  const token = await apiCall("POST", "/api/generate-token", { token: customer.body.access_token, body: { solution_id: solutionId } });
  expect(token.status).toBe(201);
  const tracked = await apiCall<{ used: number }>("POST", "/api/track-usage", {
    apiKey: key,
    body: { action: "search", quantity: 3, solution_id: solutionId, customer_id: customer.body.user_id },
  });
  expect(tracked.status).toBe(200);
  expect(tracked.body.used).toBe(3);

  // The analytics show it: the numbers of the charts' tables.
  await tabs.getByRole("link", { name: "Analytics" }).click();
  const day = today("Asia/Kolkata");
  const usage = page.getByRole("figure", { name: "Usage per day" });
  await expect(usage).toBeVisible();
  await readmeShot(page, "partner-analytics");
  await usage.getByText("Show the numbers").click();
  await expect(usage.getByRole("row").filter({ has: page.getByRole("rowheader", { name: day }) })).toContainText("3");
  const users = page.getByRole("figure", { name: "Active users per day" });
  await users.getByText("Show the numbers").click();
  const usersRow = users.getByRole("row").filter({ has: page.getByRole("rowheader", { name: day }) });
  await expect(usersRow.getByRole("cell").first()).toHaveText("1");
  expect(await seriousViolations(page)).toEqual([]);
  await admin.context().close();
});

test("a rejected applicant sees the reason", async ({ page, browser }) => {
  const email = await signUp(page, "Raj");
  await verifyEmail(page, email);
  const company = `Shady Corp ${Date.now().toString(36)}`;
  await apply(page, company);

  const admin = await adminPage(browser);
  await admin.goto("/admin/partners");
  await confirm(admin, `Reject ${company}`, "Reject", "The website does not describe any product.");
  await expect(admin.getByText(`${company} is rejected.`)).toBeVisible();
  await admin.getByLabel("Status").selectOption("rejected");
  await expect(admin.getByRole("row").filter({ hasText: company })).toContainText("The website does not describe any product.");
  await admin.context().close();

  await page.goto("/partner");
  await expect(page.getByText("Your application was rejected.")).toBeVisible();
  await expect(page.getByText("The website does not describe any product.")).toBeVisible();
  await expect(page.getByRole("heading", { name: "Apply again" })).toBeVisible();
});

test("a user who is not an admin is refused the admin pages", async ({ page }) => {
  await signUp(page, "Nia");
  await page.goto("/admin/partners");
  await expect(page.getByRole("heading", { level: 1, name: "Not allowed" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Partners" })).toHaveCount(0);
});
