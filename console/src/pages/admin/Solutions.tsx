// `/admin/solutions`: submissions to publish or send back (with a reason), published solutions' waiting changes
// of tiers and prices (shown against the live ones), and suspension / reinstatement of published solutions.
import type { components } from "@monetization/sdk";
import { api } from "../../session";
import { ConfirmButton, DateTime, Page, StatusBadge } from "../../ui/components";
import { StatusList, useStatusList } from "./StatusList";
import { TiersDiff, TiersTable, type PartnerSolution } from "../partner/common";

type Status = "submitted" | "changes" | "published" | "suspended" | "draft" | "retired";

export function AdminSolutions() {
  const state = useStatusList<Status, components["schemas"]["PartnerSolutionList"]>("submitted", (status, cursor) =>
    api.request("get", "/api/admin/solutions", { query: { status, cursor } }),
  );
  return (
    <Page title="Solutions to review">
      <StatusList
        label="Show"
        what="the solutions"
        state={state}
        options={[
          { value: "submitted", label: "Submitted (to review)" },
          { value: "changes", label: "Published, with a change waiting" },
          { value: "published", label: "Published" },
          { value: "suspended", label: "Suspended" },
          { value: "draft", label: "Drafts" },
          { value: "retired", label: "Retired" },
        ]}
      >
        {(data) => (
          <section class="card" aria-label="Solutions">
            {(data.solutions ?? []).length === 0 && <p class="muted">Nothing here.</p>}
            {(data.solutions ?? []).map((s) => (
              <Review key={s.solution_id} solution={s} onDone={state.done} />
            ))}
          </section>
        )}
      </StatusList>
    </Page>
  );
}

function Review(props: { solution: PartnerSolution; onDone: (text: string) => void }) {
  const s = props.solution;
  const id = s.solution_id ?? "";
  const name = s.name ?? id;
  const deciding = s.status === "submitted" || !!s.pending_tiers;
  const what = s.status === "submitted" ? "submission" : "change";
  return (
    <article class="review-card" aria-labelledby={`sol-${id}`}>
      <h2 id={`sol-${id}`}>{name}</h2>
      <p>
        <StatusBadge status={s.status ?? "draft"} /> <code>{id}</code> by partner <code>{s.partner_id}</code> ·{" "}
        {s.category} · submitted <DateTime value={s.submitted_at} />
      </p>
      <p>{s.description}</p>
      {s.review_note && <p class="muted">Last review note: {s.review_note}</p>}
      {s.pending_tiers ? (
        <>
          <h3>Change of tiers and prices waiting</h3>
          <TiersDiff live={s.tiers ?? []} pending={s.pending_tiers} />
        </>
      ) : (
        <TiersTable tiers={s.tiers ?? []} caption={`Tiers of ${name}`} />
      )}
      <div class="actions">
        {deciding && (
          <>
            <ConfirmButton
              label={`Approve ${name}`}
              kind="primary"
              title={`Approve the ${what} of ${name}?`}
              description={
                <p>
                  {s.status === "submitted"
                    ? "It is published: the catalog shows it and users may subscribe."
                    : "New subscriptions get the new tiers and prices at once, existing subscribers at their next renewal."}
                </p>
              }
              reason={{ label: "Note (optional)" }}
              confirmLabel="Approve"
              onConfirm={async (reason) => {
                await api.request("post", "/api/admin/solutions/{id}/approve", { path: { id }, body: reason ? { reason } : {} });
                props.onDone(s.status === "submitted" ? `${name} is published.` : `The change of ${name} is approved.`);
              }}
            />
            <ConfirmButton
              label={`Reject ${name}`}
              kind="danger"
              title={`Reject the ${what} of ${name}?`}
              description={<p>{s.status === "submitted" ? "It goes back to draft; the partner sees the reason." : "The waiting change is dropped; the partner sees the reason."}</p>}
              reason={{ label: "Reason", required: true }}
              confirmLabel="Reject"
              onConfirm={async (reason) => {
                await api.request("post", "/api/admin/solutions/{id}/reject", { path: { id }, body: { reason } });
                props.onDone(`The ${what} of ${name} is rejected.`);
              }}
            />
          </>
        )}
        {s.status === "published" && (
          <ConfirmButton
            label={`Suspend ${name}`}
            kind="danger"
            title={`Suspend ${name}?`}
            description={
              <p>
                It leaves the catalog and usage is refused at once; the next billing run stops the renewal of its live
                subscriptions and tells their subscribers.
              </p>
            }
            reason={{ label: "Reason", required: true }}
            confirmLabel="Suspend"
            onConfirm={async (reason) => {
              const r = await api.request("post", "/api/admin/solutions/{id}/suspend", { path: { id }, body: { reason } });
              props.onDone(`${name} is suspended (subscriptions affected: ${r.affected_subscriptions ?? 0}).`);
            }}
          />
        )}
        {s.status === "suspended" && (
          <ConfirmButton
            label={`Reinstate ${name}`}
            title={`Reinstate ${name}?`}
            description={<p>It is published again; the next billing run restores the renewals the suspension stopped.</p>}
            reason={{ label: "Reason (optional)" }}
            confirmLabel="Reinstate"
            onConfirm={async (reason) => {
              const r = await api.request("post", "/api/admin/solutions/{id}/reinstate", { path: { id }, body: reason ? { reason } : {} });
              props.onDone(`${name} is published again (subscriptions affected: ${r.affected_subscriptions ?? 0}).`);
            }}
          />
        )}
      </div>
    </article>
  );
}
