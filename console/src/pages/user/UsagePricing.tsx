// Usage-based pricing in the user area: a price's usage terms (plans, checkout, subscriptions), a usage-priced
// subscription's current billing period (from the quota answer's `billing_period`) and its spending cap.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { api } from "../../session";
import { QuotaGauge } from "../../ui/charts";
import { Button, DateTime, Field, LoadState, Money, Notice, ProblemAlert, Table, fieldErrors, formatMoney } from "../../ui/components";
import { useAction, useLoad } from "../../ui/data";
import { type Schemas, type Subscription } from "./shared";
import { type UsagePricing, parseCap, usageTerms } from "./usageTerms";

type PeriodUsage = Schemas["PeriodUsage"];

/** A price's usage terms: one sentence, and the graduated ranges listed when there are several. */
export function UsageTerms(props: { usage: UsagePricing | undefined; currency: string; period?: "monthly" | "yearly" }) {
  if (!props.usage) return null;
  const { summary, blocks } = usageTerms(props.usage, props.currency, props.period);
  return (
    <div class="usage-terms" data-testid="usage-terms">
      <span>{summary}</span>
      {blocks.length > 0 && (
        <ul>
          {blocks.map((b) => (
            <li key={b}>{b}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * A usage-priced subscription's billing period so far (used against the allowance, overage and its charge, the
 * projection) and, under a soft limit, its spending cap.
 */
export function SubscriptionUsage(props: { sub: Subscription; name: string }) {
  const { sub } = props;
  const quota = useLoad(
    () =>
      api.request("get", "/api/quotas/{customer_id}/{solution_id}", {
        path: { customer_id: sub.customer_id, solution_id: sub.solution_id },
      }),
    [sub.customer_id, sub.solution_id],
  );
  return (
    <div class="period-usage">
      <div class="card-header">
        <h4>Usage this billing period</h4>
        <Button onClick={quota.reload} pending={quota.loading}>
          Refresh usage
        </Button>
      </div>
      <LoadState loaded={quota} label="this period's usage">
        {(q) =>
          q.billing_period ? (
            <PeriodView period={q.billing_period} name={props.name} />
          ) : (
            <p class="muted">No usage is counted for this plan's billing period yet.</p>
          )
        }
      </LoadState>
      {sub.usage?.limit === "soft" && <SpendingCap sub={sub} onChanged={quota.reload} />}
    </div>
  );
}

function PeriodView(props: { period: PeriodUsage; name: string }) {
  const p = props.period;
  const rows: { what: string; value: ComponentChildren }[] = [
    { what: "Used", value: p.used.toLocaleString() },
    { what: "Included", value: p.included.toLocaleString() },
    { what: "Overage (units beyond the allowance)", value: p.overage.toLocaleString() },
    { what: "Overage charge so far", value: <Money amount={p.overage_charge} currency={p.currency} /> },
    { what: "Projected charge at the period end", value: <Money amount={p.projected_charge} currency={p.currency} /> },
    {
      what: "Period",
      value: (
        <>
          <DateTime value={p.period_start} date /> to <DateTime value={p.period_end} date />
        </>
      ),
    },
    {
      what: "Limit at the allowance",
      value: p.limit === "soft" ? "Soft: usage goes on, overage is charged" : "Hard: usage stops",
    },
  ];
  return (
    <div class="period-grid">
      <QuotaGauge title={`${props.name}: this billing period`} used={p.used} limit={p.included} resetAt={p.period_end} />
      <div>
        <p class="gauge-numbers" data-testid="period-summary">
          {p.used.toLocaleString()} used of {p.included.toLocaleString()} included
          {p.overage > 0 && <>; {p.overage.toLocaleString()} beyond the allowance</>}
        </p>
        {p.cap_reached && (
          <Notice kind="warning">
            <strong>The spending cap is reached.</strong> Further usage is refused until the period ends (
            <DateTime value={p.period_end} />
            ); raise or remove the cap to go on.
          </Notice>
        )}
        <Table
          caption="Usage this billing period"
          rows={rows}
          rowKey={(r) => r.what}
          columns={[
            { header: "Measure", cell: (r) => r.what },
            { header: "Value", cell: (r) => r.value, numeric: true },
          ]}
        />
        <p class="hint">The overage is charged at the end of the period (<DateTime value={p.period_end} />).</p>
      </div>
    </div>
  );
}

/** The spending cap on overage per period: shown, set (major units in, exact minor units out) or removed. */
function SpendingCap(props: { sub: Subscription; onChanged: () => void }) {
  const { sub } = props;
  const currency = sub.price.currency;
  const [text, setText] = useState("");
  const [typed, setTyped] = useState<string>();
  const [cap, setCap] = useState(sub.spending_cap);
  const [done, setDone] = useState<string>();
  const save = useAction(async (amount: number | null) => {
    const after = await api.request("put", "/api/subscriptions/{id}/spending-cap", {
      path: { id: sub.subscription_id },
      body: { amount, currency },
    });
    setCap(after.spending_cap);
    setText("");
    setDone(
      after.spending_cap
        ? `The spending cap is now ${formatMoney(after.spending_cap.amount, after.spending_cap.currency)} per billing period.`
        : "The spending cap is removed: overage is not capped.",
    );
    props.onChanged();
    return after;
  });
  const errors = fieldErrors(save.error);
  const fieldError = typed ?? errors["amount"] ?? errors["currency"];
  const code = currency.toUpperCase();
  return (
    <div class="spending-cap">
      <h4>Spending cap</h4>
      <p data-testid="spending-cap">
        Current cap:{" "}
        {cap ? (
          <>
            <Money amount={cap.amount} currency={cap.currency} /> of overage per billing period
          </>
        ) : (
          "no cap"
        )}
      </p>
      {done && <Notice kind="success">{done}</Notice>}
      <form
        class="toolbar"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          setDone(undefined);
          const parsed = parseCap(text, currency);
          if (!parsed.ok) {
            setTyped(parsed.error);
            save.reset();
            return;
          }
          setTyped(undefined);
          void save.run(parsed.minor);
        }}
      >
        <Field
          label={`Spending cap (${code})`}
          name="amount"
          value={text}
          onInput={(v) => {
            setText(v);
            setTyped(undefined);
          }}
          inputMode="decimal"
          autoComplete="off"
          hint={`The most overage may cost per billing period, in ${code}, e.g. 500 or 500.50. At the cap, further usage is refused until the period ends.`}
          error={fieldError}
        />
        <Button type="submit" kind="primary" pending={save.pending}>
          Set cap
        </Button>
        {cap && (
          <Button
            pending={save.pending}
            onClick={() => {
              setDone(undefined);
              setTyped(undefined);
              void save.run(null);
            }}
          >
            Remove cap
          </Button>
        )}
      </form>
      <ProblemAlert error={errors["amount"] || errors["currency"] ? undefined : save.error} title="Could not change the spending cap" />
    </div>
  );
}

/** One line for pages beside Billing (Usage): the period's usage against the allowance, and where the rest is. */
export function PeriodLine(props: { period: PeriodUsage }) {
  const p = props.period;
  return (
    <p data-testid="period-line">
      This billing period: {p.used.toLocaleString()} of {p.included.toLocaleString()} included
      {p.overage > 0 && (
        <>
          , {p.overage.toLocaleString()} beyond the allowance (<Money amount={p.overage_charge} currency={p.currency} /> so far)
        </>
      )}
      {p.cap_reached && <>; the spending cap is reached</>}. <a href="/billing">Billing</a> shows the period and its spending
      cap.
    </p>
  );
}
