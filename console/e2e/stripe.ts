// Paying a subscription's checkout through the local Stripe stand-in: its hosted page pays at once (test card)
// and links back to /billing/success, where the console waits for the webhook to activate the subscription.
import type { Page } from "@playwright/test";
import { expect, stack } from "./fixtures";

/** From an open "Subscribe to …" form: pay with Stripe and wait until the subscription is active. */
export async function subscribeWithStripe(page: Page): Promise<void> {
  await page.getByLabel("Pay with").selectOption("stripe");
  await page.getByRole("button", { name: "Continue to payment" }).click();
  await page.waitForURL((url) => !url.href.startsWith(stack.baseUrl));
  await expect(page.getByRole("heading", { name: "Payment succeeded" })).toBeVisible();
  await page.getByRole("link", { name: /^Continue to / }).click();
  await page.waitForURL(/\/billing\/success\?session_id=/);
  await expect(page.getByText("Your subscription is active.")).toBeVisible({ timeout: 60_000 });
}
