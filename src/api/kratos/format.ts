/**
 * Time text as Kratos writes it: Go's RFC 3339 with nanoseconds (`time.RFC3339Nano`) in UTC, the
 * fraction trimmed of trailing zeros and left out when zero (kratos.md §2.5): `12:00:00Z`,
 * `12:00:00.12Z`, `12:00:00.123Z`.
 */
export function formatKratosTime(at: Date): string {
  const iso = at.toISOString();
  const fraction = iso.slice(20, 23).replace(/0+$/, "");
  return fraction === "" ? `${iso.slice(0, 19)}Z` : `${iso.slice(0, 19)}.${fraction}Z`;
}
