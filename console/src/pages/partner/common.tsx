// What every partner page shares: the partner chosen in the URL (`/partner/:partner_id/...`), the caller's role
// in its organization (to hide or disable what the role may not do; the API stays the judge), the partner's
// tabs, and the tier/price tables of a solution (also used by the admin's review).
import { ApiError, type components } from "@monetization/sdk";
import { useLocation } from "preact-iso";
import type { ComponentChildren } from "preact";
import { isAdmin, partnerOrgs, useSession } from "../../session";
import { Money, Page, ProblemAlert, TableWrap } from "../../ui/components";

export type PartnerView = components["schemas"]["Partner"];
export type PartnerSolution = components["schemas"]["PartnerSolution"];
export type TierSpec = components["schemas"]["TierSpec"];
export type OrgRole = components["schemas"]["OrgRole"];

/** What a role of a partner organization may do (as the API decides it: `OrgRole::manages_solutions` etc.). */
export const can = {
  /** Solutions (create, change, submit, withdraw, retire, assets) and API keys. */
  manageSolutions: (role?: OrgRole) => role === "owner" || role === "admin" || role === "developer",
  /** Revenue, statements and payouts; analytics' money. */
  readRevenue: (role?: OrgRole) => role === "owner" || role === "admin" || role === "finance",
};

export interface PartnerContext {
  partnerId: string;
  /** The caller's role in the partner's organization; undefined for an admin looking at another partner. */
  role?: OrgRole;
  name?: string;
  admin: boolean;
}

/** The partner of the URL with the caller's role in it. */
export function usePartner(partnerId: string): PartnerContext {
  const s = useSession();
  const org = partnerOrgs(s).find((o) => o.partner_id === partnerId);
  return { partnerId, role: org?.role, name: org?.name, admin: isAdmin(s) };
}

export function partnerPath(partnerId: string, rest = ""): string {
  return `/partner/${encodeURIComponent(partnerId)}${rest}`;
}

const TABS: { label: string; rest: string; show?: (role?: OrgRole) => boolean }[] = [
  { label: "Overview", rest: "" },
  { label: "Solutions", rest: "/solutions" },
  { label: "API keys", rest: "/api-keys", show: can.manageSolutions },
  { label: "Analytics", rest: "/analytics" },
  { label: "Revenue and payouts", rest: "/revenue", show: can.readRevenue },
];

/** The partner's pages, as a second navigation (the current one marked for assistive technology). */
export function PartnerTabs(props: { ctx: PartnerContext }) {
  const { path } = useLocation();
  const base = partnerPath(props.ctx.partnerId);
  const tabs = TABS.filter((t) => !t.show || t.show(props.ctx.role) || (props.ctx.admin && !props.ctx.role));
  return (
    <nav class="partner-tabs" aria-label="Partner">
      <ul>
        {tabs.map((t) => {
          const href = base + t.rest;
          const current = t.rest === "" ? path === href : path === href || path.startsWith(`${href}/`);
          return (
            <li key={t.rest}>
              <a href={href} aria-current={current ? "page" : undefined}>
                {t.label}
              </a>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

/** A partner page: its title, the partner's tabs, and the caller's role. */
export function PartnerPage(props: { ctx: PartnerContext; title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <Page title={props.title} actions={props.actions}>
      <p class="muted partner-who">
        {props.ctx.name ?? props.ctx.partnerId}
        {props.ctx.role ? ` · your role: ${props.ctx.role}` : props.ctx.admin ? " · viewing as an administrator" : ""}
      </p>
      <PartnerTabs ctx={props.ctx} />
      {props.children}
    </Page>
  );
}

/** Why the caller's role cannot do something here (shown instead of a control it may not use). */
export function RoleNote(props: { children: ComponentChildren }) {
  return <p class="muted role-note">{props.children}</p>;
}

/** An API error; a 403 `org_role_required` also names the roles that may do it. */
export function RoleAwareProblem(props: { error: unknown; title?: string }) {
  const e = props.error;
  const roles =
    e instanceof ApiError && e.code === "org_role_required"
      ? ((e.problem as { required_roles?: string[] }).required_roles ?? [])
      : [];
  return (
    <>
      <ProblemAlert error={e} title={props.title ?? (roles.length ? "Your role does not allow this" : undefined)} />
      {roles.length > 0 && <p class="muted">Roles that may do this: {roles.join(", ")}. Ask an owner of the partner.</p>}
    </>
  );
}

export const TIER_ORDER = ["anonymous", "free", "pro", "enterprise"] as const;
export type TierName = (typeof TIER_ORDER)[number];

function limitText(n: number | null | undefined): string {
  return n === null || n === undefined ? "Unlimited" : n.toLocaleString();
}

function pricesOf(t: TierSpec): components["schemas"]["Price"][] {
  return (t.prices as components["schemas"]["Price"][] | undefined) ?? [];
}

function Prices(props: { tier: TierSpec }) {
  const prices = pricesOf(props.tier);
  if (prices.length === 0) return <span class="muted">Free</span>;
  return (
    <ul class="plain">
      {prices.map((p) => (
        <li key={`${p.currency}-${p.period}`}>
          <Money amount={p.amount} currency={p.currency} /> / {p.period === "monthly" ? "month" : "year"}
        </li>
      ))}
    </ul>
  );
}

/** A solution's tiers: limits and prices. */
export function TiersTable(props: { tiers: TierSpec[]; caption: string }) {
  const rows = [...props.tiers].sort((a, b) => TIER_ORDER.indexOf(a.tier) - TIER_ORDER.indexOf(b.tier));
  if (rows.length === 0) return <p class="muted">No tiers.</p>;
  return (
    <TableWrap label={props.caption}>
      <table>
        <caption class="visually-hidden">{props.caption}</caption>
        <thead>
          <tr>
            <th scope="col">Tier</th>
            <th scope="col" class="num">
              Daily limit
            </th>
            <th scope="col" class="num">
              Monthly limit
            </th>
            <th scope="col">Prices</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((t) => (
            <tr key={t.tier}>
              <th scope="row">{t.tier}</th>
              <td class="num">{limitText(t.daily_limit)}</td>
              <td class="num">{limitText(t.monthly_limit)}</td>
              <td>
                <Prices tier={t} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

function tierKey(t: TierSpec): string {
  return JSON.stringify([
    t.daily_limit ?? null,
    t.monthly_limit ?? null,
    pricesOf(t)
      .map((p) => `${p.currency}/${p.period}/${p.amount}`)
      .sort(),
  ]);
}

/**
 * A waiting change of tiers against the live ones, tier by tier: added, removed, changed (each side shown) or
 * unchanged; the change is also said in words, never by colour alone.
 */
export function TiersDiff(props: { live: TierSpec[]; pending: TierSpec[] }) {
  const names = TIER_ORDER.filter((n) => props.live.some((t) => t.tier === n) || props.pending.some((t) => t.tier === n));
  return (
    <TableWrap label="Pending change of tiers and prices against the live ones">
      <table>
        <caption class="visually-hidden">Pending change of tiers and prices against the live ones</caption>
        <thead>
          <tr>
            <th scope="col">Tier</th>
            <th scope="col">Change</th>
            <th scope="col">Live now</th>
            <th scope="col">After approval</th>
          </tr>
        </thead>
        <tbody>
          {names.map((n) => {
            const live = props.live.find((t) => t.tier === n);
            const next = props.pending.find((t) => t.tier === n);
            const change = !live ? "added" : !next ? "removed" : tierKey(live) === tierKey(next) ? "unchanged" : "changed";
            return (
              <tr key={n} class={`diff-${change}`}>
                <th scope="row">{n}</th>
                <td>
                  <span class={`badge badge-diff-${change}`}>{change}</span>
                </td>
                <td>{live ? <TierSummary tier={live} /> : <span class="muted">—</span>}</td>
                <td>{next ? <TierSummary tier={next} /> : <span class="muted">—</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </TableWrap>
  );
}

function TierSummary(props: { tier: TierSpec }) {
  return (
    <div>
      <div>
        Daily {limitText(props.tier.daily_limit)}, monthly {limitText(props.tier.monthly_limit)}
      </div>
      <Prices tier={props.tier} />
    </div>
  );
}

/** "No partner" for pages reached with a partner id the caller has nothing to do with. */
export function NotYourPartner(props: { partnerId: string }) {
  return (
    <Page title="Partner not found">
      <p>
        You are not a member of the partner <code>{props.partnerId}</code>. <a href="/partner">Go to your partner page</a>.
      </p>
    </Page>
  );
}
