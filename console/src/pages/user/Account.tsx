import { ApiError } from "@monetization/sdk";
import { useLocation } from "preact-iso";
import { useState } from "preact/hooks";
import { api, forgetSession } from "../../session";
import { Button, ConfirmButton, Field, Notice, Page, ProblemAlert, Section, fieldErrors, formatDate } from "../../ui/components";
import { useAction } from "../../ui/data";
import type { Schemas } from "./shared";

type Erased = Schemas["AccountErased"];

/** What to do about each refusal of `DELETE /api/me` (409): the API's detail says what is in the way. */
const BLOCKERS: Record<string, { todo: string; link?: { href: string; label: string } }> = {
  org_has_other_members: {
    todo: "Transfer the ownership of your organizations that have other members, or remove the members, first.",
    link: { href: "/orgs", label: "Go to your organizations" },
  },
  partner_solutions_live: {
    todo: "Retire your partner solutions first.",
    link: { href: "/partner", label: "Go to your partner area" },
  },
  partner_payout_pending: { todo: "Wait until your pending payout has been paid, then try again." },
  subscription_active: {
    todo: "Cancel your subscriptions first (they end at their period end), then try again.",
    link: { href: "/billing", label: "Go to billing to cancel" },
  },
  payment_pending: { todo: "A payment or refund is not final yet. Wait for it to complete, then try again." },
  concurrent_update: { todo: "Something changed at the same time. Try again." },
};

/** The date the export is named after (the UTC day it was made). */
function exportFileName(generatedAt: string | undefined): string {
  const day = (generatedAt ?? new Date().toISOString()).slice(0, 10);
  return `marketplace-export-${day}.json`;
}

/** Offer `data` as a download: a blob URL on a programmatic link (no inline script: the CSP allows it), revoked after. */
function download(data: unknown, fileName: string): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.hidden = true;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The sentence the sign-in page shows after the erasure: what was kept, until when. */
function erasedNotice(erased: Erased): string {
  const k = erased.kept;
  const keptCount = k.invoices + k.payments_and_refunds + k.ledger_postings + k.subscriptions;
  if (keptCount === 0 || !k.kept_until)
    return "Your account was deleted. No invoices or payment records had to be kept.";
  return (
    `Your account was deleted. As the law requires, ${k.invoices} invoice(s) and ${k.payments_and_refunds} ` +
    `payment and refund record(s) are kept, under your user id only, until ${formatDate(k.kept_until, false)} ` +
    `(${k.retention_months} months after the annual tax return of their financial year).`
  );
}

/** `/account`: the user's data rights: an export of everything about them, and the erasure of the account. */
export function Account() {
  return (
    <Page title="Account">
      <ExportSection />
      <DeleteSection />
    </Page>
  );
}

function ExportSection() {
  const exported = useAction(async () => {
    const data = await api.request("get", "/api/me/export");
    const fileName = exportFileName(data.generated_at);
    download(data, fileName);
    return fileName;
  });
  return (
    <Section title="Your data">
      <p>
        Download everything the marketplace holds about you as one JSON file: your account, sessions and tokens (by id
        and time, never the tokens themselves), organizations, invitations, subscriptions, payments and refunds,
        invoices, usage, reviews, your partner profile if you have one, and the audit records about you. Invoice PDFs
        are on the <a href="/billing/invoices">invoices page</a>.
      </p>
      <Button kind="primary" pending={exported.pending} onClick={() => void exported.run()}>
        Download your data
      </Button>
      {exported.result && (
        <Notice kind="success">
          Your data was downloaded as <code>{exported.result}</code>.
        </Notice>
      )}
      <ProblemAlert error={exported.error} title="Could not export your data" />
    </Section>
  );
}

function DeleteSection() {
  const { route } = useLocation();
  const [password, setPassword] = useState("");
  const [confirmed, setConfirmed] = useState(false);
  const [missing, setMissing] = useState<Record<string, string>>({});
  const erase = useAction(async () => {
    const erased = await api.request("delete", "/api/me", { body: { password, confirm: true } });
    // The server revoked the session with the account: forget it here without calling the API again.
    route("/sign-in", true);
    forgetSession(erasedNotice(erased));
    return erased;
  });
  const apiErrors = fieldErrors(erase.error);
  const code = erase.error instanceof ApiError ? erase.error.code : undefined;
  const wrongPassword = code === "reauthentication_failed";
  const errors: Record<string, string> = {
    ...apiErrors,
    ...(wrongPassword ? { password: "The password is incorrect." } : {}),
    ...missing,
  };
  const blocker = erase.error instanceof ApiError && erase.error.status === 409 ? BLOCKERS[code ?? ""] : undefined;
  const confirm = async () => {
    const next: Record<string, string> = {};
    if (!password) next["password"] = "Enter your current password.";
    if (!confirmed) next["confirm"] = "Tick the box to confirm that you want your account deleted.";
    setMissing(next);
    if (Object.keys(next).length === 0) await erase.run();
  };
  return (
    <Section title="Delete your account">
      <p>Deleting your account cannot be undone. It erases:</p>
      <ul>
        <li>your profile (name, email address and password), so you can no longer sign in;</li>
        <li>every session and solution token, and your partner API keys;</li>
        <li>your organization memberships (an organization you are alone in is deleted), invitations and usage;</li>
        <li>the text of your reviews (their rating stays, shown as by "Deleted user").</li>
      </ul>
      <p>
        Kept, as the law requires, under your user id only: your invoices (without your name, address and email) and
        your payments, refunds and subscriptions, for 72 months after the annual tax return of their financial year;
        and the audit trail. Download your data first if you want a copy.
      </p>
      {/* Not a <form>: the confirmation's dialog holds its own form. */}
      <div class="narrow">
        <Field
          label="Current password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onInput={(value) => {
            setPassword(value);
            setMissing(({ password: _, ...rest }) => rest);
          }}
          error={errors["password"]}
        />
        <div class={`field${errors["confirm"] ? " field-invalid" : ""}`}>
          <label class="check">
            <input
              type="checkbox"
              name="confirm"
              checked={confirmed}
              required
              aria-invalid={errors["confirm"] ? true : undefined}
              aria-describedby={errors["confirm"] ? "erase-confirm-error" : undefined}
              onChange={(e) => {
                setConfirmed((e.currentTarget as HTMLInputElement).checked);
                setMissing(({ confirm: _, ...rest }) => rest);
              }}
            />
            I understand that my account and data are erased for good
          </label>
          {errors["confirm"] && (
            <p id="erase-confirm-error" class="field-error">
              {errors["confirm"]}
            </p>
          )}
        </div>
        <ProblemAlert error={erase.error} title="Your account was not deleted" />
        {blocker && (
          <div class="alert alert-warning" role="status">
            <p>{blocker.todo}</p>
            {blocker.link && (
              <p>
                <a href={blocker.link.href}>{blocker.link.label}</a>
              </p>
            )}
          </div>
        )}
        <ConfirmButton
          label="Delete my account"
          title="Delete your account?"
          description={<p>Your account is erased now and you are signed out. This cannot be undone.</p>}
          confirmLabel="Delete my account for good"
          kind="danger"
          onConfirm={confirm}
        />
      </div>
    </Section>
  );
}
