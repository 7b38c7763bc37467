// The pages the payment providers send the user back to, and the page of the "payment due" mails.
import { useLocation } from "preact-iso";
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, useSession } from "../../session";
import { Button, DateTime, LoadState, Money, Notice, Page, ProblemAlert, Section, StatusBadge } from "../../ui/components";
import { useAction, useLoad, usePoll } from "../../ui/data";
import { payWithPhonePe } from "./Billing";
import { customersFor, listSubscriptions, nameOf, recalledCheckout, tierName, useUserSolutions } from "./shared";

const POLL_MS = 1_500;
const GIVE_UP_MS = 60_000;

/** True once `ms` have passed since the component mounted. */
function useElapsed(ms: number): boolean {
  const [over, setOver] = useState(false);
  useEffect(() => {
    const id = setTimeout(() => setOver(true), ms);
    return () => clearTimeout(id);
  }, [ms]);
  return over;
}

/** `/billing/success?session_id=…`: back from Stripe Checkout; waits for the webhook to activate the subscription. */
export function BillingSuccess() {
  const s = useSession();
  const attempt = recalledCheckout();
  const customerId = attempt?.customer_id ?? s.context?.user.user_id ?? "";
  const solutions = useUserSolutions();
  const subs = useLoad(() => listSubscriptions(customerId, attempt?.solution_id), [customerId]);
  const sub =
    subs.data?.find((x) => x.subscription_id === attempt?.subscription_id) ??
    // Without the attempt (another tab, storage off): the newest Stripe subscription of the user's own account.
    subs.data?.filter((x) => x.provider === "stripe").sort((a, b) => (b.created_at ?? "").localeCompare(a.created_at ?? ""))[0];
  const active = sub?.status === "active";
  const gaveUp = useElapsed(GIVE_UP_MS);
  const tick = useCallback(() => subs.reload(), [subs.reload]);
  usePoll(tick, POLL_MS, !active && !gaveUp);
  return (
    <Page title="Thank you">
      <div class="card narrow">
        {active && sub ? (
          <Notice kind="success">
            <strong>Your subscription is active.</strong>
            <p>
              {nameOf(solutions.data, sub.solution_id)} is now on the <strong data-testid="new-tier">{tierName(sub.tier)}</strong>{" "}
              plan, until <DateTime value={sub.current_period_end} /> and renewing automatically.
            </p>
          </Notice>
        ) : gaveUp ? (
          <Notice kind="info">
            <strong>Your payment is being confirmed.</strong>
            <p>
              This is taking longer than usual. Your plan changes as soon as the payment provider confirms it; you do not need
              to pay again. Check <a href="/billing">Billing</a> in a few minutes.
            </p>
          </Notice>
        ) : (
          <p role="status" aria-busy="true">
            Confirming your payment…
          </p>
        )}
        <ProblemAlert error={subs.error} title="Could not check the subscription" />
        <p>
          <a href="/billing">Go to Billing</a> · <a href="/">Home</a>
        </p>
      </div>
    </Page>
  );
}

/** `/billing/canceled`: the user left Stripe Checkout without paying. */
export function BillingCanceled() {
  const attempt = recalledCheckout();
  return (
    <Page title="Payment canceled">
      <div class="card narrow">
        <Notice kind="info">You left the payment page: nothing was charged and your plan did not change.</Notice>
        <p>
          {attempt ? <a href={`/catalog/${attempt.solution_id}`}>Try again</a> : <a href="/catalog">Back to the catalog</a>} ·{" "}
          <a href="/billing">Billing</a>
        </p>
      </div>
    </Page>
  );
}

/** `/billing/phonepe/return?merchant_order_id=…`: back from PhonePe; asks the API to verify the order. */
export function PhonePeReturn() {
  const { query } = useLocation();
  const orderId = query["merchant_order_id"] ?? "";
  const solutions = useUserSolutions();
  const verify = useLoad(
    async () => (orderId ? api.request("post", "/api/payments/verify", { body: { merchant_order_id: orderId } }) : undefined),
    [orderId],
  );
  const pending = verify.data?.state === "pending";
  const gaveUp = useElapsed(GIVE_UP_MS);
  const tick = useCallback(() => verify.reload(), [verify.reload]);
  usePoll(tick, 2_000, pending && !gaveUp);
  return (
    <Page title="PhonePe payment">
      <div class="card narrow">
        {!orderId ? (
          <Notice kind="warning">
            This page needs the order PhonePe sends back. Check <a href="/billing">Billing</a> for your payments.
          </Notice>
        ) : (
          <LoadState loaded={verify} label="the payment">
            {(v) => {
              if (!v) return null;
              const sub = v.subscription;
              const name = nameOf(solutions.data, sub.solution_id);
              if (v.state === "completed" && v.unapplied)
                return (
                  <Notice kind="warning">
                    <strong>Your payment arrived, but the invoice it was for no longer applies.</strong>
                    <p>Nothing changed, and the whole amount is being refunded to you through PhonePe.</p>
                  </Notice>
                );
              if (v.state === "completed")
                return (
                  <Notice kind="success">
                    <strong>Payment received.</strong>
                    <p>
                      {name} is on the <strong>{tierName(sub.tier)}</strong> plan (<StatusBadge status={sub.status} />)
                      {sub.current_period_end && (
                        <>
                          , until <DateTime value={sub.current_period_end} />
                        </>
                      )}
                      .{v.invoice_number && <> Tax invoice {v.invoice_number}.</>}
                    </p>
                  </Notice>
                );
              if (v.state === "failed")
                return (
                  <>
                    <ProblemAlert error={new Error("PhonePe reports that the payment failed. Nothing was charged.")} title="Payment failed" />
                    <p>
                      <a href={`/billing/pay?invoice_id=${encodeURIComponent(v.invoice_id)}`}>Try paying again</a>
                    </p>
                  </>
                );
              return gaveUp ? (
                <Notice kind="info">
                  <strong>Your payment is being confirmed.</strong>
                  <p>PhonePe has not confirmed it yet. Your plan changes as soon as it does; do not pay again.</p>
                </Notice>
              ) : (
                <p role="status" aria-busy="true">
                  Waiting for PhonePe to confirm the payment…
                </p>
              );
            }}
          </LoadState>
        )}
        <p>
          <a href="/billing">Go to Billing</a>
        </p>
      </div>
    </Page>
  );
}

/** `/billing/pay[?invoice_id=…]`: from a "payment due" or "payment failed" mail. */
export function BillingPay() {
  const s = useSession();
  const { query } = useLocation();
  const invoiceId = query["invoice_id"];
  const payers = customersFor(s, "buy");
  const solutions = useUserSolutions();
  const due = useLoad(async () => {
    const lists = await Promise.all(payers.map((c) => listSubscriptions(c.id)));
    return lists.flat().filter((x) => x.status === "past_due");
  }, [payers.map((c) => c.id).join()]);
  const pay = useAction(payWithPhonePe);
  return (
    <Page title="Pay for your subscription">
      <Section title="What happened">
        <p>
          A renewal payment is due or did not go through. Your plan stays in force during a grace period; pay before it ends
          to keep it.
        </p>
        {invoiceId && (
          <div class="actions">
            <Button kind="primary" pending={pay.pending} onClick={() => void pay.run({ invoice_id: invoiceId })}>
              Pay this invoice with PhonePe
            </Button>
          </div>
        )}
        <ProblemAlert error={pay.error} title="Could not start the payment" />
      </Section>
      <Section title="Subscriptions with a payment due">
        <LoadState loaded={due} label="your subscriptions">
          {(list) =>
            list.length === 0 ? (
              <Notice kind="success">Nothing is due: every subscription is paid up.</Notice>
            ) : (
              <ul class="sub-list">
                {list.map((sub) => (
                  <li key={sub.subscription_id} class="card sub-card">
                    <h3>
                      {nameOf(solutions.data, sub.solution_id)}: {tierName(sub.tier)}
                    </h3>
                    <p>
                      <Money amount={sub.price.amount} currency={sub.price.currency} /> per {sub.period === "yearly" ? "year" : "month"}
                      {sub.grace_until && (
                        <>
                          {" "}
                          · pay before <DateTime value={sub.grace_until} />
                        </>
                      )}
                    </p>
                    {sub.provider === "phonepe" ? (
                      <Button kind="primary" pending={pay.pending} onClick={() => void pay.run({ subscription_id: sub.subscription_id })}>
                        Pay now with PhonePe
                      </Button>
                    ) : (
                      <p>
                        Stripe retries your card automatically over the next days. To pay now or use another card, open the
                        link in the payment email from us (Stripe's secure invoice page).
                      </p>
                    )}
                  </li>
                ))}
              </ul>
            )
          }
        </LoadState>
        <p>
          <a href="/billing">All subscriptions, payments and invoices</a>
        </p>
      </Section>
    </Page>
  );
}
