import { formatDateTime } from "../../time.js";

export { formatDateTime };

export function formatNullableDateTime(at: Date | null): string | null {
  return at === null ? null : formatDateTime(at);
}

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

export const DATE_TIME_MESSAGE =
  "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

/** Parses DRF's accepted ISO 8601 forms; no offset means UTC. Null when malformed or impossible. */
export function parseDateTime(text: string): Date | null {
  const match = DATE_TIME.exec(text);
  if (match === null) {
    return null;
  }
  const [, year, month, day, hour, minute, second = "00", fraction = "", zone = "Z"] = match;
  const offset =
    zone.toUpperCase() === "Z" ? "Z" : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  const millis = fraction === "" ? "" : fraction.slice(0, 4).padEnd(4, "0");
  const parsed = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}${millis}${offset}`);
  if (Number.isNaN(parsed.getTime()) || Number(month) > 12 || Number(day) > 31 || Number(hour) > 23) {
    return null;
  }
  // Date rolls 30 February over into March; Python's datetime refuses a day its month lacks.
  if (new Date(Date.UTC(Number(year), Number(month) - 1, Number(day))).getUTCMonth() !== Number(month) - 1) {
    return null;
  }
  return parsed;
}

/** Accepts the date-time forms of parseDateTime: used as the `date-time` format of request schemas. */
export function isDateTime(text: string): boolean {
  return parseDateTime(text) !== null;
}
