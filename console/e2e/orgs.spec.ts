// Organizations in the console: a team is created, a second person joins it by the invitation mail's link, is
// given and taken roles, meets the API's refusal when a role changed under an open page, and is removed; an
// unverified address is refused invitations with a way to verify; the pages pass an axe smoke test.
import AxeBuilder from "@axe-core/playwright";
import type { Page } from "@playwright/test";
import { consolePath, expect, mailMatch, readmeShot, signUp, stack, test, uniqueEmail, verifyEmail } from "./fixtures";

/** axe's serious and critical violations on the page as it is now (none expected). */
async function seriousViolations(page: Page): Promise<string[]> {
  // `as never`: @axe-core/playwright types its page with another copy of playwright-core's types (same API).
  const result = await new AxeBuilder({ page: page as never }).analyze();
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

function membersTable(page: Page) {
  return page.getByRole("table", { name: /^Members of / });
}

test("a team: create, invite by mail, accept, change roles, a refused action, remove", async ({ page: ada, browser }) => {
  const adaEmail = await signUp(ada, "Ada");
  await verifyEmail(ada, adaEmail);
  const bobEmail = uniqueEmail("bob");

  // Ada's organizations: her personal one; she creates the team Acme and lands on it as its owner.
  await ada.getByRole("link", { name: "Organizations" }).click();
  await expect(ada.getByRole("heading", { level: 1, name: "Organizations" })).toBeVisible();
  await expect(ada.getByRole("table", { name: "Your organizations" }).getByRole("row")).toHaveCount(2);
  await expect(ada.getByRole("table", { name: "Your organizations" }).getByRole("row").nth(1)).toContainText("PersonalOwner");
  expect(await seriousViolations(ada)).toEqual([]);
  await ada.getByLabel("Team name").fill("Acme");
  await ada.getByRole("button", { name: "Create team" }).click();
  await expect(ada.getByRole("heading", { level: 1, name: "Acme" })).toBeVisible();
  const orgPath = new URL(ada.url()).pathname;
  expect(orgPath).toMatch(/^\/orgs\/org_[0-9a-z]{26}$/);
  await expect(membersTable(ada).getByRole("row", { name: /Ada/ })).toContainText("Owner");

  // She invites Bob's address as a member: pending, with its expiry.
  await ada.getByLabel("Email address").fill(bobEmail);
  await ada.getByLabel("Role", { exact: true }).selectOption("member");
  await ada.getByRole("button", { name: "Send invitation" }).click();
  await expect(ada.getByRole("status").filter({ hasText: `${bobEmail} is invited as member` })).toBeVisible();
  const pendingRow = ada.getByRole("table", { name: "Pending invitations" }).getByRole("row", { name: new RegExp(bobEmail) });
  await expect(pendingRow).toContainText("Member");
  expect(await seriousViolations(ada)).toEqual([]);

  // Bob, in a browser of his own, signs up, verifies, and follows the invitation mail's link.
  const bobContext = await browser.newContext({ baseURL: stack.baseUrl });
  const bob = await bobContext.newPage();
  await signUp(bob, "Bob", bobEmail);
  await verifyEmail(bob, bobEmail);
  const [link] = await mailMatch(bobEmail, /https?:\/\/\S+\/invitations\/ivt_[0-9a-z]{26}/);
  await bob.goto(consolePath(link));
  await expect(bob.getByRole("heading", { name: "Join Acme" })).toBeVisible();
  await bob.getByRole("button", { name: "Accept the invitation to Acme" }).click();
  await expect(bob.getByRole("heading", { level: 1, name: "Acme" })).toBeVisible();
  expect(new URL(bob.url()).pathname).toBe(orgPath);
  await expect(bob.locator(".org-facts")).toContainText("Member");

  // A member sees the members but none of the owners' and admins' controls; he may leave.
  await expect(membersTable(bob).getByRole("row", { name: /Ada/ })).toBeVisible();
  await expect(bob.getByRole("button", { name: "Rename" })).toHaveCount(0);
  await expect(bob.getByRole("heading", { name: "Invitations" })).toHaveCount(0);
  await expect(bob.getByRole("heading", { name: "Transfer ownership" })).toHaveCount(0);
  await expect(bob.getByRole("button", { name: "Remove" })).toHaveCount(0);
  await expect(bob.getByRole("combobox", { name: /^Role of / })).toHaveCount(0);
  await expect(bob.getByRole("button", { name: "Leave" })).toBeVisible();
  await bob.getByRole("link", { name: "Organizations" }).click();
  await expect(bob.getByRole("row", { name: /Acme/ })).toContainText("Member");

  // Ada sees Bob among the members and makes him an admin.
  await ada.reload();
  const bobRow = membersTable(ada).getByRole("row", { name: /Bob/ });
  await expect(bobRow).toContainText(bobEmail);
  await bobRow.getByRole("combobox", { name: "Role of Bob" }).selectOption("admin");
  await bobRow.getByRole("button", { name: "Save role of Bob" }).click();
  await expect(ada.getByRole("status").filter({ hasText: "Bob is now admin." })).toBeVisible();
  await expect(ada.getByRole("table", { name: "Pending invitations" })).toHaveCount(0);
  await readmeShot(ada, "org-members");

  // As an admin Bob invites (but cannot remove the owner); then Ada makes him a member again while his page is
  // open, and his next invitation is refused by the API, which names the roles that may invite.
  await bob.goto(orgPath);
  await expect(bob.getByRole("heading", { name: "Invitations" })).toBeVisible();
  await expect(membersTable(bob).getByRole("row", { name: /Ada/ }).getByRole("button", { name: "Remove" })).toHaveCount(0);
  await bobRow.getByRole("combobox", { name: "Role of Bob" }).selectOption("member");
  await bobRow.getByRole("button", { name: "Save role of Bob" }).click();
  await expect(ada.getByRole("status").filter({ hasText: "Bob is now member." })).toBeVisible();
  await bob.getByLabel("Email address").fill(uniqueEmail("carol"));
  await bob.getByRole("button", { name: "Send invitation" }).click();
  const refusal = bob.getByRole("alert");
  await expect(refusal).toContainText("Your role does not allow this: only owner or admin may do it");
  await expect(refusal).toContainText("org_role_required");

  // Ada removes Bob; Bob's next look no longer shows Acme, and its page answers as for an unknown organization.
  await membersTable(ada).getByRole("row", { name: /Bob/ }).getByRole("button", { name: "Remove" }).click();
  await ada.getByRole("dialog").getByRole("button", { name: "Remove member" }).click();
  await expect(ada.getByRole("status").filter({ hasText: "Bob is no longer a member." })).toBeVisible();
  await expect(membersTable(ada).getByRole("row", { name: /Bob/ })).toHaveCount(0);
  await bob.goto("/orgs");
  await expect(bob.getByRole("table", { name: "Your organizations" }).getByRole("row")).toHaveCount(2);
  await expect(bob.getByRole("link", { name: "Acme" })).toHaveCount(0);
  await bob.goto(orgPath);
  await expect(bob.getByRole("alert")).toContainText("org_not_found");
  await bobContext.close();
});

test("an unverified address is refused invitations and can ask for a new verification link", async ({ page }) => {
  const email = await signUp(page, "Carol");
  await page.getByRole("link", { name: "Invitations" }).click();
  await expect(page.getByRole("alert")).toContainText("email_not_verified");
  // The sign-up mail went less than a minute ago: the API refuses another yet, and the page says so.
  await page.getByRole("button", { name: "Send a new verification link" }).click();
  const refusal = page.getByRole("alert").filter({ hasText: "Could not send a new link" });
  await expect(refusal).toContainText("too_many_requests");
  // Verified now (by the mail's link), the same page lists what waits for her: nothing.
  await verifyEmail(page, email);
  await page.goto("/invitations");
  await expect(page.getByText("No invitation is waiting for you.")).toBeVisible();
});

test("a personal organization has one member and takes no invitations", async ({ page }) => {
  await signUp(page, "Dan");
  await page.goto("/orgs");
  await page.getByRole("table", { name: "Your organizations" }).getByRole("link").first().click();
  await expect(page.getByText("This is your personal organization")).toBeVisible();
  await expect(page.getByRole("heading", { name: "Invitations" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Leave" })).toHaveCount(0);
  expect(await seriousViolations(page)).toEqual([]);
});
