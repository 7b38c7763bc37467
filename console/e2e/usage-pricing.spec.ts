// Usage-based pricing in the user's console: the demo solution's usage-priced pro tier (5,000 events a month
// included, then ₹10 per 1,000, soft limit) on its plans and at checkout, a Stripe subscription to it, 6,000 events
// tracked with a solution token, the billing period's usage and overage on Billing, and the spending cap (set,
// refused when typed wrong, removed). One sign-up only: the suite shares the stack's 20 sign-ups an hour.
import { apiCall, expect, readmeShot, signUp, stack, test, verifyEmail } from "./fixtures";
import { seriousViolations, subscribeWithStripe } from "./helpers";

const DEMO = stack.demoSolutionId;
const TERMS = "5,000 events a month included, then ₹10.00 per 1,000 events";

test("a usage-priced plan: its terms, the period's overage on Billing, and the spending cap", async ({ page }) => {
  const email = await signUp(page, "Usha");
  await verifyEmail(page, email);

  // Subscribe to the usage-priced pro tier with Stripe. (The plans table and the checkout show a price's usage
  // terms too, but GET /api/solutions/{id} leaves `usage` out of its prices for now: asserted on Billing below.)
  await page.goto(`/catalog/${DEMO}`);
  await page.getByRole("button", { name: "Subscribe to Pro" }).click();
  await subscribeWithStripe(page);

  // The partner's backend reports 6 × 1,000 events with the user's solution token: 1,000 beyond the allowance.
  const session = await page.evaluate(() => JSON.parse(localStorage.getItem("monetization.console.session") ?? "{}") as { token: string });
  const token = await apiCall<{ token: string }>("POST", "/api/generate-token", { token: session.token, body: { solution_id: DEMO } });
  expect(token.status).toBe(201);
  const events = Array.from({ length: 6 }, (_, i) => ({ action: "search", quantity: 1_000, idempotency_key: `e2e-usage-${Date.now()}-${i}` }));
  const batch = await apiCall<{ counted: number; results: { status: number }[] }>("POST", "/api/track-usage/batch", {
    token: token.body.token,
    body: { events },
  });
  expect(batch.status).toBe(200);
  expect(batch.body.results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);

  await page.goto(`/usage?solution=${DEMO}`);
  await expect(page.getByTestId("period-line")).toHaveText(
    "This billing period: 6,000 of 5,000 included, 1,000 beyond the allowance (₹10.00 so far). Billing shows the period and its spending cap.",
  );

  await page.goto("/billing");
  const card = page.getByRole("listitem").filter({ has: page.getByRole("heading", { level: 3, name: "Demo Solution: Pro" }) });
  await expect(card.getByTestId("usage-terms")).toHaveText(TERMS);
  await expect(card.getByTestId("period-summary")).toHaveText("6,000 used of 5,000 included; 1,000 beyond the allowance");
  await expect(card.getByTestId("quota-used")).toHaveText("6,000");
  const period = card.getByRole("table", { name: "Usage this billing period" });
  await expect(period.getByRole("row", { name: /^Used / }).getByRole("cell").last()).toHaveText("6,000");
  await expect(period.getByRole("row", { name: /^Included / }).getByRole("cell").last()).toHaveText("5,000");
  await expect(period.getByRole("row", { name: /^Overage \(units/ }).getByRole("cell").last()).toHaveText("1,000");
  await expect(period.getByRole("row", { name: /^Overage charge so far/ }).getByRole("cell").last()).toHaveText("₹10.00");
  await expect(period.getByRole("row", { name: /^Projected charge/ }).getByRole("cell").last()).toHaveText(/^₹[\d,]+\.\d\d$/);
  await expect(card.getByTestId("spending-cap")).toHaveText("Current cap: no cap");

  // A cap of ₹20.00 (sent as 2000 paise), shown on the card.
  const cap = card.getByLabel("Spending cap (INR)");
  await cap.fill("20.00");
  await card.getByRole("button", { name: "Set cap" }).click();
  await expect(card.getByRole("status").filter({ hasText: "The spending cap is now ₹20.00 per billing period." })).toBeVisible();
  await expect(card.getByTestId("spending-cap")).toHaveText("Current cap: ₹20.00 of overage per billing period");
  await readmeShot(page, "billing-usage");
  expect(await seriousViolations(page), "/billing with a usage-priced subscription").toEqual([]);

  // More decimals than rupees have: refused next to the field, nothing sent.
  await cap.fill("12.345");
  await card.getByRole("button", { name: "Set cap" }).click();
  await expect(card.getByText("At most 2 digits after the decimal point.")).toBeVisible();
  await expect(cap).toHaveAttribute("aria-invalid", "true");
  await expect(card.getByTestId("spending-cap")).toHaveText("Current cap: ₹20.00 of overage per billing period");

  // The cap survives a reload (the API keeps it), then is removed.
  await page.reload();
  await expect(card.getByTestId("spending-cap")).toHaveText("Current cap: ₹20.00 of overage per billing period");
  await card.getByRole("button", { name: "Remove cap" }).click();
  await expect(card.getByRole("status").filter({ hasText: "The spending cap is removed" })).toBeVisible();
  await expect(card.getByTestId("spending-cap")).toHaveText("Current cap: no cap");
  await expect(card.getByRole("button", { name: "Remove cap" })).toHaveCount(0);

  // An invoice with an overage line. The billing run charges overage only after the period ends, so the invoice
  // list is answered with this user's real invoice made an overage invoice (the shape of Invoice.overage).
  await page.route(/\/api\/invoices\?/, async (route) => {
    const answer = await route.fetch();
    const body = (await answer.json()) as { items: Record<string, unknown>[] };
    body.items = body.items.map((i) => ({
      ...i,
      reason: "overage",
      overage: { period_start: "2026-11-03T17:50:00Z", period_end: "2026-12-03T17:50:00Z", used: 6_000, included: 5_000, units: 1_000, amount: 1_000 },
    }));
    await route.fulfill({ response: answer, json: body });
  });
  await page.reload();
  const invoice = page.getByRole("table", { name: "Invoices, newest first" }).getByRole("row").nth(1);
  await expect(invoice).toContainText("Usage beyond the allowance");
  await expect(invoice).toContainText("Overage: 1,000 units beyond the 5,000 included (6,000 used");
  await expect(invoice).toContainText("₹10.00");
  await page.unroute(/\/api\/invoices\?/);

  // At 375 px wide the usage view does not make the page scroll sideways.
  await page.setViewportSize({ width: 375, height: 740 });
  await expect(card.getByTestId("period-summary")).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});
