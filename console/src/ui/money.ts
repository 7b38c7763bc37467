// Money in the console, exactly: amounts are integer minor units (paise, cents) with a currency, as the API
// keeps them. Shown with Intl from a decimal string built from the integer; typed by a person ("499", "499.5",
// "1,499.00" in major units) and parsed to minor units by moving digits, never through a float. The currency's
// minor digits come from the browser (ISO 4217: INR 2, JPY 0, BHD 3).

/** Digits after the decimal point of a currency. */
export function currencyDigits(currency: string): number {
  try {
    return (
      new Intl.NumberFormat("en", { style: "currency", currency: currency.toUpperCase() }).resolvedOptions()
        .maximumFractionDigits ?? 2
    );
  } catch {
    return 2;
  }
}

export type Parsed = { ok: true; minor: number } | { ok: false; error: string };

/**
 * A major-units amount typed by a person as integer minor units: `"499.50"` INR → 49950. Digits, an optional
 * decimal point with at most the currency's minor digits, and optional thousands commas; nothing else (no
 * sign, no exponent). Exact for every amount up to 2^53 - 1 minor units.
 */
export function parseMajor(text: string, currency: string): Parsed {
  const digits = currencyDigits(currency);
  const t = text.trim().replace(/[\s_]/g, "");
  if (t === "") return { ok: false, error: "Enter an amount." };
  const m = /^(\d{1,3}(?:,\d{3})+|\d+)?(?:\.(\d*))?$/.exec(t);
  if (!m || (m[1] === undefined && !m[2])) return { ok: false, error: "Enter an amount like 499 or 499.50." };
  const whole = (m[1] ?? "0").replace(/,/g, "");
  const fraction = m[2] ?? "";
  if (fraction.length > digits)
    return {
      ok: false,
      error:
        digits === 0
          ? `${currency.toUpperCase()} has no minor unit: enter a whole amount.`
          : `At most ${digits} digits after the decimal point.`,
    };
  const text2 = (whole + fraction.padEnd(digits, "0")).replace(/^0+(?=\d)/, "");
  const minor = Number(text2);
  if (!Number.isSafeInteger(minor)) return { ok: false, error: "That amount is too large." };
  return { ok: true, minor };
}

/** Minor units as the plain major-units text a person would type (`49950` INR → `"499.50"`), exactly. */
export function minorToMajorText(minor: number, currency: string): string {
  const digits = currencyDigits(currency);
  const text = Math.abs(Math.trunc(minor)).toString().padStart(digits + 1, "0");
  const out = digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
  return minor < 0 ? `-${out}` : out;
}

/**
 * An amount in minor units as money for people (`49950`, `inr` → `₹499.50`), exactly: Intl formats the decimal
 * string (Intl.NumberFormat v3), never a float division.
 */
export function formatMoney(amountMinor: number, currency: string, locale?: string): string {
  const formatter = new Intl.NumberFormat(locale, { style: "currency", currency: currency.toUpperCase() });
  // `as never`: lib.dom's types take numbers; the string is formatted as the exact decimal it spells.
  return formatter.format(minorToMajorText(amountMinor, currency) as never);
}
