/**
 * authentik's duration strings (`days=1;hours=2`), as parsed by authentik's `timedelta_from_string`:
 * `;`-separated `key=value` segments, each with exactly one `=`; keys are case-insensitive and
 * not trimmed; unknown keys are ignored; at least one known key must remain (authentik-v3.md §2.5).
 */
const UNIT_MS: Record<string, number> = {
  microseconds: 0.001,
  milliseconds: 1,
  seconds: 1000,
  minutes: 60_000,
  hours: 3_600_000,
  days: 86_400_000,
  weeks: 604_800_000,
};

const DECIMAL = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;

/** Milliseconds of the duration, or null when the text is not a valid duration string. */
export function parseDurationString(text: string): number | null {
  let total = 0;
  let known = 0;
  for (const segment of text.split(";")) {
    const parts = segment.split("=");
    if (parts.length !== 2) {
      return null;
    }
    const [key, value] = parts as [string, string];
    if (!DECIMAL.test(value)) {
      return null;
    }
    const unit = UNIT_MS[key.toLowerCase()];
    if (unit === undefined) {
      continue;
    }
    total += Number(value) * unit;
    known++;
  }
  if (known === 0 || !Number.isFinite(total)) {
    return null;
  }
  return total;
}

/** The field message authentik gives for a malformed duration string. */
export function durationFormatMessage(value: string): string {
  return `${value} is not in the correct format of 'hours=3;minutes=1'.`;
}
