import { useMemo, useState } from "preact/hooks";
import { api, useSession } from "../../session";
import {
  Button,
  DateTime,
  Field,
  LoadState,
  Money,
  Notice,
  Page,
  Section,
  Select,
  StatusBadge,
  Table,
  fieldErrors,
} from "../../ui/components";
import { useAction, useLoad } from "../../ui/data";
import {
  ActionError,
  CustomerSelect,
  type Price,
  type TierSpec,
  customersFor,
  limitText,
  listSubscriptions,
  newIdempotencyKey,
  rememberCheckout,
  tierName,
  useUserSolutions,
} from "./shared";
import { UsageTerms } from "./UsagePricing";

/** The paid tiers a solution without tiers of its own sells: the platform's defaults (prices known at checkout). */
const DEFAULT_PAID: TierSpec[] = [
  { tier: "pro", prices: [] },
  { tier: "enterprise", prices: [] },
] as unknown as TierSpec[];

function PriceList(props: { prices: Price[] | undefined }) {
  const prices = props.prices ?? [];
  if (prices.length === 0) return <span>—</span>;
  return (
    <ul class="plain-list">
      {prices.map((p) => (
        <li key={`${p.currency}-${p.period}`}>
          <Money amount={p.amount} currency={p.currency} /> / {p.period === "yearly" ? "year" : "month"}
          <UsageTerms usage={p.usage} currency={p.currency} period={p.period} />
        </li>
      ))}
    </ul>
  );
}

/** `/catalog/:id`: a solution, its tiers, limits and prices, reviews, and subscribing to a paid tier. */
export function Solution(props: { id?: string; params?: { id?: string } }) {
  const id = props.params?.id ?? props.id ?? "";
  const details = useLoad(() => api.request("get", "/api/solutions/{id}", { path: { id } }), [id]);
  const mine = useUserSolutions();
  const [chosen, setChosen] = useState<TierSpec>();
  const myTier = mine.data?.find((s) => s.solution_id === id)?.tier;
  return (
    <LoadState loaded={details} label="this solution">
      {(sol) => {
        const declared = sol.tiers ?? [];
        const paid = declared.length === 0 ? DEFAULT_PAID : declared.filter((t) => t.tier === "pro" || t.tier === "enterprise");
        return (
          <Page title={sol.name ?? id}>
            <p>
              <a href="/catalog">← Back to the catalog</a>
            </p>
            <Section title="About">
              {sol.partner_name && <p class="muted">by {sol.partner_name}</p>}
              <p>{sol.description}</p>
              <ul class="plain-list">
                {sol.category && <li>Category: {sol.category}</li>}
                {(sol.tags ?? []).length > 0 && <li>Tags: {(sol.tags ?? []).join(", ")}</li>}
                <li>
                  Rating:{" "}
                  {sol.rating?.average != null ? `${sol.rating.average} of 5 (${sol.rating.count} reviews)` : "not rated yet"}
                </li>
                {sol.website && (
                  <li>
                    Website:{" "}
                    <a href={sol.website} target="_blank" rel="noopener noreferrer">
                      {sol.website}
                    </a>
                  </li>
                )}
                {sol.time_zone && <li>Daily quotas reset at midnight {sol.time_zone}.</li>}
                {myTier && (
                  <li>
                    Your tier: <StatusBadge status={myTier} />
                  </li>
                )}
              </ul>
            </Section>
            <Section title="Plans">
              {declared.length === 0 ? (
                <p>
                  This solution uses the platform's standard plans: Free, Pro and Enterprise (by default 100, 10,000
                  and unlimited uses a day). The price is shown on the payment page before you pay.
                </p>
              ) : (
                <Table
                  caption="Plans with their limits and prices"
                  rows={declared}
                  rowKey={(t) => t.tier}
                  columns={[
                    { header: "Plan", cell: (t) => tierName(t.tier) },
                    { header: "Uses a day", cell: (t) => limitText(t.daily_limit), numeric: true },
                    { header: "Uses a month", cell: (t) => limitText(t.monthly_limit), numeric: true },
                    { header: "Price", cell: (t) => (t.tier === "free" || t.tier === "anonymous" ? "Free" : <PriceList prices={t.prices} />) },
                  ]}
                />
              )}
              <div class="actions">
                {paid.map((t) => (
                  <Button
                    key={t.tier}
                    kind={chosen?.tier === t.tier ? "primary" : "secondary"}
                    aria-expanded={chosen?.tier === t.tier}
                    onClick={() => setChosen(chosen?.tier === t.tier ? undefined : t)}
                  >
                    Subscribe to {tierName(t.tier)}
                  </Button>
                ))}
              </div>
            </Section>
            {chosen && <SubscribeForm key={chosen.tier} solutionId={id} spec={chosen} />}
            <Reviews id={id} />
          </Page>
        );
      }}
    </LoadState>
  );
}

function SubscribeForm(props: { solutionId: string; spec: TierSpec }) {
  const s = useSession();
  const buyers = customersFor(s, "buy");
  const [customer, setCustomer] = useState(buyers[0]?.id ?? "");
  const prices = props.spec.prices ?? [];
  const known = prices.length > 0;
  const periods = known ? [...new Set(prices.map((p) => p.period))] : (["monthly"] as const);
  const [period, setPeriod] = useState<"monthly" | "yearly">(periods[0] ?? "monthly");
  const inr = prices.find((p) => p.period === period && p.currency === "inr");
  // PhonePe takes rupees only: offered when the tier has a rupee price (or when the price is the platform's).
  const rails = [
    { value: "stripe", label: "Card (Stripe)" },
    ...(inr || !known ? [{ value: "phonepe", label: "UPI (PhonePe)" }] : []),
  ];
  const [provider, setProvider] = useState<"stripe" | "phonepe">("stripe");
  const [gstin, setGstin] = useState("");
  const buyer = buyers.find((b) => b.id === customer);
  // One key per attempt: a retry of the same request answers the same; a different request gets its own.
  const key = useMemo(newIdempotencyKey, [customer, period, provider, gstin]);
  const existing = useLoad(() => (customer ? listSubscriptions(customer, props.solutionId) : Promise.resolve([])), [customer]);
  const current = existing.data?.find(
    (x) => x.solution_id === props.solutionId && (x.status === "active" || x.status === "past_due"),
  );
  const subscribe = useAction(async () => {
    const created = await api.request("post", "/api/subscriptions", {
      headers: { "Idempotency-Key": key },
      body: {
        solution_id: props.solutionId,
        tier: props.spec.tier as "pro" | "enterprise",
        provider,
        period,
        ...(gstin.trim() ? { gstin: gstin.trim().toUpperCase() } : {}),
        ...(buyer?.orgId ? { org_id: buyer.orgId } : {}),
      },
    });
    rememberCheckout({
      subscription_id: created.subscription_id,
      customer_id: customer,
      solution_id: props.solutionId,
      tier: created.tier,
    });
    location.assign(created.checkout_url);
    return created;
  });
  const errors = fieldErrors(subscribe.error);
  const price = prices.find((p) => p.period === period && (provider === "phonepe" ? p.currency === "inr" : true));
  return (
    <Section title={`Subscribe to ${tierName(props.spec.tier)}`}>
      <form
        class="narrow"
        onSubmit={(e) => {
          e.preventDefault();
          void subscribe.run();
        }}
      >
        {buyers.length < 2 && <p>For your own account.</p>}
        <CustomerSelect customers={buyers} value={customer} onChange={setCustomer} label="Subscribe for" error={errors["org_id"]} />
        {current && (
          <Notice kind="info">
            This account already has the {tierName(current.tier)} plan ({current.status.replace("_", " ")}). Change its
            plan in <a href="/billing">Billing</a>.
          </Notice>
        )}
        {periods.length > 1 && (
          <Select
            label="Billing period"
            name="period"
            value={period}
            onChange={(v) => setPeriod(v as "monthly" | "yearly")}
            options={periods.map((p) => ({ value: p, label: p === "yearly" ? "Yearly" : "Monthly" }))}
            error={errors["period"]}
          />
        )}
        <Select
          label="Pay with"
          name="provider"
          value={provider}
          onChange={(v) => setProvider(v as "stripe" | "phonepe")}
          options={rails}
          error={errors["provider"]}
        />
        <Field
          label="GSTIN (optional)"
          name="gstin"
          value={gstin}
          onInput={setGstin}
          maxLength={15}
          autoComplete="off"
          hint="For a business tax invoice, e.g. 27AAPFU0939F1ZV."
          error={errors["gstin"]}
        />
        <p>
          {price ? (
            <>
              You pay <Money amount={price.amount} currency={price.currency} /> per {period === "yearly" ? "year" : "month"}
              {" "}(tax included) until you cancel.
            </>
          ) : (
            <>The price is shown on the payment page before you pay.</>
          )}{" "}
          You will leave the console to pay and come back here afterwards.
        </p>
        {price?.usage && (
          <div class="usage-checkout">
            <strong>Usage included</strong>
            <UsageTerms usage={price.usage} currency={price.currency} period={price.period} />
            {price.usage.limit === "soft" && (
              <p class="hint">
                Overage is charged at the end of each billing period; you can cap what it may cost in Billing.
              </p>
            )}
          </div>
        )}
        <ActionError error={subscribe.error} title="Could not start the subscription" />
        {errors["tier"] && <p class="field-error">{errors["tier"]}</p>}
        <Button type="submit" kind="primary" pending={subscribe.pending || Boolean(subscribe.result)}>
          Continue to payment
        </Button>
      </form>
    </Section>
  );
}

function Reviews(props: { id: string }) {
  const [cursor, setCursor] = useState<string | undefined>();
  const [earlier, setEarlier] = useState<import("./shared").Schemas["Review"][]>([]);
  const page = useLoad(
    () => api.request("get", "/api/solutions/{id}/reviews", { path: { id: props.id }, query: { limit: 10, cursor } }),
    [props.id, cursor],
  );
  return (
    <Section title="Reviews">
      <LoadState loaded={page} label="the reviews">
        {(data) => {
          const all = [...earlier, ...(data.reviews ?? [])];
          return (
            <>
              {all.length === 0 ? (
                <p class="muted">No reviews yet.</p>
              ) : (
                <ul class="review-list">
                  {all.map((r) => (
                    <li key={`${r.user_id}-${r.created_at}`}>
                      <p>
                        <strong>{r.rating} of 5</strong> · {r.author ?? "A user"} · <DateTime value={r.updated_at ?? r.created_at} date />
                      </p>
                      {r.text && <p>{r.text}</p>}
                    </li>
                  ))}
                </ul>
              )}
              {data.next_cursor && (
                <Button
                  onClick={() => {
                    setEarlier(all);
                    setCursor(data.next_cursor ?? undefined);
                  }}
                >
                  More reviews
                </Button>
              )}
            </>
          );
        }}
      </LoadState>
    </Section>
  );
}
