// Steps the user-area specs share: paying a checkout through the local Stripe stand-in, and the accessibility
// check of a page as it is.
import AxeBuilder from "@axe-core/playwright";
import type { Page } from "@playwright/test";
import { expect, stack } from "./fixtures";

/**
 * From an open "Subscribe to …" form: pay with Stripe and wait until the subscription is active. The stand-in's
 * hosted page pays at once (test card) and links back to /billing/success, where the console waits for the
 * webhook to activate the subscription.
 */
export async function subscribeWithStripe(page: Page): Promise<void> {
  await page.getByLabel("Pay with").selectOption("stripe");
  await page.getByRole("button", { name: "Continue to payment" }).click();
  await page.waitForURL((url) => !url.href.startsWith(stack.baseUrl));
  await expect(page.getByRole("heading", { name: "Payment succeeded" })).toBeVisible();
  await page.getByRole("link", { name: /^Continue to / }).click();
  await page.waitForURL(/\/billing\/success\?session_id=/);
  await expect(page.getByText("Your subscription is active.")).toBeVisible({ timeout: 60_000 });
}

/** Serious and critical accessibility violations of the page as it is now. */
export async function seriousViolations(page: Page): Promise<string[]> {
  // @axe-core/playwright types its page with its own copy of playwright-core: the same object at run time.
  const result = await new AxeBuilder({ page: page as unknown as ConstructorParameters<typeof AxeBuilder>[0]["page"] }).analyze();
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}
