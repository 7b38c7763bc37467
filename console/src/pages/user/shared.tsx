// What the end-user pages share: whose account a page shows (the user's own, or a team organization's), the
// solutions' names, the subscriptions of a customer, tiers in order, and the explanation of an unverified address.
import { ApiError, type components } from "@monetization/sdk";
import { useState } from "preact/hooks";
import { api, type Session } from "../../session";
import { Button, Notice, ProblemAlert, Select } from "../../ui/components";
import { useAction, useLoad } from "../../ui/data";

export type Schemas = components["schemas"];
export type Subscription = Schemas["Subscription"];
export type Tier = Schemas["Tier"];
export type TierSpec = Schemas["TierSpec"];
export type Price = Schemas["Price"];

/** A customer the user can look at: their own account or a team organization. */
export interface Customer {
  /** `usr_…` (the user's own account) or `org_…`. */
  id: string;
  label: string;
  /** The team organization (absent for the user's own account). */
  orgId?: string;
}

/**
 * The customers the signed-in user may see for a purpose: `usage` (every member of a team reads its usage),
 * `billing` (owners and admins read its subscriptions, payments and invoices), `buy` (owners only).
 */
export function customersFor(s: Session, purpose: "usage" | "billing" | "buy"): Customer[] {
  const user = s.context?.user;
  const own: Customer[] = user ? [{ id: user.user_id, label: `Me (${user.email})` }] : [];
  const roles = purpose === "usage" ? undefined : purpose === "billing" ? ["owner", "admin"] : ["owner"];
  const teams = s.orgs
    .filter((o) => o.kind === "team" && (!roles || roles.includes(o.role)))
    .map((o) => ({ id: o.customer_id, label: `${o.name} (team, ${o.role})`, orgId: o.org_id }));
  return [...own, ...teams];
}

/** A "whose account" chooser, shown only when there is more than one. */
export function CustomerSelect(props: {
  customers: Customer[];
  value: string;
  onChange: (id: string) => void;
  label?: string;
  error?: string;
}) {
  if (props.customers.length < 2) return null;
  return (
    <div class="toolbar">
      <Select
        label={props.label ?? "Account"}
        name="customer"
        value={props.value}
        onChange={props.onChange}
        options={props.customers.map((c) => ({ value: c.id, label: c.label }))}
        error={props.error}
      />
    </div>
  );
}

/** Keyset paging: the cursors of the pages before this one (the first page has none), so "Previous" goes back. */
export interface Pages {
  cursor: string | undefined;
  /** 1 on the first page. */
  number: number;
  back: () => void;
  forward: (cursor: string) => void;
  reset: () => void;
}

export function usePages(): Pages {
  const [stack, setStack] = useState<(string | undefined)[]>([undefined]);
  return {
    cursor: stack[stack.length - 1],
    number: stack.length,
    back: () => setStack(stack.slice(0, -1)),
    forward: (cursor) => setStack([...stack, cursor]),
    reset: () => setStack([undefined]),
  };
}

/** "Previous page" and "Next page" (hidden when there is only one page). */
export function Pager(props: { pages: Pages; next: string | null | undefined; label: string }) {
  const { pages, next } = props;
  if (pages.number < 2 && !next) return null;
  return (
    <nav class="pager" aria-label={props.label}>
      <Button disabled={pages.number < 2} onClick={pages.back}>
        Previous page
      </Button>
      <Button disabled={!next} onClick={() => next && pages.forward(next)}>
        Next page
      </Button>
    </nav>
  );
}

/** Solution names by id (every published solution, with the user's own tier in each). */
export function useUserSolutions() {
  return useLoad(() => api.request("get", "/api/user-solutions").then((a) => a.solutions), []);
}

export function nameOf(solutions: { solution_id: string; name: string }[] | undefined, id: string | undefined): string {
  if (!id) return "—";
  return solutions?.find((s) => s.solution_id === id)?.name ?? id;
}

/** One page of a customer's subscriptions (optionally to one solution), newest first. */
export function subscriptionsPage(customerId: string, options: { solutionId?: string; limit?: number; cursor?: string } = {}) {
  return api.request("get", "/api/subscriptions", {
    query: { customer_id: customerId, solution_id: options.solutionId, limit: options.limit ?? 100, cursor: options.cursor },
  });
}

/** Every subscription of a customer (optionally to one solution), newest first: all the pages. */
export async function listSubscriptions(customerId: string, solutionId?: string): Promise<Subscription[]> {
  const all: Subscription[] = [];
  let cursor: string | undefined;
  do {
    const page = await subscriptionsPage(customerId, { solutionId, cursor });
    all.push(...page.subscriptions);
    cursor = page.next_cursor ?? undefined;
  } while (cursor && all.length < 1_000);
  return all;
}

export const TIER_ORDER: Tier[] = ["anonymous", "free", "pro", "enterprise"];

export function tierRank(tier: string): number {
  return TIER_ORDER.indexOf(tier as Tier);
}

export function tierName(tier: string): string {
  return tier.charAt(0).toUpperCase() + tier.slice(1);
}

export function limitText(limit: number | null | undefined): string {
  return limit === null || limit === undefined ? "Unlimited" : limit.toLocaleString();
}

export function isEmailNotVerified(error: unknown): boolean {
  return error instanceof ApiError && error.code === "email_not_verified";
}

/** A button that mails a new verification link, with its outcome announced. */
export function ResendVerification(props: { label?: string }) {
  const resend = useAction(() => api.request("post", "/api/auth/resend-verification"));
  return (
    <>
      <Button onClick={() => void resend.run()} pending={resend.pending}>
        {props.label ?? "Send the verification link again"}
      </Button>
      {resend.result && (
        <p role="status" class="hint">
          A new link is on its way to {resend.result.email}.
        </p>
      )}
      <ProblemAlert error={resend.error} title="Could not send a new link" />
    </>
  );
}

/** An API error, with the way out when it is an unverified address. */
export function ActionError(props: { error: unknown; title?: string }) {
  if (!props.error) return null;
  if (isEmailNotVerified(props.error))
    return (
      <Notice kind="warning">
        <strong>Verify your email address first.</strong>
        <p>
          Paid plans and payments need a verified address. Open the link in the mail we sent you when you signed up, or
          ask for a new one.
        </p>
        <ResendVerification />
      </Notice>
    );
  return <ProblemAlert error={props.error} title={props.title} />;
}

/** A fresh key for one attempt at a payment: the same key for retries of that attempt, a new one for the next. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

/** What the success page needs to find the checkout it returns from (not a secret: ids only). */
const CHECKOUT_KEY = "monetization.console.checkout";

export interface CheckoutAttempt {
  subscription_id: string;
  customer_id: string;
  solution_id: string;
  tier: string;
}

export function rememberCheckout(attempt: CheckoutAttempt): void {
  try {
    sessionStorage.setItem(CHECKOUT_KEY, JSON.stringify(attempt));
  } catch {
    // Storage off: the success page looks through the user's own subscriptions instead.
  }
}

export function recalledCheckout(): CheckoutAttempt | undefined {
  try {
    const raw = sessionStorage.getItem(CHECKOUT_KEY);
    return raw ? (JSON.parse(raw) as CheckoutAttempt) : undefined;
  } catch {
    return undefined;
  }
}
