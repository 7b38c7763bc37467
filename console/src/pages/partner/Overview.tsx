// `/partner/:partner_id`: the partner's profile (GET /api/partners/{id}): its application's status (pending,
// rejected with the reason, approved), masked payout details, and where to go next.
import { api } from "../../session";
import { DateTime, LoadState, Notice, Section, StatusBadge } from "../../ui/components";
import { useLoad } from "../../ui/data";
import { ApplyForm } from "./Apply";
import { NotYourPartner, PartnerPage, RoleAwareProblem, can, partnerPath, usePartner } from "./common";

export function PartnerOverview(props: { partner_id: string }) {
  const ctx = usePartner(props.partner_id);
  const partner = useLoad(() => api.request("get", "/api/partners/{id}", { path: { id: props.partner_id } }), [props.partner_id]);
  if (!ctx.role && !ctx.admin && partner.error) return <NotYourPartner partnerId={props.partner_id} />;
  return (
    <PartnerPage ctx={{ ...ctx, name: ctx.name ?? partner.data?.company }} title="Partner overview">
      {partner.error !== undefined && partner.data === undefined ? (
        <RoleAwareProblem error={partner.error} title="Could not load the partner" />
      ) : (
        <LoadState loaded={partner} label="the partner">
          {(p) => (
            <>
              {p.status === "pending" && (
                <Notice kind="info">
                  <strong>Your application is waiting for review.</strong> An administrator will approve or reject it;
                  this page shows the decision.
                </Notice>
              )}
              {p.status === "rejected" && (
                <div class="alert alert-warning" role="status">
                  <strong>Your application was rejected.</strong>
                  <p>
                    Reason: <span class="decision-reason">{p.decision_reason ?? "none given"}</span>
                  </p>
                  <p class="muted">
                    Decided <DateTime value={p.decided_at} />. You may apply again.
                  </p>
                </div>
              )}
              {p.status === "suspended" && (
                <Notice kind="warning">
                  <strong>This partner account is suspended.</strong> {p.decision_reason ?? ""}
                </Notice>
              )}
              <Section title="Profile">
                <dl class="details">
                  <dt>Status</dt>
                  <dd>
                    <StatusBadge status={p.status ?? "pending"} />
                  </dd>
                  <dt>Company</dt>
                  <dd>{p.company}</dd>
                  <dt>Contact email</dt>
                  <dd>{p.contact_email}</dd>
                  <dt>Website</dt>
                  <dd>{p.website ?? "—"}</dd>
                  <dt>GSTIN</dt>
                  <dd>{p.gstin ?? "—"}</dd>
                  <dt>Payout</dt>
                  <dd>
                    {p.payout?.method === "upi" ? "UPI" : p.payout?.method === "bank" ? "Bank account" : "—"}{" "}
                    <span class="masked">{p.payout?.details ?? ""}</span>
                  </dd>
                  <dt>Platform commission</dt>
                  <dd>{p.commission_bp !== undefined ? basisPoints(p.commission_bp) : "—"}</dd>
                  <dt>Applied</dt>
                  <dd>
                    <DateTime value={p.created_at} />
                  </dd>
                  <dt>Partner id</dt>
                  <dd>
                    <code>{p.partner_id}</code>
                  </dd>
                </dl>
              </Section>
              {p.status === "approved" && (
                <Section title="Next steps">
                  <ul class="links">
                    <li>
                      <a href={partnerPath(props.partner_id, "/solutions")}>Solutions</a>: list your software with tiers
                      and prices, and submit it for review.
                    </li>
                    {can.manageSolutions(ctx.role) && (
                      <li>
                        <a href={partnerPath(props.partner_id, "/api-keys")}>API keys</a> for your backend: validate
                        tokens and track usage.
                      </li>
                    )}
                    <li>
                      <a href={partnerPath(props.partner_id, "/analytics")}>Analytics</a>: users, usage, conversions
                      and subscribers per day.
                    </li>
                    {can.readRevenue(ctx.role) && (
                      <li>
                        <a href={partnerPath(props.partner_id, "/revenue")}>Revenue and payouts</a>.
                      </li>
                    )}
                    {p.org_id && (
                      <li>
                        <a href={`/orgs/${encodeURIComponent(p.org_id)}`}>Members</a> of the partner's organization.
                      </li>
                    )}
                  </ul>
                </Section>
              )}
              {p.status === "rejected" && ctx.role === "owner" && <ApplyForm again />}
            </>
          )}
        </LoadState>
      )}
    </PartnerPage>
  );
}

/** Basis points as a percentage, exactly (2000 → "20.00 %"). */
function basisPoints(bp: number): string {
  const t = String(Math.trunc(bp)).padStart(3, "0");
  return `${t.slice(0, -2)}.${t.slice(-2)} %`;
}
