import { createHash } from "node:crypto";

/** authentik's `uid` of a user: hex SHA-256 of `"<pk>-<installation id>"`. Stable for the database's life. */
export function userUid(installationId: string, user: { id: number }): string {
  return createHash("sha256").update(`${user.id}-${installationId}`).digest("hex");
}
