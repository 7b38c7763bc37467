// A solution's listing and its tiers: limits (blank = unlimited) and prices typed in major units, turned into
// exact integer minor units by string parsing. Used to draft a solution and to change one; on a published
// solution a change of tiers or prices waits for an admin (the API keeps it in `pending_tiers`).
import type { components } from "@monetization/sdk";
import { useState } from "preact/hooks";
import { Button, Field, ProblemAlert, Select, TextArea, fieldErrors } from "../../ui/components";
import { useAction } from "../../ui/data";
import { TIER_ORDER, type PartnerSolution, type TierName, type TierSpec } from "./common";
import { minorToMajorText, parseMajor } from "../../ui/money";

type Price = components["schemas"]["Price"];
type Period = Price["period"];

interface PriceRow {
  key: number;
  currency: string;
  period: Period;
  amount: string;
}

interface TierRow {
  enabled: boolean;
  daily: string;
  monthly: string;
  prices: PriceRow[];
}

const PAID: TierName[] = ["pro", "enterprise"];
const CURRENCIES = ["inr", "usd", "eur", "gbp"];
const TIER_LABEL: Record<TierName, string> = { anonymous: "Anonymous", free: "Free", pro: "Pro", enterprise: "Enterprise" };
let nextKey = 1;

function rowsFrom(tiers: TierSpec[] | undefined): Record<TierName, TierRow> {
  const out = {} as Record<TierName, TierRow>;
  for (const name of TIER_ORDER) {
    const t = tiers?.find((x) => x.tier === name);
    const prices = ((t?.prices as Price[] | undefined) ?? []).map((p) => ({
      key: nextKey++,
      currency: p.currency,
      period: p.period,
      amount: minorToMajorText(p.amount, p.currency),
    }));
    out[name] = {
      enabled: !!t,
      daily: t?.daily_limit === null || t?.daily_limit === undefined ? "" : String(t.daily_limit),
      monthly: t?.monthly_limit === null || t?.monthly_limit === undefined ? "" : String(t.monthly_limit),
      prices: PAID.includes(name) && prices.length === 0 && !t ? [{ key: nextKey++, currency: "inr", period: "monthly", amount: "" }] : prices,
    };
  }
  return out;
}

/** The tiers to send, or the errors found before sending (by field name as the form shows them). */
function buildTiers(rows: Record<TierName, TierRow>): { tiers: TierSpec[]; order: TierName[]; errors: Record<string, string> } {
  const tiers: TierSpec[] = [];
  const order: TierName[] = [];
  const errors: Record<string, string> = {};
  const limit = (text: string, field: string): number | null => {
    const t = text.trim().replace(/[,_\s]/g, "");
    if (t === "") return null;
    if (!/^\d{1,10}$/.test(t)) {
      errors[field] = "Enter a whole number, or leave it blank for unlimited.";
      return null;
    }
    return Number(t);
  };
  for (const name of TIER_ORDER) {
    const row = rows[name];
    if (!row.enabled) continue;
    const spec: Record<string, unknown> = {
      tier: name,
      daily_limit: limit(row.daily, `${name}.daily_limit`),
      monthly_limit: limit(row.monthly, `${name}.monthly_limit`),
    };
    if (PAID.includes(name)) {
      spec["prices"] = row.prices.map((p, j) => {
        const parsed = parseMajor(p.amount, p.currency);
        if (!parsed.ok) errors[`${name}.prices.${j}.amount`] = parsed.error;
        else if (parsed.minor < 1) errors[`${name}.prices.${j}.amount`] = "A price is more than zero.";
        return { currency: p.currency, period: p.period, amount: parsed.ok ? parsed.minor : 0 };
      });
    }
    tiers.push(spec as unknown as TierSpec);
    order.push(name);
  }
  if (tiers.length === 0) errors["tiers"] = "Offer at least one tier.";
  return { tiers, order, errors };
}

/** The API's field errors (`tiers[1].prices[0].amount`) under the form's names (`pro.prices.0.amount`). */
function apiTierErrors(api: Record<string, string>, order: TierName[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, message] of Object.entries(api)) {
    const m = /^tiers\[(\d+)\](?:\.(.*))?$/.exec(field);
    const tier = m ? order[Number(m[1])] : undefined;
    if (!m || !tier) {
      out[field] = message;
      continue;
    }
    const rest = (m[2] ?? "").replace(/\[(\d+)\]/g, ".$1");
    out[rest ? `${tier}.${rest}` : `${tier}`] = message;
  }
  return out;
}

export interface SolutionInput {
  name: string;
  description: string;
  category: string;
  tags: string[];
  website?: string;
  time_zone: string;
  /** Absent when the tiers did not change (editing). */
  tiers?: TierSpec[];
}

export function SolutionForm(props: {
  initial?: PartnerSolution;
  /** The tiers to start from (a published solution's waiting change, else its tiers). */
  initialTiers?: TierSpec[];
  submitLabel: string;
  published?: boolean;
  disabled?: boolean;
  onSave: (input: SolutionInput) => Promise<unknown>;
}) {
  const i = props.initial;
  const [name, setName] = useState(i?.name ?? "");
  const [description, setDescription] = useState(i?.description ?? "");
  const [category, setCategory] = useState(i?.category ?? "");
  const [tags, setTags] = useState((i?.tags ?? []).join(", "));
  const [website, setWebsite] = useState(i?.website ?? "");
  const [timeZone, setTimeZone] = useState(i?.time_zone ?? "Asia/Kolkata");
  const [rows, setRows] = useState(() => rowsFrom(props.initialTiers ?? i?.tiers ?? [{ tier: "free", daily_limit: 100 } as TierSpec]));
  const [startTiers] = useState(() => JSON.stringify(buildTiers(rowsFrom(props.initialTiers ?? i?.tiers)).tiers));
  const [local, setLocal] = useState<Record<string, string>>({});
  const [order, setOrder] = useState<TierName[]>([]);
  const save = useAction(async () => {
    const built = buildTiers(rows);
    setLocal(built.errors);
    setOrder(built.order);
    if (Object.keys(built.errors).length > 0) return undefined;
    const tiersChanged = !i || JSON.stringify(built.tiers) !== startTiers;
    return props.onSave({
      name: name.trim(),
      description: description.trim(),
      category: category.trim(),
      tags: tags
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean),
      ...(website.trim() ? { website: website.trim() } : {}),
      time_zone: timeZone.trim(),
      ...(tiersChanged ? { tiers: built.tiers } : {}),
    });
  });
  const api = fieldErrors(save.error);
  const errors: Record<string, string> = { ...apiTierErrors(api, order), ...local };
  const update = (tier: TierName, change: Partial<TierRow>) => setRows((r) => ({ ...r, [tier]: { ...r[tier], ...change } }));
  const updatePrice = (tier: TierName, key: number, change: Partial<PriceRow>) =>
    setRows((r) => ({ ...r, [tier]: { ...r[tier], prices: r[tier].prices.map((p) => (p.key === key ? { ...p, ...change } : p)) } }));
  const localCount = Object.keys(local).length;
  return (
    <form
      class="solution-form"
      noValidate={false}
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      <fieldset class="fieldset" disabled={props.disabled}>
        <legend>Listing</legend>
        <Field label="Name" name="name" required minLength={2} maxLength={100} value={name} onInput={setName} error={errors["name"]} />
        <TextArea label="Description" name="description" required maxLength={5000} rows={4} value={description} onInput={setDescription} error={errors["description"]} />
        <Field label="Category" name="category" required maxLength={40} hint="Lowercase letters, digits and dashes, e.g. developer-tools." value={category} onInput={setCategory} error={errors["category"]} />
        <Field label="Tags" name="tags" hint="Comma separated, e.g. search, india (at most 10)." value={tags} onInput={setTags} error={errors["tags"]} />
        <Field label="Website (optional)" name="website" type="url" maxLength={200} hint="An https:// address." value={website} onInput={setWebsite} error={errors["website"]} />
        <Field label="Time zone" name="time_zone" required hint="The IANA time zone in which a day's usage is counted, e.g. Asia/Kolkata or UTC." value={timeZone} onInput={setTimeZone} error={errors["time_zone"]} />
      </fieldset>
      <fieldset class="fieldset" disabled={props.disabled}>
        <legend>Tiers and prices</legend>
        {props.published && (
          <p class="hint">
            On a published solution a change of tiers or prices waits for an administrator's approval; the live tiers
            stay until then.
          </p>
        )}
        <p class="hint">Leave a limit blank for unlimited. Prices are in the currency's major units (e.g. 499.00).</p>
        {errors["tiers"] && <p class="field-error">{errors["tiers"]}</p>}
        {TIER_ORDER.map((tier) => {
          const row = rows[tier];
          const paid = PAID.includes(tier);
          return (
            <fieldset class="tier-row" key={tier}>
              <legend>{TIER_LABEL[tier]} tier</legend>
              <label class="check">
                <input type="checkbox" checked={row.enabled} onChange={(e) => update(tier, { enabled: e.currentTarget.checked })} />{" "}
                Offer the {TIER_LABEL[tier]} tier
              </label>
              {errors[tier] && <p class="field-error">{errors[tier]}</p>}
              {row.enabled && (
                <div class="tier-fields">
                  <Field label={`${TIER_LABEL[tier]} daily limit`} name={`${tier}_daily`} inputMode="numeric" value={row.daily} onInput={(v) => update(tier, { daily: v })} error={errors[`${tier}.daily_limit`]} />
                  <Field label={`${TIER_LABEL[tier]} monthly limit`} name={`${tier}_monthly`} inputMode="numeric" value={row.monthly} onInput={(v) => update(tier, { monthly: v })} error={errors[`${tier}.monthly_limit`]} />
                  {paid && (
                    <div class="prices">
                      {errors[`${tier}.prices`] && <p class="field-error">{errors[`${tier}.prices`]}</p>}
                      {row.prices.map((p, j) => (
                        <div class="price-row" key={p.key} role="group" aria-label={`${TIER_LABEL[tier]} price ${j + 1}`}>
                          <Select
                            label={`${TIER_LABEL[tier]} price ${j + 1} currency`}
                            name={`${tier}_currency_${j}`}
                            value={p.currency}
                            onChange={(v) => updatePrice(tier, p.key, { currency: v })}
                            options={CURRENCIES.map((c) => ({ value: c, label: c.toUpperCase() }))}
                            error={errors[`${tier}.prices.${j}.currency`]}
                          />
                          <Select
                            label={`${TIER_LABEL[tier]} price ${j + 1} period`}
                            name={`${tier}_period_${j}`}
                            value={p.period}
                            onChange={(v) => updatePrice(tier, p.key, { period: v as Period })}
                            options={[
                              { value: "monthly", label: "Monthly" },
                              { value: "yearly", label: "Yearly" },
                            ]}
                            error={errors[`${tier}.prices.${j}.period`]}
                          />
                          <Field
                            label={`${TIER_LABEL[tier]} price ${j + 1} amount`}
                            name={`${tier}_amount_${j}`}
                            inputMode="decimal"
                            required
                            value={p.amount}
                            onInput={(v) => updatePrice(tier, p.key, { amount: v })}
                            error={errors[`${tier}.prices.${j}.amount`] ?? errors[`${tier}.prices.${j}`]}
                          />
                          <Button
                            aria-label={`Remove ${TIER_LABEL[tier]} price ${j + 1}`}
                            onClick={() => update(tier, { prices: row.prices.filter((x) => x.key !== p.key) })}
                          >
                            Remove
                          </Button>
                        </div>
                      ))}
                      <Button
                        onClick={() =>
                          update(tier, { prices: [...row.prices, { key: nextKey++, currency: "inr", period: "monthly", amount: "" }] })
                        }
                      >
                        Add a {TIER_LABEL[tier]} price
                      </Button>
                    </div>
                  )}
                </div>
              )}
            </fieldset>
          );
        })}
      </fieldset>
      {localCount > 0 && (
        <div class="alert alert-error" role="alert">
          <strong>Check the form</strong>
          <p>{localCount === 1 ? "One field needs a change." : `${localCount} fields need a change.`}</p>
        </div>
      )}
      <ProblemAlert error={save.error} title="Could not save the solution" />
      <Button type="submit" kind="primary" pending={save.pending} disabled={props.disabled}>
        {props.submitLabel}
      </Button>
    </form>
  );
}
