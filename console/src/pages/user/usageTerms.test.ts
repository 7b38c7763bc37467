import { describe, expect, it } from "vitest";
import { formatMoney } from "../../ui/money";
import { parseCap, usageTerms } from "./usageTerms";

const n = (x: number) => x.toLocaleString();
const inr = (minor: number) => formatMoney(minor, "inr");

describe("usageTerms: a price's usage terms in words", () => {
  it("states the allowance and the one overage price", () => {
    expect(usageTerms({ included_monthly: 5_000, limit: "soft", block_size: 1_000, blocks: [{ amount: 1_000 }] }, "inr")).toEqual({
      summary: `${n(5_000)} events a month included, then ${inr(1_000)} per ${n(1_000)} events`,
      blocks: [],
    });
  });

  it("states the year's allowance for a yearly price, and per event for blocks of one", () => {
    const t = usageTerms({ included_monthly: 100, limit: "soft", block_size: 1, blocks: [{ amount: 5 }] }, "inr", "yearly");
    expect(t.summary).toBe(`100 events a month (${n(1_200)} a year) included, then ${inr(5)} per event`);
  });

  it("lists graduated ranges, free ones as free", () => {
    const t = usageTerms(
      { included_monthly: 0, limit: "soft", block_size: 1_000, blocks: [{ up_to: 1_000, amount: 0 }, { up_to: 10_000, amount: 1_000 }, { amount: 800 }] },
      "inr",
    );
    expect(t.summary).toBe("No events included, then graduated overage (charged at the end of the period):");
    expect(t.blocks).toEqual([
      `the first ${n(1_000)} events over the allowance: free`,
      `events ${n(1_001)} to ${n(10_000)} over the allowance: ${inr(1_000)} per ${n(1_000)} events`,
      `beyond ${n(10_000)} events over the allowance: ${inr(800)} per ${n(1_000)} events`,
    ]);
  });

  it("says a hard limit stops usage at the allowance", () => {
    expect(usageTerms({ included_monthly: 5_000, limit: "hard", block_size: 1_000 }, "inr").summary).toBe(
      `${n(5_000)} events a month included; hard limit: usage stops at the allowance`,
    );
  });
});

describe("parseCap: a typed spending cap as exact minor units", () => {
  it.each([
    ["500", "inr", 50_000],
    ["500.50", "inr", 50_050],
    ["500.5", "inr", 50_050],
    ["20.00", "inr", 2_000],
    ["0", "inr", 0],
    ["1,500", "inr", 150_000],
    ["100000000", "inr", 10_000_000_000],
    ["300", "jpy", 300],
  ])("%s %s → %i", (text, currency, minor) => {
    expect(parseCap(text, currency)).toEqual({ ok: true, minor });
  });

  it.each([
    ["12.345", "inr", "At most 2 digits after the decimal point."],
    ["-5", "inr", "The cap cannot be negative."],
    [" −5", "inr", "The cap cannot be negative."],
    ["abc", "inr", "Enter an amount like 499 or 499.50."],
    ["1e3", "inr", "Enter an amount like 499 or 499.50."],
    ["", "inr", "Enter an amount."],
    ["12.5", "jpy", "JPY has no minor unit: enter a whole amount."],
    ["100000000.01", "inr", `At most ${formatMoney(10_000_000_000, "inr")}.`],
  ])("%s %s is refused", (text, currency, error) => {
    expect(parseCap(text, currency)).toEqual({ ok: false, error });
  });
});
