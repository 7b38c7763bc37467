// The admin area's audit trail: an applicant (made through the API: one sign-up) applies as a partner, the admin
// rejects the application with a reason in the console and finds the decision on /admin/audit by kind and by
// actor (the filters in the address); the applicant's own revocations page with "More"; the applicant is refused
// the page; axe finds no serious or critical violation (at the desktop width, as the other specs check: at 375 px
// it reports the shared Table's scrolling frame, which holds nothing focusable here); no page scroll at 375 px.
import AxeBuilder from "@axe-core/playwright";
import type { Page } from "@playwright/test";
import { PASSWORD, apiCall, expect, mailMatch, readmeShot, signIn, signOut, stack, test, uniqueEmail } from "./fixtures";

/** Serious and critical accessibility violations of the page as it is now. */
async function axeFindings(page: Page): Promise<string[]> {
  // @axe-core/playwright types its page with its own copy of playwright-core: the same object at run time.
  const result = await new AxeBuilder({ page: page as unknown as ConstructorParameters<typeof AxeBuilder>[0]["page"] }).analyze();
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

interface Applicant {
  email: string;
  userId: string;
  token: string;
  partnerId: string;
}

/** A verified user who applied as a partner, all through the API (what the partner pages do is partner.spec's). */
async function applicant(company: string): Promise<Applicant> {
  const email = uniqueEmail("applicant");
  const registered = await apiCall<{ user_id: string; access_token: string }>("POST", "/api/auth/register", {
    body: { name: "Abe", email, password: PASSWORD },
  });
  expect(registered.status).toBe(201);
  const [, link] = await mailMatch(email, /verify-email\?token=([A-Za-z0-9_-]+)/);
  expect((await apiCall("POST", "/api/auth/verify-email", { body: { token: link } })).status).toBe(200);
  const token = registered.body.access_token;
  const applied = await apiCall<{ partner_id: string }>("POST", "/api/partners/apply", {
    token,
    body: {
      company,
      contact_email: uniqueEmail("finance"),
      website: "https://shady.example",
      payout: { method: "upi", details: { vpa: "shady@okhdfc" } },
    },
  });
  expect(applied.status, JSON.stringify(applied.body)).toBe(201);
  return { email, userId: registered.body.user_id, token, partnerId: applied.body.partner_id };
}

test("an admin's rejection is in the audit trail, found by kind and by actor", async ({ page }) => {
  const company = `Shady Corp ${Date.now().toString(36)}`;
  const abe = await applicant(company);
  const reason = "The website does not describe any product.";

  await signIn(page, stack.adminEmail, stack.adminPassword);
  await page.goto("/admin/partners");
  await page.getByRole("button", { name: `Reject ${company}`, exact: true }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("textbox").fill(reason);
  await dialog.getByRole("button", { name: "Reject", exact: true }).click();
  await expect(page.getByText(`${company} is rejected.`)).toBeVisible();

  // The navigation leads to the trail; the decision is there, filtered by its kind.
  await page.getByRole("link", { name: "Audit", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Audit trail" })).toBeVisible();
  await page.getByLabel("Kind").selectOption("partner.rejected");
  await page.getByRole("button", { name: "Show", exact: true }).click();
  await expect(page).toHaveURL(/\/admin\/audit\?kind=partner\.rejected$/);
  const trail = page.getByRole("table", { name: "Audit records, newest first" });
  const row = trail.getByRole("row").filter({ hasText: `partner#${abe.partnerId}` });
  await expect(row).toContainText(reason);
  await expect(row).toContainText("Partner rejected");
  const rows = trail.getByRole("row");
  for (const kind of await trail.locator("tbody code.muted").allTextContents()) expect(kind).toBe("partner.rejected");
  const actor = (await row.getByRole("cell").nth(2).textContent()) ?? "";
  expect(actor).toMatch(/^usr_[0-9a-z]{26}$/);
  expect(await axeFindings(page)).toEqual([]);
  await readmeShot(page, "admin-audit");

  // By the admin as actor (every kind): the decision, and the admin's own sign-in.
  await page.getByLabel("Kind").selectOption("");
  await page.getByLabel("Actor").fill(actor);
  await page.getByRole("button", { name: "Show", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`actor=${actor}`));
  await expect(row).toContainText(reason);
  await expect(rows.filter({ hasText: "auth.login" }).first()).toBeVisible();
  for (const cell of await trail.locator("tbody tr td:nth-child(3)").allTextContents()) expect(cell).toBe(actor);
  // After a reload the view is the same (the filters are in the address).
  await page.reload();
  await expect(page.getByLabel("Actor")).toHaveValue(actor);
  await expect(row).toContainText(reason);

  // A filter the API refuses is named next to its field.
  await page.getByLabel("Actor").fill("admin");
  await page.getByRole("button", { name: "Show", exact: true }).click();
  await expect(page.getByText("must be a user id (usr_…) or system").first()).toBeVisible();
  await expect(page.getByLabel("Actor")).toHaveAttribute("aria-invalid", "true");

  // Eleven revocations of the applicant's tokens, ten a page: "More" reads the eleventh.
  for (let n = 0; n < 11; n++) {
    const made = await apiCall<{ token: string }>("POST", "/api/generate-token", {
      token: abe.token,
      body: { solution_id: stack.demoSolutionId },
    });
    expect(made.status).toBe(201);
    expect((await apiCall("DELETE", "/api/revoke-token", { token: abe.token, body: { token: made.body.token } })).status).toBe(204);
  }
  await page.goto(`/admin/audit?actor=${abe.userId}&kind=token.revoked&limit=10`);
  await expect(page.getByLabel("Per page")).toHaveValue("10");
  await expect(rows).toHaveCount(11);
  await page.getByRole("button", { name: "More", exact: true }).click();
  await expect(rows).toHaveCount(12);
  await expect(page.getByRole("button", { name: "More", exact: true })).toHaveCount(0);
  await expect(rows.filter({ hasText: "revoked_by_owner" })).toHaveCount(11);

  expect(await axeFindings(page)).toEqual([]);
  // A phone-sized screen: the table scrolls inside its frame, never the page.
  await page.setViewportSize({ width: 375, height: 800 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
  await page.setViewportSize({ width: 1280, height: 800 });

  // The applicant may not read it.
  await signOut(page);
  await signIn(page, abe.email);
  await page.goto("/admin/audit");
  await expect(page.getByRole("heading", { level: 1, name: "Not allowed" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Audit", exact: true })).toHaveCount(0);
});
