import { describe, expect, it } from "vitest";
import { currencyDigits, formatMoney, minorToMajorText, parseMajor } from "./money";

describe("parseMajor: typed major units to exact minor units", () => {
  it.each([
    ["499", "inr", 49_900],
    ["499.5", "inr", 49_950],
    ["499.50", "inr", 49_950],
    ["0.29", "inr", 29],
    ["0.07", "usd", 7],
    [".5", "inr", 50],
    ["1,234.56", "inr", 123_456],
    ["  12 ", "inr", 1_200],
    ["1200", "jpy", 1_200],
    ["1.234", "bhd", 1_234],
    ["90071992547409.91", "inr", 9_007_199_254_740_991],
  ])("%s %s → %i", (text, currency, minor) => {
    expect(parseMajor(text, currency)).toEqual({ ok: true, minor });
  });

  it("never goes through a float (0.29 × 100 is 28.999999999999996)", () => {
    for (let paise = 0; paise < 10_000; paise++) {
      const text = `${Math.floor(paise / 100)}.${String(paise % 100).padStart(2, "0")}`;
      expect(parseMajor(text, "inr")).toEqual({ ok: true, minor: paise });
    }
  });

  it.each([
    ["", "Enter an amount."],
    ["abc", "Enter an amount like 499 or 499.50."],
    ["-5", "Enter an amount like 499 or 499.50."],
    ["1e3", "Enter an amount like 499 or 499.50."],
    ["12,34", "Enter an amount like 499 or 499.50."],
    [".", "Enter an amount like 499 or 499.50."],
    ["499.999", "At most 2 digits after the decimal point."],
    ["90071992547409.92", "That amount is too large."],
  ])("refuses %j", (text, error) => {
    expect(parseMajor(text, "inr")).toEqual({ ok: false, error });
  });

  it("refuses decimals where the currency has no minor unit", () => {
    expect(parseMajor("12.5", "jpy")).toEqual({ ok: false, error: "JPY has no minor unit: enter a whole amount." });
  });
});

describe("minor units back to text and to money", () => {
  it("knows each currency's minor digits", () => {
    expect([currencyDigits("inr"), currencyDigits("USD"), currencyDigits("jpy"), currencyDigits("bhd")]).toEqual([2, 2, 0, 3]);
  });

  it.each([
    [49_950, "inr", "499.50"],
    [7, "inr", "0.07"],
    [0, "usd", "0.00"],
    [-1_250, "inr", "-12.50"],
    [1_200, "jpy", "1200"],
    [9_007_199_254_740_991, "inr", "90071992547409.91"],
  ])("%i %s → %s, and back", (minor, currency, text) => {
    expect(minorToMajorText(minor, currency)).toBe(text);
    if (minor >= 0) expect(parseMajor(text, currency)).toEqual({ ok: true, minor });
  });

  it("formats exactly, even beyond a double's decimal precision", () => {
    expect(formatMoney(49_950, "inr", "en-IN")).toBe("₹499.50");
    expect(formatMoney(1_999, "usd", "en-US")).toBe("$19.99");
    expect(formatMoney(-1_250, "inr", "en-IN")).toBe("-₹12.50");
    expect(formatMoney(9_007_199_254_740_991, "usd", "en-US")).toBe("$90,071,992,547,409.91");
  });
});
