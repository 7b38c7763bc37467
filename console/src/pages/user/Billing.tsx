import { useLocation } from "preact-iso";
import { useEffect, useState } from "preact/hooks";
import { api, useSession } from "../../session";
import {
  Button,
  ConfirmButton,
  DateTime,
  LoadState,
  Money,
  Notice,
  Page,
  ProblemAlert,
  Section,
  Select,
  StatusBadge,
  Table,
  formatDate,
  formatMoney,
} from "../../ui/components";
import { useAction, useLoad } from "../../ui/data";
import {
  CustomerSelect,
  Pager,
  type Price,
  type Schemas,
  type Subscription,
  customersFor,
  nameOf,
  newIdempotencyKey,
  subscriptionsPage,
  tierName,
  tierRank,
  usePages,
  useUserSolutions,
} from "./shared";
import { SubscriptionUsage, UsageTerms } from "./UsagePricing";
import { usageTerms } from "./usageTerms";

type Invoice = Schemas["Invoice"];
/** A usage-priced billing period's overage as an invoice charges it. */
type InvoiceOverage = Schemas["InvoiceOverage"];

const INVOICE_REASONS: Record<Invoice["reason"], string> = {
  subscription: "First period",
  renewal: "Renewal",
  upgrade: "Upgrade",
  overage: "Usage beyond the allowance",
};
type Payment = Schemas["PaymentHistory"]["items"][number];

/** Pay an open invoice (or a subscription's open one) with PhonePe: to PhonePe's page, back to /billing/phonepe/return. */
export async function payWithPhonePe(target: { invoice_id: string } | { subscription_id: string }): Promise<void> {
  const order = await api.request("post", "/api/payments/initiate", {
    headers: { "Idempotency-Key": newIdempotencyKey() },
    body: target as { invoice_id: string },
  });
  location.assign(order.redirect_url);
}

/** `/billing` (and `/billing/invoices`): subscriptions, payments and invoices of the user or a team they run. */
export function Billing() {
  const s = useSession();
  const { path } = useLocation();
  const customers = customersFor(s, "billing");
  const [customerId, setCustomerId] = useState(customers[0]?.id ?? "");
  const solutions = useUserSolutions();
  useEffect(() => {
    if (path === "/billing/invoices") document.getElementById("invoices")?.scrollIntoView();
  }, [path]);
  return (
    <Page title={path === "/billing/invoices" ? "Billing: invoices" : "Billing"}>
      <CustomerSelect customers={customers} value={customerId} onChange={setCustomerId} label="Billing account" />
      <Subscriptions key={`s-${customerId}`} customerId={customerId} names={solutions.data} />
      <Payments key={`p-${customerId}`} customerId={customerId} names={solutions.data} />
      <Invoices key={`i-${customerId}`} customerId={customerId} names={solutions.data} />
    </Page>
  );
}

type Names = { solution_id: string; name: string }[] | undefined;

function Subscriptions(props: { customerId: string; names: Names }) {
  const pages = usePages();
  const cursor = pages.cursor;
  const subs = useLoad(() => subscriptionsPage(props.customerId, { limit: 20, cursor }), [props.customerId, cursor]);
  const [done, setDone] = useState<string>();
  const changed = (message: string) => {
    setDone(message);
    subs.reload();
  };
  return (
    <Section title="Subscriptions">
      {done && <Notice kind="success">{done}</Notice>}
      <LoadState loaded={subs} label="the subscriptions">
        {(page) => (
          <>
            {page.subscriptions.length === 0 && pages.number === 1 ? (
              <p class="muted">
                No subscriptions. Every solution has a free tier; <a href="/catalog">browse the catalog</a> for paid plans.
              </p>
            ) : (
              <ul class="sub-list">
                {page.subscriptions.map((sub) => (
                  <SubscriptionCard key={sub.subscription_id} sub={sub} name={nameOf(props.names, sub.solution_id)} onChanged={changed} />
                ))}
              </ul>
            )}
            <Pager pages={pages} next={page.next_cursor} label="Subscription pages" />
          </>
        )}
      </LoadState>
    </Section>
  );
}

/** "₹499.00 per month", with the usage terms when the price has them ("…; 5,000 events a month included, then …"). */
function perPeriod(price: { amount: number; currency: string; usage?: Price["usage"] }, period: "monthly" | "yearly"): string {
  const base = `${formatMoney(price.amount, price.currency)} per ${period === "yearly" ? "year" : "month"}`;
  if (!price.usage) return base;
  const terms = usageTerms(price.usage, price.currency, period);
  return `${base}; ${[terms.summary, ...terms.blocks].join(" ")}`;
}

function SubscriptionCard(props: { sub: Subscription; name: string; onChanged: (message: string) => void }) {
  const { sub } = props;
  const live = sub.status === "active" || sub.status === "past_due";
  return (
    <li class="card sub-card" data-testid={`subscription-${sub.subscription_id}`}>
      <h3>
        {props.name}: {tierName(sub.tier)}
      </h3>
      <dl class="facts">
        <div>
          <dt>Status</dt>
          <dd>
            <StatusBadge status={sub.status} />
            {sub.cancel_at_period_end && live && <> (ends at the period's end, no renewal)</>}
          </dd>
        </div>
        <div>
          <dt>Plan</dt>
          <dd>
            {tierName(sub.tier)}, <Money amount={sub.price.amount} currency={sub.price.currency} /> per{" "}
            {sub.period === "yearly" ? "year" : "month"}
            <UsageTerms usage={sub.usage} currency={sub.price.currency} period={sub.period} />
          </dd>
        </div>
        <div>
          <dt>Paid with</dt>
          <dd>{sub.provider === "phonepe" ? "UPI (PhonePe)" : "Card (Stripe)"}</dd>
        </div>
        <div>
          <dt>{sub.cancel_at_period_end ? "Ends" : "Current period ends"}</dt>
          <dd>
            <DateTime value={sub.current_period_end} />
          </dd>
        </div>
        {sub.pending_tier && (
          <div>
            <dt>Scheduled change</dt>
            <dd>
              To {tierName(sub.pending_tier)} on <DateTime value={sub.pending_effective_at} />
            </dd>
          </div>
        )}
        {sub.grace_until && sub.status === "past_due" && (
          <div>
            <dt>Pay before</dt>
            <dd>
              <DateTime value={sub.grace_until} />
            </dd>
          </div>
        )}
      </dl>
      {sub.usage && live && <SubscriptionUsage sub={sub} name={props.name} />}
      {sub.status === "past_due" && (
        <Notice kind="warning">
          The last renewal is unpaid. <a href="/billing/pay">Pay it</a> to keep this plan.
        </Notice>
      )}
      {sub.status === "pending" && sub.checkout_url && (
        <p>
          Waiting for payment. <a href={sub.checkout_url}>Finish paying</a>
        </p>
      )}
      {live && (
        <div class="actions sub-actions">
          <ChangePlan sub={sub} name={props.name} onChanged={props.onChanged} />
          {!sub.cancel_at_period_end && (
            <ConfirmButton
              label="Cancel subscription"
              title={`Cancel ${props.name} ${tierName(sub.tier)}?`}
              description={
                <p>
                  The subscription ends at the end of the current period ({formatDate(sub.current_period_end)}); you keep
                  the {tierName(sub.tier)} plan until then and are not charged again. Afterwards the solution goes back to
                  its free tier.
                </p>
              }
              confirmLabel="Cancel at period end"
              kind="danger"
              onConfirm={async () => {
                const after = await api.request("delete", "/api/subscriptions/{id}", { path: { id: sub.subscription_id }, query: {} });
                props.onChanged(`${props.name} ends on ${formatDate(after.current_period_end)}.`);
              }}
            />
          )}
        </div>
      )}
    </li>
  );
}

/** Upgrade (now, prorated, charged) or downgrade (at period end) with the prices shown before confirming. */
function ChangePlan(props: { sub: Subscription; name: string; onChanged: (message: string) => void }) {
  const { sub } = props;
  const details = useLoad(() => api.request("get", "/api/solutions/{id}", { path: { id: sub.solution_id } }), [sub.solution_id]);
  const declared = details.data?.tiers ?? [];
  const paid = declared.length > 0 ? declared.map((t) => t.tier).filter((t) => t === "pro" || t === "enterprise") : ["pro", "enterprise"];
  const choices = paid.filter((t) => t !== sub.tier || sub.pending_tier);
  const [target, setTarget] = useState("");
  const tier = target || choices[0] || "";
  if (!details.data || choices.length === 0) return null;
  const price = (declared.find((t) => t.tier === tier)?.prices ?? []).find(
    (p: Price) => p.period === sub.period && p.currency === sub.price.currency,
  );
  const newPrice = price ? perPeriod(price, sub.period) : "the new plan's price (shown on your invoice)";
  const oldPrice = perPeriod({ ...sub.price, usage: sub.usage }, sub.period);
  const up = tierRank(tier) > tierRank(sub.tier);
  const keep = tier === sub.tier;
  const description = keep ? (
    <p>The scheduled change to {tierName(sub.pending_tier ?? "")} is called off: you stay on {tierName(sub.tier)} ({oldPrice}).</p>
  ) : up ? (
    sub.provider === "phonepe" ? (
      <p>
        From {tierName(sub.tier)} ({oldPrice}) to {tierName(tier)} ({newPrice}). You pay the difference for the rest of this
        period now with PhonePe; the new plan starts as soon as it is paid.
      </p>
    ) : (
      <p>
        From {tierName(sub.tier)} ({oldPrice}) to {tierName(tier)} ({newPrice}). The upgrade applies immediately: your card
        is charged the prorated difference for the rest of this period now, and today's quota restarts under the new
        limit.
      </p>
    )
  ) : (
    <p>
      From {tierName(sub.tier)} ({oldPrice}) to {tierName(tier)} ({newPrice}). The downgrade waits for the end of the current
      period ({formatDate(sub.current_period_end)}): you keep {tierName(sub.tier)} until then, and pay {newPrice} from the
      next period.
    </p>
  );
  return (
    <div class="change-plan">
      <Select
        label={`New plan for ${props.name}`}
        name="tier"
        value={tier}
        onChange={setTarget}
        options={choices.map((t) => ({ value: t, label: t === sub.tier ? `${tierName(t)} (keep)` : tierName(t) }))}
      />
      <ConfirmButton
        label={keep ? "Keep plan" : up ? "Upgrade" : "Downgrade"}
        title={keep ? "Keep your plan?" : up ? `Upgrade to ${tierName(tier)} now?` : `Downgrade to ${tierName(tier)}?`}
        description={description}
        confirmLabel={keep ? "Keep plan" : up ? (sub.provider === "phonepe" ? "Upgrade and pay" : "Upgrade and pay now") : "Downgrade at period end"}
        onConfirm={async () => {
          const after = await api.request("put", "/api/subscriptions/{id}/upgrade", {
            path: { id: sub.subscription_id },
            body: { tier: tier as Schemas["Tier"] },
          });
          if (up && sub.provider === "phonepe") return payWithPhonePe({ subscription_id: sub.subscription_id });
          props.onChanged(
            after.pending_tier
              ? `${props.name} changes to ${tierName(after.pending_tier)} on ${formatDate(after.pending_effective_at)}.`
              : `${props.name} is now on ${tierName(after.tier)}.`,
          );
          return after;
        }}
      />
    </div>
  );
}

function Payments(props: { customerId: string; names: Names }) {
  const pages = usePages();
  const cursor = pages.cursor;
  const history = useLoad(
    () => api.request("get", "/api/payments/history", { query: { customer_id: props.customerId, limit: 25, cursor } }),
    [props.customerId, cursor],
  );
  return (
    <Section title="Payment history">
      <LoadState loaded={history} label="the payment history">
        {(h) => (
          <>
            <Table<Payment>
              caption="Payments and refunds, newest first"
              rows={h.items}
              rowKey={(p) => `${p.payment_id}-${p.refund_id ?? ""}`}
              empty="No payments yet."
              columns={[
                { header: "Date", cell: (p) => <DateTime value={p.at} /> },
                {
                  header: "What",
                  cell: (p) => (
                    <>
                      {p.kind === "refund" ? "Refund" : "Payment"}
                      {p.status && <> <StatusBadge status={p.status} /></>}
                      {p.unapplied && <> (could not be applied; refunded in full)</>}
                    </>
                  ),
                },
                { header: "Solution", cell: (p) => nameOf(props.names, p.solution_id) },
                {
                  header: "Amount",
                  numeric: true,
                  cell: (p) => (
                    <>
                      {p.kind === "refund" && "−"}
                      <Money amount={p.amount} currency={p.currency} />
                    </>
                  ),
                },
                { header: "Paid with", cell: (p) => (p.provider === "phonepe" ? "PhonePe" : "Stripe") },
                { header: "Reference", cell: (p) => <code>{p.payment_id}</code> },
              ]}
            />
            <Pager pages={pages} next={h.cursor} label="Payment history pages" />
          </>
        )}
      </LoadState>
    </Section>
  );
}

function Invoices(props: { customerId: string; names: Names }) {
  const pages = usePages();
  const cursor = pages.cursor;
  const invoices = useLoad(
    () => api.request("get", "/api/invoices", { query: { customer_id: props.customerId, limit: 25, cursor } }),
    [props.customerId, cursor],
  );
  const pay = useAction((invoice: Invoice) => payWithPhonePe({ invoice_id: invoice.invoice_id }));
  return (
    <section class="card" aria-labelledby="invoices" tabIndex={-1}>
      <header class="card-header">
        <h2 id="invoices">Invoices</h2>
        <Button onClick={invoices.reload} pending={invoices.loading}>
          Refresh links
        </Button>
      </header>
      <p class="hint">Download links are valid for 5 minutes; refresh them if one has expired.</p>
      <ProblemAlert error={pay.error} title="Could not start the payment" />
      <LoadState loaded={invoices} label="the invoices">
        {(page) => (
          <>
            <Table<Invoice>
              caption="Invoices, newest first"
              rows={page.items}
              rowKey={(i) => i.invoice_id}
              empty="No invoices yet."
              columns={[
                { header: "Number", cell: (i) => i.number ?? <span class="muted">not issued</span> },
                { header: "Date", cell: (i) => <DateTime value={i.issued_at ?? i.created_at} date /> },
                { header: "Solution", cell: (i) => `${nameOf(props.names, i.solution_id)} (${tierName(i.tier)})` },
                {
                  header: "For",
                  cell: (i) => (
                    <>
                      {INVOICE_REASONS[i.reason]}
                      {i.overage && <OverageLine overage={i.overage} currency={i.currency} />}
                    </>
                  ),
                },
                { header: "Status", cell: (i) => <StatusBadge status={i.status} /> },
                {
                  header: "Amount",
                  numeric: true,
                  cell: (i) => (
                    <>
                      <Money amount={i.amount} currency={i.currency} />
                      {i.tax && i.tax.cgst + i.tax.sgst + i.tax.igst > 0 && (
                        <span class="hint">
                          {" "}
                          incl. GST <Money amount={i.tax.cgst + i.tax.sgst + i.tax.igst} currency={i.currency} />
                        </span>
                      )}
                    </>
                  ),
                },
                {
                  header: "Actions",
                  cell: (i) =>
                    i.download_url ? (
                      <a href={i.download_url} target="_blank" rel="noopener noreferrer">
                        Download PDF<span class="visually-hidden"> of invoice {i.number ?? i.invoice_id}</span>
                      </a>
                    ) : i.status === "open" && i.provider === "phonepe" ? (
                      <Button kind="primary" pending={pay.pending} onClick={() => void pay.run(i)}>
                        Pay with PhonePe
                      </Button>
                    ) : (
                      "—"
                    ),
                },
              ]}
            />
            <Pager pages={pages} next={page.cursor} label="Invoice pages" />
          </>
        )}
      </LoadState>
    </section>
  );
}

/** An invoice's overage line: the units beyond the allowance and what they cost (part of the invoice's amount). */
function OverageLine(props: { overage: InvoiceOverage; currency: string }) {
  const o = props.overage;
  return (
    <span class="overage-line">
      Overage: {o.units.toLocaleString()} units beyond the {o.included.toLocaleString()} included ({o.used.toLocaleString()}{" "}
      used{o.period_start && o.period_end ? <>, <DateTime value={o.period_start} date /> to <DateTime value={o.period_end} date /></> : null}
      ), <Money amount={o.amount} currency={props.currency} />
    </span>
  );
}
