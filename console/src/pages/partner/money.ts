// Money typed by a person, exactly: "499", "499.5", "1,499.00" in major units become integer minor units by
// string parsing (digits moved, never a float multiplication), and minor units go back to the same text for
// editing. The currency's minor digits come from the browser (ISO 4217: INR 2, JPY 0, BHD 3).

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
