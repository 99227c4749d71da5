/**
 * Money as integer micros: 1 micro = 1e-6 of the currency unit (USD, EUR, INR, IDR, …).
 *
 * Why micros: Meta's list rates go down to 0.0008 USD (Colombia utility) and have at most four
 * decimals today; six leaves room for tier rates and per-currency cards without ever touching a
 * binary float. A `Micros` is a plain JS number that is always a safe integer, so sums stay exact
 * up to Number.MAX_SAFE_INTEGER micros ≈ 9.007e9 currency units (about 9 billion; note that for
 * low-value currencies such as IDR that is "only" ~550k USD, which a monthly total for a very large
 * portfolio could approach — callers summing IDR across many WABAs should check `isMicros`).
 *
 * Parsing never goes through parseFloat: the decimal text is split into integer and fraction
 * digits and combined with integer arithmetic.
 */

/** An amount in 1e-6 of the currency unit; always a safe integer. */
export type Micros = number;

export const MICROS_PER_UNIT = 1_000_000;

/** True when `m` is a usable Micros value (a safe integer). */
export function isMicros(m: unknown): m is Micros {
  return typeof m === 'number' && Number.isSafeInteger(m);
}

// Digits with an optional fraction; US digit grouping ("1,234.5") is allowed because Meta's CSVs
// are US-formatted and rates in IDR/COP/CLP can exceed 1,000. A grouped number must start with
// 1-9 so that a European decimal comma ("0,025") is refused instead of being read as 25.
const PLAIN = /^(\d*)(?:\.(\d*))?$/;
const GROUPED = /^([1-9]\d{0,2}(?:,\d{3})+)(?:\.(\d*))?$/;
// A currency marker before or after the number: "$", "US$", "R$", "₹", "€", "USD", "Rp", "RM".
// Deliberately narrow (a symbol, or an upper-case ISO code) so that "5e" or "12abc" stay errors.
const LEADING_MARKER = /^(?:\p{L}{0,3}\p{Sc}|[A-Z]{3}|Rp|RM)\s*/u;
const TRAILING_MARKER = /\s*(?:\p{Sc}|[A-Z]{3})$/u;

/**
 * Exact decimal text → micros. Accepts surrounding spaces, one currency marker ("$0.02",
 * "Rp 586.33", "0.02 USD") and US thousands grouping. Trailing zeros beyond the sixth decimal are
 * accepted ("0.02500000" is exact); a non-zero seventh decimal is refused rather than rounded,
 * because silently rounding a rate is a billing error.
 *
 * @throws Error for empty text, `n/a`, non-numeric text, negative amounts, more than 6 significant
 *   decimals, or amounts beyond the safe-integer range.
 */
export function parseMoney(text: string): Micros {
  const original = text;
  let s = String(text).replace(/[\s\u00a0\u202f]+/g, ' ').trim();
  if (s === '') throw new Error('money: empty amount');
  if (/^n\/?a$/i.test(s)) throw new Error(`money: "${original}" is not an amount (no rate)`);
  if (s.includes('-') || s.includes('\u2212')) {
    throw new Error(`money: negative amount "${original}" is not allowed`);
  }
  s = s.replace(LEADING_MARKER, '').replace(TRAILING_MARKER, '');

  let intDigits: string;
  let fracDigits: string;
  const grouped = GROUPED.exec(s);
  if (grouped) {
    intDigits = grouped[1].replace(/,/g, '');
    fracDigits = grouped[2] ?? '';
  } else {
    const plain = PLAIN.exec(s);
    if (!plain || (plain[1] === '' && (plain[2] ?? '') === '')) {
      throw new Error(`money: "${original}" is not a decimal amount`);
    }
    intDigits = plain[1];
    fracDigits = plain[2] ?? '';
  }

  const significantFrac = fracDigits.replace(/0+$/, '');
  if (significantFrac.length > 6) {
    throw new Error(`money: "${original}" has more than 6 decimals; refusing to round`);
  }
  intDigits = intDigits.replace(/^0+(?=\d)/, '');
  // The largest safe amount is 9_007_199_254.740991 units: 11+ integer digits never fit.
  if (intDigits.length > 10) throw new Error(`money: "${original}" is too large to hold exactly`);

  const units = intDigits === '' ? 0 : Number(intDigits);
  const micros = units * MICROS_PER_UNIT + Number(significantFrac.padEnd(6, '0'));
  // Both operands are exact; if the true sum is beyond 2^53 the float result is ≥ 2^53 and fails.
  if (!Number.isSafeInteger(micros)) {
    throw new Error(`money: "${original}" is too large to hold exactly`);
  }
  return micros;
}

function assertMicros(m: Micros, fn: string): void {
  if (!Number.isSafeInteger(m)) throw new RangeError(`${fn}: ${m} is not a safe integer of micros`);
}

/** Micros → shortest exact decimal text: 800 → "0.0008", 13_000_000 → "13", -1 → "-0.000001". */
export function microsToDecimalString(m: Micros): string {
  assertMicros(m, 'microsToDecimalString');
  const sign = m < 0 ? '-' : '';
  const digits = String(Math.abs(m)).padStart(7, '0');
  const units = digits.slice(0, -6);
  const frac = digits.slice(-6).replace(/0+$/, '');
  return frac === '' ? sign + units : `${sign}${units}.${frac}`;
}

// Below 1e15 micros the decimal m/1e6 has at most 15 significant digits. Division of two exact
// doubles is correctly rounded, so m/1e6 is the double nearest that decimal, and any decimal of
// ≤ 15 significant digits round-trips through a double (DBL_DIG = 15). JS prints the shortest
// decimal that round-trips, and no other decimal that short maps to the same double, so the text
// printed is exactly the decimal. |m/1e6| ≥ 1e-6 also keeps JS out of exponent notation (it switches
// below 1e-6 and at 1e21). From 1e15 micros (16 digits) about 2.5% of values would print wrong.
const ALWAYS_EXACT_BELOW = 1e15;

/**
 * Micros → the JS number whose JSON text is exactly the decimal amount (for API responses that
 * must carry numbers, e.g. 360dialog-style `cost: 0.0008`).
 *
 * @throws RangeError for amounts ≥ 1e9 currency units whose decimal has no exact JSON number;
 *   such an amount must be sent as a string (`microsToDecimalString`).
 */
export function microsToJson(m: Micros): number {
  assertMicros(m, 'microsToJson');
  const n = m / MICROS_PER_UNIT;
  if (Math.abs(m) < ALWAYS_EXACT_BELOW) return n === 0 ? 0 : n; // normalise -0
  if (String(n) !== microsToDecimalString(m)) {
    throw new RangeError(`microsToJson: ${microsToDecimalString(m)} has no exact JSON number; send it as a string`);
  }
  return n;
}
