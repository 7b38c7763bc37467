// The console's shell: routing and guards, signing up, out and in, the session surviving a reload, the 404 page,
// and no Content-Security-Policy violation or script error on the way.
import { PASSWORD, expect, signUp, test, uniqueEmail } from "./fixtures";

test("a signed-out visitor is sent to sign in, and comes back where they wanted to go", async ({ page }) => {
  await page.goto("/tokens");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Ftokens$/);
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
  const email = await signUp(page, "Grace");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.goto("/tokens");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/tokens$/);
});

test("the session survives a reload and ends on sign out (revoked on the server)", async ({ page }) => {
  const email = await signUp(page, "Linus");
  await page.reload();
  await expect(page.getByText(email, { exact: true })).toBeVisible();
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem("monetization.console.session") ?? "{}").token as string);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("link", { name: "Sign in" }).first()).toBeVisible();
  expect(await page.evaluate(() => localStorage.getItem("monetization.console.session"))).toBeNull();
  const answer = await page.request.get("/api/user-context", { headers: { authorization: `Bearer ${token}` } });
  expect(answer.status()).toBe(401);
});

test("wrong credentials are refused with the API's problem, named", async ({ page }) => {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(uniqueEmail("nobody"));
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("Code: invalid_credentials");
});

test("a short password is refused next to its field", async ({ page }) => {
  await page.goto("/sign-up");
  await page.getByLabel("Name").fill("Ada");
  await page.getByLabel("Email").fill(uniqueEmail("ada"));
  // The browser's own check (minlength) is bypassed to see the API's answer.
  await page.getByLabel("Password").evaluate((input) => input.removeAttribute("minlength"));
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("alert")).toContainText("password");
  await expect(page.getByLabel("Password")).toHaveAttribute("aria-invalid", "true");
});

test("an unknown page says so; the skip link reaches the content", async ({ page }) => {
  await page.goto("/no/such/page");
  await expect(page.getByRole("heading", { level: 1, name: "Page not found" })).toBeVisible();
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Skip to content" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.locator("main")).toBeFocused();
});
