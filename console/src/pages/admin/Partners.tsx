// `/admin/partners`: partner applications by status; a pending one is approved, or rejected with a reason the
// applicant sees. Every decision is kept as an audit record by the API.
import type { components } from "@monetization/sdk";
import { api } from "../../session";
import { ConfirmButton, DateTime, Page, StatusBadge, Table } from "../../ui/components";
import { StatusList, useStatusList } from "./StatusList";

type Status = "pending" | "approved" | "rejected" | "suspended";
type Partner = components["schemas"]["Partner"];

export function AdminPartners() {
  const state = useStatusList<Status, components["schemas"]["PartnerList"]>("pending", (status, cursor) =>
    api.request("get", "/api/admin/partners", { query: { status, cursor } }),
  );
  const status = state.status;
  return (
    <Page title="Partner applications">
      <StatusList
        label="Status"
        what="the applications"
        state={state}
        options={[
          { value: "pending", label: "Pending (to review)" },
          { value: "approved", label: "Approved" },
          { value: "rejected", label: "Rejected" },
          { value: "suspended", label: "Suspended" },
        ]}
      >
        {(data) => (
          <Table
            caption={`Partners: ${status}`}
            rows={data.partners ?? []}
            rowKey={(p) => p.partner_id ?? ""}
            empty={`No ${status} application.`}
            columns={[
              {
                header: "Company",
                cell: (p) => (
                  <>
                    <strong>{p.company}</strong>
                    <br />
                    <code class="muted">{p.partner_id}</code>
                  </>
                ),
              },
              {
                header: "Contact",
                cell: (p) => (
                  <>
                    {p.contact_email}
                    <br />
                    {p.website ?? ""}
                  </>
                ),
              },
              { header: "GSTIN", cell: (p) => p.gstin ?? "—" },
              { header: "Payout", cell: (p) => `${p.payout?.method ?? "—"} ${p.payout?.details ?? ""}` },
              { header: "Applied", cell: (p) => <DateTime value={p.created_at} /> },
              {
                header: "Status",
                cell: (p) => (
                  <>
                    <StatusBadge status={p.status ?? "pending"} />
                    {p.decision_reason && <p class="muted">Reason: {p.decision_reason}</p>}
                  </>
                ),
              },
              { header: "Actions", cell: (p) => (p.status === "pending" ? <Decide partner={p} onDone={state.done} /> : "—") },
            ]}
          />
        )}
      </StatusList>
    </Page>
  );
}

function Decide(props: { partner: Partner; onDone: (text: string) => void }) {
  const id = props.partner.partner_id ?? "";
  const company = props.partner.company ?? id;
  return (
    <div class="actions">
      <ConfirmButton
        label={`Approve ${company}`}
        kind="primary"
        title={`Approve ${company}?`}
        description={<p>The applicant becomes a partner at once, with the default commission.</p>}
        reason={{ label: "Note (optional)" }}
        confirmLabel="Approve"
        onConfirm={async (reason) => {
          await api.request("post", "/api/admin/partners/{id}/approve", { path: { id }, body: reason ? { reason } : {} });
          props.onDone(`${company} is approved.`);
        }}
      />
      <ConfirmButton
        label={`Reject ${company}`}
        kind="danger"
        title={`Reject ${company}?`}
        description={<p>The applicant sees the reason and may apply again.</p>}
        reason={{ label: "Reason", required: true }}
        confirmLabel="Reject"
        onConfirm={async (reason) => {
          await api.request("post", "/api/admin/partners/{id}/reject", { path: { id }, body: { reason } });
          props.onDone(`${company} is rejected.`);
        }}
      />
    </div>
  );
}
