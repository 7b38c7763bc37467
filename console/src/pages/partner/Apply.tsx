// The partner application: company, contact, website, GSTIN (optional) and payout details (bank or UPI). The
// payout details go to the API once and are sealed there; the console never shows them again except masked.
import { ApiError } from "@monetization/sdk";
import { useLocation } from "preact-iso";
import { useState } from "preact/hooks";
import { api, reloadSession } from "../../session";
import { Button, Field, ProblemAlert, Select, fieldErrors } from "../../ui/components";
import { useAction } from "../../ui/data";
import { partnerPath } from "./common";

export function ApplyForm(props: { again?: boolean }) {
  const { route } = useLocation();
  const [company, setCompany] = useState("");
  const [contactEmail, setContactEmail] = useState("");
  const [website, setWebsite] = useState("https://");
  const [gstin, setGstin] = useState("");
  const [method, setMethod] = useState<"bank" | "upi">("upi");
  const [vpa, setVpa] = useState("");
  const [accountName, setAccountName] = useState("");
  const [accountNumber, setAccountNumber] = useState("");
  const [ifsc, setIfsc] = useState("");
  const [exists, setExists] = useState(false);
  const apply = useAction(async () => {
    const payout =
      method === "upi"
        ? { method: "upi" as const, details: { vpa: vpa.trim() } }
        : {
            method: "bank" as const,
            details: {
              account_name: accountName.trim(),
              account_number: accountNumber.replace(/\s/g, ""),
              ifsc: ifsc.trim().toUpperCase(),
            },
          };
    try {
      const partner = await api.request("post", "/api/partners/apply", {
        body: {
          company: company.trim(),
          contact_email: contactEmail.trim(),
          website: website.trim(),
          ...(gstin.trim() ? { gstin: gstin.trim().toUpperCase() } : {}),
          payout,
        },
      });
      const id = partner.partner_id ?? "";
      // Reading the application gives it its organization (the applicant its owner), so it is found again
      // after a reload through GET /api/orgs.
      await api.request("get", "/api/partners/{id}", { path: { id } }).catch(() => undefined);
      await reloadSession();
      route(partnerPath(id));
      return partner;
    } catch (error) {
      if (error instanceof ApiError && error.code === "partner_exists") {
        // The caller already has an application (its organization exists now): show it.
        setExists(true);
        await reloadSession();
      }
      throw error;
    }
  });
  const errors = fieldErrors(apply.error);
  return (
    <form
      class="card apply-form"
      aria-labelledby="apply-title"
      onSubmit={(e) => {
        e.preventDefault();
        void apply.run();
      }}
    >
      <h2 id="apply-title">{props.again ? "Apply again" : "Apply to become a partner"}</h2>
      <p class="muted">
        An administrator reviews every application. Your email address must be verified. Payout details are stored
        sealed and only ever shown masked.
      </p>
      <Field label="Company" name="company" required minLength={2} maxLength={200} value={company} onInput={setCompany} error={errors["company"]} autoComplete="organization" />
      <Field label="Contact email" name="contact_email" type="email" required maxLength={254} value={contactEmail} onInput={setContactEmail} error={errors["contact_email"]} autoComplete="email" />
      <Field label="Website" name="website" type="url" required maxLength={200} hint="An https:// address." value={website} onInput={setWebsite} error={errors["website"]} autoComplete="url" />
      <Field label="GSTIN (optional)" name="gstin" maxLength={15} hint="15 characters, e.g. 27AAPFU0939F1ZV." value={gstin} onInput={setGstin} error={errors["gstin"]} autoComplete="off" />
      <fieldset class="fieldset">
        <legend>Payout details</legend>
        <Select
          label="Payout method"
          name="payout_method"
          value={method}
          onChange={(v) => setMethod(v as "bank" | "upi")}
          options={[
            { value: "upi", label: "UPI" },
            { value: "bank", label: "Bank account" },
          ]}
          error={errors["payout.method"] ?? errors["payout"]}
        />
        {method === "upi" ? (
          <Field label="UPI address" name="vpa" required hint="Like name@bank." value={vpa} onInput={setVpa} error={errors["payout.details.vpa"]} autoComplete="off" />
        ) : (
          <>
            <Field label="Account holder name" name="account_name" required value={accountName} onInput={setAccountName} error={errors["payout.details.account_name"]} autoComplete="off" />
            <Field label="Account number" name="account_number" required inputMode="numeric" hint="9 to 18 digits." value={accountNumber} onInput={setAccountNumber} error={errors["payout.details.account_number"]} autoComplete="off" />
            <Field label="IFSC" name="ifsc" required hint="Like HDFC0001234." value={ifsc} onInput={setIfsc} error={errors["payout.details.ifsc"]} autoComplete="off" />
          </>
        )}
      </fieldset>
      <ProblemAlert error={apply.error} title="Could not send the application" />
      {exists && (
        <p>
          <a href="/partner">See your application</a>
        </p>
      )}
      <Button type="submit" kind="primary" pending={apply.pending}>
        Send application
      </Button>
    </form>
  );
}
