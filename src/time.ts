/**
 * Date-time text as authentik writes it (API responses and audit events): UTC, `Z`, six fraction
 * digits only when the fraction is non-zero (authentik-v3.md §2.5).
 */
export function formatDateTime(at: Date): string {
  const iso = at.toISOString();
  const millis = iso.slice(20, 23);
  return millis === "000" ? `${iso.slice(0, 19)}Z` : `${iso.slice(0, 19)}.${millis}000Z`;
}

/** Python's `str(datetime)` of an aware UTC time, as authentik prints it in messages and descriptions. */
export function pythonDateTime(at: Date): string {
  const iso = at.toISOString();
  const fraction = iso.slice(20, 23) === "000" ? "" : `.${iso.slice(20, 23)}000`;
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction}+00:00`;
}
