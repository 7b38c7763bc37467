// The user's data rights: the export of everything about them as a download, and the erasure of the account
// (a wrong password refused, then erased: signed out with what was kept, and the credentials no longer work).
import { readFileSync } from "node:fs";
import { PASSWORD, expect, readmeShot, signUp, test, verifyEmail } from "./fixtures";

test("a user downloads their data, then deletes their account", async ({ page }) => {
  const email = await signUp(page, "Ada");
  await verifyEmail(page, email);

  await page.goto("/account");
  await expect(page.getByRole("heading", { level: 1, name: "Account" })).toBeVisible();
  await expect(page.getByRole("heading", { level: 2, name: "Your data" })).toBeVisible();
  await expect(page.getByRole("heading", { level: 2, name: "Delete your account" })).toBeVisible();
  await readmeShot(page, "account");

  // The export: a JSON file named after the day, holding the account.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download your data" }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^marketplace-export-\d{4}-\d{2}-\d{2}\.json$/);
  const file = await download.path();
  const data = JSON.parse(readFileSync(file, "utf8")) as { format_version: number; account: { email: string } };
  expect(data.format_version).toBe(1);
  expect(data.account.email).toBe(email);
  await expect(page.getByRole("status").filter({ hasText: "Your data was downloaded" })).toBeVisible();

  // Nothing entered: the page asks for the password and the confirmation, without calling the API.
  const password = page.getByLabel("Current password");
  const dialog = page.getByRole("dialog", { name: "Delete your account?" });
  await page.getByRole("button", { name: "Delete my account", exact: true }).click();
  await dialog.getByRole("button", { name: "Delete my account for good" }).click();
  await expect(page.getByText("Enter your current password.")).toBeVisible();
  await expect(page.getByText("Tick the box to confirm")).toBeVisible();

  // A refusal (409) shows the API's detail and what to do: here a subscription still renewing (answered by the
  // test, once: subscribing for real is user.spec.ts's job), with the way to the billing page to cancel it.
  await page.route(
    "**/api/me",
    (route) =>
      route.request().method() === "DELETE"
        ? route.fulfill({
            status: 409,
            contentType: "application/problem+json",
            body: JSON.stringify({
              type: "https://docs.monetization.example/problems/subscription_active",
              title: "Conflict",
              status: 409,
              code: "subscription_active",
              detail: "a subscription renews: cancel it first",
            }),
          })
        : route.fallback(),
    { times: 1 },
  );
  await password.fill(PASSWORD);
  await page.getByLabel("I understand that my account and data are erased for good").check();
  await page.getByRole("button", { name: "Delete my account", exact: true }).click();
  await dialog.getByRole("button", { name: "Delete my account for good" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "a subscription renews: cancel it first" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Go to billing to cancel" })).toHaveAttribute("href", "/billing");

  // On a phone-sized screen the page does not scroll sideways.
  await page.setViewportSize({ width: 375, height: 800 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
  await page.setViewportSize({ width: 1280, height: 800 });

  // A wrong password: refused (403), the error next to the field; still signed in.
  await password.fill("not the password at all");
  await page.getByRole("button", { name: "Delete my account", exact: true }).click();
  await dialog.getByRole("button", { name: "Delete my account for good" }).click();
  await expect(page.getByText("The password is incorrect.")).toBeVisible();
  await expect(password).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByRole("alert").filter({ hasText: "Your account was not deleted" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();

  // The right one: erased, signed out, on the sign-in page with the notice.
  await password.fill(PASSWORD);
  await page.getByRole("button", { name: "Delete my account", exact: true }).click();
  await dialog.getByRole("button", { name: "Delete my account for good" }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: "Your account was deleted." })).toBeVisible();
  await expect(page.getByRole("link", { name: "Sign in" }).first()).toBeVisible();

  // The same credentials no longer sign in.
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Could not sign in" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Sign out" })).toHaveCount(0);
  expect(new URL(page.url()).pathname).toBe("/sign-in");
});
