// Usage-based pricing in words, and the spending cap as a person types it. Pure functions (no components), so
// they are unit-tested (usageTerms.test.ts). Money stays integer minor units: formatMoney and parseMajor only.
import { formatMoney, parseMajor } from "../../ui/money";
import type { Schemas } from "./shared";

export type UsagePricing = Schemas["UsagePricing"];

/** "per 1,000 events", "per event" (the API names no unit: usage is counted in events). */
function perBlock(blockSize: number): string {
  return blockSize === 1 ? "per event" : `per ${blockSize.toLocaleString()} events`;
}

function count(n: number): string {
  return n.toLocaleString();
}

function blockPrice(amount: number, currency: string, blockSize: number): string {
  return amount === 0 ? "free" : `${formatMoney(amount, currency)} ${perBlock(blockSize)}`;
}

/**
 * A price's usage terms for people: a sentence, and the graduated ranges when there is more than one.
 * Soft, one range: "5,000 events a month included, then ₹10.00 per 1,000 events". Hard: "5,000 events a month
 * included; hard limit: usage stops at the allowance". Yearly prices state the year's allowance too.
 */
export function usageTerms(
  usage: UsagePricing,
  currency: string,
  period: "monthly" | "yearly" = "monthly",
): { summary: string; blocks: string[] } {
  const yearly = period === "yearly" ? ` (${count(usage.included_monthly * 12)} a year)` : "";
  const included =
    usage.included_monthly > 0
      ? `${count(usage.included_monthly)} events a month${yearly} included`
      : "No events included";
  if (usage.limit === "hard") return { summary: `${included}; hard limit: usage stops at the allowance`, blocks: [] };
  const blocks = usage.blocks ?? [];
  const [first] = blocks;
  if (!first) return { summary: `${included}; beyond it, overage is charged at the end of the period`, blocks: [] };
  if (blocks.length === 1)
    return { summary: `${included}, then ${blockPrice(first.amount, currency, usage.block_size)}`, blocks: [] };
  let from = 0;
  const lines = blocks.map((b, i) => {
    const price = blockPrice(b.amount, currency, usage.block_size);
    const line =
      b.up_to === undefined
        ? `beyond ${count(from)} events over the allowance: ${price}`
        : i === 0
          ? `the first ${count(b.up_to)} events over the allowance: ${price}`
          : `events ${count(from + 1)} to ${count(b.up_to)} over the allowance: ${price}`;
    from = b.up_to ?? from;
    return line;
  });
  return { summary: `${included}, then graduated overage (charged at the end of the period):`, blocks: lines };
}

/** The most a spending cap may be (SpendingCapRequest.amount's maximum), minor units. */
export const MAX_CAP = 10_000_000_000;

/**
 * A spending cap typed in major units ("500", "500.50", "1,500") as exact minor units of `currency` (INR:
 * 50000, 50050, 150000), or the error to show next to the field: garbage, a sign, more decimals than the
 * currency has, or more than the API takes.
 */
export function parseCap(text: string, currency: string): { ok: true; minor: number } | { ok: false; error: string } {
  if (/^\s*[-−]/.test(text)) return { ok: false, error: "The cap cannot be negative." };
  const parsed = parseMajor(text, currency);
  if (!parsed.ok) return parsed;
  if (parsed.minor > MAX_CAP) return { ok: false, error: `At most ${formatMoney(MAX_CAP, currency)}.` };
  return parsed;
}
