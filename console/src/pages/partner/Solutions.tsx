// `/partner/:partner_id/solutions`: every solution of the partner, any status; `/solutions/new` drafts one.
import type { components } from "@monetization/sdk";
import { useLocation } from "preact-iso";
import { api } from "../../session";
import { DateTime, LoadState, Section, StatusBadge, Table } from "../../ui/components";
import { useLoad } from "../../ui/data";
import { PartnerPage, RoleAwareProblem, RoleNote, can, partnerPath, usePartner } from "./common";
import { SolutionForm } from "./SolutionForm";

export function PartnerSolutions(props: { partner_id: string }) {
  const ctx = usePartner(props.partner_id);
  const list = useLoad(() => api.request("get", "/api/partners/{id}/solutions", { path: { id: props.partner_id } }), [props.partner_id]);
  return (
    <PartnerPage
      ctx={ctx}
      title="Solutions"
      actions={
        can.manageSolutions(ctx.role) ? (
          <a class="btn btn-primary" href={partnerPath(props.partner_id, "/solutions/new")}>
            New solution
          </a>
        ) : undefined
      }
    >
      {!can.manageSolutions(ctx.role) && (
        <RoleNote>Your role ({ctx.role ?? "none"}) may see the solutions; owners, admins and developers change them.</RoleNote>
      )}
      {list.error !== undefined && list.data === undefined ? (
        <RoleAwareProblem error={list.error} title="Could not load the solutions" />
      ) : (
        <LoadState loaded={list} label="the solutions">
          {(data) => (
            <Section title="Your solutions">
              <Table
                caption="Solutions"
                rows={data.solutions ?? []}
                rowKey={(s) => s.solution_id ?? ""}
                empty="No solution yet. Draft one to list it on the marketplace."
                columns={[
                  {
                    header: "Name",
                    cell: (s) => <a href={partnerPath(props.partner_id, `/solutions/${s.solution_id ?? ""}`)}>{s.name}</a>,
                  },
                  {
                    header: "Status",
                    cell: (s) => (
                      <>
                        <StatusBadge status={s.status ?? "draft"} />
                        {s.pending_tiers && <span class="badge badge-pending"> change waiting</span>}
                      </>
                    ),
                  },
                  { header: "Category", cell: (s) => s.category },
                  { header: "Tiers", cell: (s) => (s.tiers ?? []).map((t) => t.tier).join(", ") },
                  { header: "Subscribers", cell: (s) => s.subscribers ?? 0, numeric: true },
                  { header: "Updated", cell: (s) => <DateTime value={s.updated_at} /> },
                ]}
              />
            </Section>
          )}
        </LoadState>
      )}
    </PartnerPage>
  );
}

export function NewSolution(props: { partner_id: string }) {
  const ctx = usePartner(props.partner_id);
  const { route } = useLocation();
  return (
    <PartnerPage ctx={ctx} title="New solution">
      {!can.manageSolutions(ctx.role) && (
        <RoleNote>Only owners, admins and developers of the partner draft solutions; the API will refuse it.</RoleNote>
      )}
      <Section title="Draft">
        <p class="muted">A draft changes freely. Submit it for review when it is ready; an administrator publishes it.</p>
        <SolutionForm
          submitLabel="Create draft"
          onSave={async (input) => {
            const created = await api.request("post", "/api/partners/solutions", {
              body: { ...input, tiers: input.tiers ?? [] } as components["schemas"]["SolutionDraft"],
            });
            route(partnerPath(props.partner_id, `/solutions/${created.solution_id ?? ""}?created=1`));
          }}
        />
      </Section>
    </PartnerPage>
  );
}
