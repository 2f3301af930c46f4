/**
 * Go's `time.ParseDuration` and `Duration.String()` (kratos.md §2.7), over nanoseconds held in a
 * bigint. Kratos parses `expires_in` with the former and prints the latter in one error message, so
 * both follow Go's src/time/format.go closely, overflow rules included.
 */

const MAX_UINT63 = 1n << 63n; // 2^63: the magnitude limit before the sign is applied
const MAX_DURATION = MAX_UINT63 - 1n;

export const NANOSECOND = 1n;
export const MICROSECOND = 1_000n;
export const MILLISECOND = 1_000_000n;
export const SECOND = 1_000_000_000n;
export const MINUTE = 60n * SECOND;
export const HOUR = 60n * MINUTE;

const UNITS: Record<string, bigint> = {
  ns: NANOSECOND,
  us: MICROSECOND,
  "\u00b5s": MICROSECOND, // U+00B5 MICRO SIGN
  "\u03bcs": MICROSECOND, // U+03BC GREEK SMALL LETTER MU
  ms: MILLISECOND,
  s: SECOND,
  m: MINUTE,
  h: HOUR,
};

function isDigit(char: string | undefined): boolean {
  return char !== undefined && char >= "0" && char <= "9";
}

/** Go's leadingInt: the digits at the start; null on overflow. */
function leadingInt(text: string, start: number): { value: bigint; end: number } | null {
  let value = 0n;
  let i = start;
  for (; i < text.length && isDigit(text[i]); i++) {
    if (value > MAX_UINT63 / 10n) {
      return null;
    }
    value = value * 10n + BigInt(text.charCodeAt(i) - 48);
    if (value > MAX_UINT63) {
      return null;
    }
  }
  return { value, end: i };
}

/** Go's leadingFraction: digits after the point, precision kept only while it fits. */
function leadingFraction(text: string, start: number): { value: bigint; scale: number; end: number } {
  let value = 0n;
  let scale = 1;
  let overflow = false;
  let i = start;
  for (; i < text.length && isDigit(text[i]); i++) {
    if (overflow) {
      continue;
    }
    if (value > MAX_DURATION / 10n) {
      overflow = true;
      continue;
    }
    const next = value * 10n + BigInt(text.charCodeAt(i) - 48);
    if (next > MAX_UINT63) {
      overflow = true;
      continue;
    }
    value = next;
    scale *= 10;
  }
  return { value, scale, end: i };
}

/** One `number unit` group at `start`: its nanoseconds and where it ends; null when invalid. */
function parseGroup(text: string, start: number): { nanos: bigint; end: number } | null {
  if (!(text[start] === "." || isDigit(text[start]))) {
    return null;
  }
  const integer = leadingInt(text, start);
  if (integer === null) {
    return null;
  }
  let i = integer.end;
  const hasInteger = i !== start;
  let fraction = { value: 0n, scale: 1, end: i };
  if (text[i] === ".") {
    fraction = leadingFraction(text, i + 1);
    if (fraction.end === i + 1 && !hasInteger) {
      return null; // no digits at all: ".s"
    }
    i = fraction.end;
  } else if (!hasInteger) {
    return null;
  }
  let unitEnd = i;
  while (unitEnd < text.length && text[unitEnd] !== "." && !isDigit(text[unitEnd])) {
    unitEnd++;
  }
  const unit = UNITS[text.slice(i, unitEnd)];
  if (unit === undefined) {
    return null; // missing or unknown unit
  }
  if (integer.value > MAX_UINT63 / unit) {
    return null;
  }
  let nanos = integer.value * unit;
  if (fraction.value > 0n) {
    // Go: v += uint64(float64(f) * (float64(unit) / scale)); float64 keeps fractions of hours exact to the ns.
    nanos += BigInt(Math.trunc(Number(fraction.value) * (Number(unit) / fraction.scale)));
    if (nanos > MAX_UINT63) {
      return null;
    }
  }
  return { nanos, end: unitEnd };
}

/**
 * Nanoseconds of a Go duration string such as `1h30m`, `1.5h`, `-500ms` or `0`; null when Go's
 * `time.ParseDuration` would fail (no unit, unknown unit, spaces, `d`, overflow).
 */
export function parseGoDuration(text: string): bigint | null {
  let i = 0;
  let negative = false;
  if (text[0] === "-" || text[0] === "+") {
    negative = text[0] === "-";
    i = 1;
  }
  if (text.slice(i) === "0") {
    return 0n;
  }
  if (i === text.length) {
    return null;
  }
  let total = 0n;
  while (i < text.length) {
    const group = parseGroup(text, i);
    if (group === null) {
      return null;
    }
    total += group.nanos;
    if (total > MAX_UINT63) {
      return null;
    }
    i = group.end;
  }
  if (negative) {
    return -total; // Go accepts exactly -2^63 ns
  }
  return total > MAX_DURATION ? null : total;
}

/** Go's fmtFrac: `.digits` of the last `precision` digits, trailing zeros trimmed; "" when all zero. */
function formatFraction(value: bigint, precision: number): { text: string; rest: bigint } {
  let digits = "";
  let printed = false;
  let rest = value;
  for (let i = 0; i < precision; i++) {
    const digit = rest % 10n;
    printed = printed || digit !== 0n;
    if (printed) {
      digits = `${digit}${digits}`;
    }
    rest /= 10n;
  }
  return { text: printed ? `.${digits}` : "", rest };
}

/** Go's `Duration.String()`: `1h0m0s`, `1m30s`, `1h0m0.5s`, `500ms`, `1.5µs`, `-1h0m0s`, `0s`. */
export function formatGoDuration(nanos: bigint): string {
  const negative = nanos < 0n;
  let u = negative ? -nanos : nanos;
  let text: string;
  if (u === 0n) {
    return "0s";
  }
  if (u < SECOND) {
    let precision: number;
    let unit: string;
    if (u < MICROSECOND) {
      precision = 0;
      unit = "ns";
    } else if (u < MILLISECOND) {
      precision = 3;
      unit = "\u00b5s";
    } else {
      precision = 6;
      unit = "ms";
    }
    const fraction = formatFraction(u, precision);
    text = `${fraction.rest}${fraction.text}${unit}`;
  } else {
    const fraction = formatFraction(u, 9);
    u = fraction.rest;
    text = `${u % 60n}${fraction.text}s`;
    u /= 60n;
    if (u > 0n) {
      text = `${u % 60n}m${text}`;
      u /= 60n;
      if (u > 0n) {
        text = `${u}h${text}`;
      }
    }
  }
  return negative ? `-${text}` : text;
}
