import { secondFactorsOf as userSecondFactors } from "../authenticators/service.js";
import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import { recordEvent } from "../events/service.js";
import { resumeSessionWithIdentity, resumeSessionWithUser } from "../sessions/service.js";
import type { Session, SessionWithIdentity } from "../sessions/store.js";
import type { SignedIn } from "./flows.js";
import type { SecondFactors } from "./nodes.js";
import type { Audit } from "../events/service.js";

/**
 * Sessions as the self-service flows see them: a presented secret resolves to a live session of an
 * active identity, or to nothing; an identity with a second factor needs an aal2 session.
 */

/** Longer than any secret Rekey issues: not worth a query. */
function cannotBeASession(token: string): boolean {
  return token === "" || token.length > 256;
}

/**
 * The signed-in session behind a cookie value or session token, its identity with groups and whether
 * an aal1 session falls short of a second factor, for the flows: session, user and factors in one
 * query, groups in a second. Null when there is none or the identity is deactivated (such sessions
 * count as none, kratos.md §3.6.3). No cache: a revoked or expired session stops working on the very
 * next request.
 */
export function signedInBy(
  deps: Pick<CoreDeps, "clock" | "config" | "persistence">,
  tenantId: string,
  token: string,
): Promise<SignedIn | null> {
  return activeOnly(token, () => resumeSessionWithUser(deps, deps.persistence.stores, tenantId, token));
}

/**
 * `GET /sessions/whoami` (kratos.md §3.6.3): the session, its identity without groups (the Kratos
 * identity shows none) and whether an aal1 session falls short of a second factor, in one query.
 * Null as in `signedInBy`.
 */
export function whoamiBy(
  deps: Pick<CoreDeps, "clock" | "config" | "persistence">,
  tenantId: string,
  token: string,
): Promise<SessionWithIdentity | null> {
  return activeOnly(token, () => resumeSessionWithIdentity(deps, deps.persistence.stores, tenantId, token));
}

/** What `find` resumes for `token`, unless the token cannot be a session or its identity is deactivated. */
async function activeOnly<T extends { user: { isActive: boolean } }>(
  token: string,
  find: () => Promise<T | null>,
): Promise<T | null> {
  if (cannotBeASession(token)) {
    return null;
  }
  const found = await find();
  return found === null || !found.user.isActive ? null : found;
}

/** Which second factors the identity has set up: confirmed TOTP devices, unused backup codes. */
export async function secondFactorsOf(
  stores: Stores,
  tenantId: string,
  userId: number,
): Promise<SecondFactors> {
  const factors = await userSecondFactors(stores, tenantId, userId);
  return { totp: factors.totp.length > 0, lookupSecret: factors.backupCodes.length > 0 };
}

/** Ends a session (logout) and records it. */
export async function endSession(deps: CoreDeps, audit: Audit, signedIn: SignedIn): Promise<void> {
  await deps.persistence.transaction(async (stores) => {
    await stores.sessions.revokeSession(audit.tenantId, signedIn.session.id, deps.clock.now());
    const actor = { pk: signedIn.user.id, username: signedIn.user.username, email: signedIn.user.email };
    await recordEvent(deps, stores.events, { ...audit, actor }, "logout", {});
  });
}

/** When the session may no longer change credentials without authenticating again. */
export function privilegedUntil(session: Session, privilegedMs: number): Date {
  return new Date(session.authenticatedAt.getTime() + privilegedMs);
}
