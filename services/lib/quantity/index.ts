/**
 * Kubernetes resource quantities (`100m`, `1.5Gi`, `12E6`), held exactly.
 *
 * A quantity is `mantissa × 10^scale` with a BigInt mantissa, so `0.1`, `1Ei` and
 * `1e18` never pass through a float. Binary suffixes are exact too: 2^n is an integer,
 * folded into the mantissa. Like Kubernetes, precision below one nano-unit is rounded
 * up (away from zero) at parse time, and `value` / `toMilli` round up as `Value()` and
 * `MilliValue()` do.
 */

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

/** An exact quantity: `mantissa × 10^scale`, normalized (no trailing zeros in the mantissa). */
export type Quantity = {
  readonly mantissa: bigint;
  readonly scale: number;
  /** How the quantity was written; `formatQuantity` prints it back in that style. */
  readonly format: QuantityFormat;
};

/** The input was not a quantity; `message` says why, in Kubernetes' words. */
export class QuantityError extends Error {
  override name = 'QuantityError';
}

/** Kubernetes' own description of the syntax, used in its error messages. */
export const QUANTITY_REGEXP = '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$';

const DECIMAL_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
/** Exponents beyond this are refused rather than turned into enormous BigInts. */
const MAX_EXPONENT = 1000;
/** Kubernetes keeps nine decimal places (nano); finer input is rounded up. */
const MIN_SCALE = -9;

const NUMBER = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)$/s;
const EXPONENT = /^[eE]([+-]?[0-9]+)$/;

const pow10 = (n: number): bigint => 10n ** BigInt(n);
const abs = (n: bigint): bigint => (n < 0n ? -n : n);

function normalize(mantissa: bigint, scale: number, format: QuantityFormat): Quantity {
  if (mantissa === 0n) return { mantissa: 0n, scale: 0, format };
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    scale++;
  }
  return { mantissa, scale, format };
}

/** `n / d` rounded away from zero (d > 0). */
function divRoundUp(n: bigint, d: bigint): bigint {
  const q = n / d;
  if (q * d === n) return q;
  return n < 0n ? q - 1n : q + 1n;
}

/**
 * Parses `s` as Kubernetes does. Numbers are accepted as written in JSON (`cpu: 2`).
 * Throws a QuantityError on anything else.
 */
export function parseQuantity(s: string | number): Quantity {
  if (typeof s === 'number') {
    if (!Number.isFinite(s)) throw new QuantityError(`quantities must be finite numbers, got ${s}`);
    return parseQuantity(String(s));
  }
  if (typeof s !== 'string' || s.length === 0) throw new QuantityError('quantities must not be empty');
  const m = NUMBER.exec(s);
  const [, sign = '', whole = '', frac = '', suffix = ''] = m ?? [];
  if (!m || whole.length + frac.length === 0) {
    throw new QuantityError(`quantities must match the regular expression '${QUANTITY_REGEXP}'`);
  }
  let mantissa = BigInt(`${whole}${frac}` || '0');
  let scale = -frac.length;
  let format: QuantityFormat;
  if (suffix in DECIMAL_SUFFIXES) {
    scale += DECIMAL_SUFFIXES[suffix]!;
    format = 'DecimalSI';
  } else if (suffix in BINARY_SUFFIXES) {
    mantissa *= 1n << BigInt(BINARY_SUFFIXES[suffix]!);
    format = 'BinarySI';
  } else {
    const e = EXPONENT.exec(suffix);
    if (!e) throw new QuantityError(`unable to parse quantity's suffix "${suffix}"`);
    const exponent = Number(e[1]);
    if (Math.abs(exponent) > MAX_EXPONENT) throw new QuantityError(`quantity exponent ${exponent} is out of range`);
    scale += exponent;
    format = 'DecimalExponent';
  }
  if (sign === '-') mantissa = -mantissa;
  if (scale < MIN_SCALE) {
    mantissa = divRoundUp(mantissa, pow10(MIN_SCALE - scale));
    scale = MIN_SCALE;
  }
  return normalize(mantissa, scale, format);
}

/** Like parseQuantity, but undefined instead of an exception. */
export function tryParseQuantity(s: unknown): Quantity | undefined {
  if (typeof s !== 'string' && typeof s !== 'number') return undefined;
  try {
    return parseQuantity(s);
  } catch {
    return undefined;
  }
}

export function isValidQuantity(s: unknown): boolean {
  return tryParseQuantity(s) !== undefined;
}

type QuantityLike = Quantity | string | number;
const q = (x: QuantityLike): Quantity => (typeof x === 'object' ? x : parseQuantity(x));

/** The quantity in units of 10^scale, rounded away from zero (Kubernetes' ScaledValue). */
export function scaledValue(x: QuantityLike, scale: number): bigint {
  const { mantissa, scale: s } = q(x);
  return s >= scale ? mantissa * pow10(s - scale) : divRoundUp(mantissa, pow10(scale - s));
}

/** Milli-units, rounded up: `100m` → 100, `1` → 1000, `0.5` → 500 (cpu millicores). */
export function toMilli(x: QuantityLike): number {
  return Number(scaledValue(x, -3));
}

/** Whole units, rounded up like Kubernetes `Value()`: `1Ki` → 1024, `100m` → 1. */
export function value(x: QuantityLike): number {
  return Number(scaledValue(x, 0));
}

/** Bytes, for memory and storage: an alias of `value`. */
export const toBytes = value;

/** -1, 0 or 1 as a is less than, equal to or greater than b. */
export function compareQuantities(a: QuantityLike, b: QuantityLike): -1 | 0 | 1 {
  const x = q(a);
  const y = q(b);
  const s = Math.min(x.scale, y.scale);
  const l = x.mantissa * pow10(x.scale - s);
  const r = y.mantissa * pow10(y.scale - s);
  return l < r ? -1 : l > r ? 1 : 0;
}

/** a + b, in a's format (b's when a is zero, as Kubernetes does). */
export function addQuantities(a: QuantityLike, b: QuantityLike): Quantity {
  const x = q(a);
  const y = q(b);
  const s = Math.min(x.scale, y.scale);
  const sum = x.mantissa * pow10(x.scale - s) + y.mantissa * pow10(y.scale - s);
  return normalize(sum, s, x.mantissa === 0n ? y.format : x.format);
}

export function subtractQuantities(a: QuantityLike, b: QuantityLike): Quantity {
  const y = q(b);
  return addQuantities(a, { ...y, mantissa: -y.mantissa });
}

export function isZero(x: QuantityLike): boolean {
  return q(x).mantissa === 0n;
}

/** -1, 0 or 1. */
export function sign(x: QuantityLike): -1 | 0 | 1 {
  const m = q(x).mantissa;
  return m < 0n ? -1 : m > 0n ? 1 : 0;
}

/** A quantity from a count of milli-units (e.g. summed cpu millicores). */
export function fromMilli(milli: number | bigint, format: QuantityFormat = 'DecimalSI'): Quantity {
  return normalize(BigInt(milli), -3, format);
}

/** A quantity from a whole number of units (e.g. bytes). */
export function fromValue(units: number | bigint, format: QuantityFormat = 'DecimalSI'): Quantity {
  return normalize(BigInt(units), 0, format);
}

const DECIMAL_BY_EXPONENT = new Map(Object.entries(DECIMAL_SUFFIXES).map(([k, v]) => [v, k]));
const BINARY_BY_POWER = new Map(Object.entries(BINARY_SUFFIXES).map(([k, v]) => [v, k]));

/**
 * The canonical string, as Kubernetes prints it: `1500m` for 1.5, `1k` for 1000,
 * `1Gi` for 1024Mi, `1536Mi`, `12e6`. Binary form is kept only for whole numbers of
 * at least 1024 (or -1024); otherwise the decimal form is used, as Kubernetes does.
 */
export function formatQuantity(x: QuantityLike): string {
  const { mantissa, scale, format } = q(x);
  if (mantissa === 0n) return '0';
  if (format === 'BinarySI' && scale >= 0) {
    let n = mantissa * pow10(scale);
    if (abs(n) >= 1024n) {
      let power = 0;
      while (power < 60 && n % 1024n === 0n) {
        n /= 1024n;
        power += 10;
      }
      return `${n}${BINARY_BY_POWER.get(power) ?? ''}`;
    }
  }
  // Largest multiple of three not above the scale, so the mantissa stays whole.
  let exp = Math.floor(scale / 3) * 3;
  if (format !== 'DecimalExponent') exp = Math.max(-9, Math.min(18, exp));
  const m = mantissa * pow10(scale - exp);
  if (format === 'DecimalExponent') return exp === 0 ? `${m}` : `${m}e${exp}`;
  return `${m}${DECIMAL_BY_EXPONENT.get(exp) ?? ''}`;
}
