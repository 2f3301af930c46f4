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
 * The signed-in session behind a cookie value or session token and its identity with groups, for
 * the flows: session and user in one query, groups in a second. Null when there is none or the
 * identity is deactivated (such sessions count as none, kratos.md §3.6.3). No cache: a revoked or
 * expired session stops working on the very next request.
 */
export async function signedInBy(
  deps: Pick<CoreDeps, "clock" | "config" | "persistence">,
  tenantId: string,
  token: string,
): Promise<SignedIn | null> {
  if (cannotBeASession(token)) {
    return null;
  }
  const found = await resumeSessionWithUser(deps, deps.persistence.stores, tenantId, token);
  return found === null || !found.user.isActive ? null : found;
}

/**
 * `GET /sessions/whoami` (kratos.md §3.6.3): the session, its identity without groups (the Kratos
 * identity shows none) and whether an aal1 session falls short of a second factor, in one query.
 * Null as in `signedInBy`: no live session, or a deactivated identity.
 */
export async function whoamiBy(
  deps: Pick<CoreDeps, "clock" | "config" | "persistence">,
  tenantId: string,
  token: string,
): Promise<SessionWithIdentity | null> {
  if (cannotBeASession(token)) {
    return null;
  }
  const found = await resumeSessionWithIdentity(deps, deps.persistence.stores, tenantId, token);
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

/**
 * True when the session is below the highest assurance level its identity can reach: aal1 while the
 * identity has a second factor (Rekey's `required_aal: highest_available`, kratos.md §4 K9).
 */
export async function needsSecondFactor(
  stores: Stores,
  signedIn: Pick<SignedIn, "session">,
): Promise<boolean> {
  if (signedIn.session.aal === "aal2") {
    return false;
  }
  return stores.staticDevices.hasSecondFactor(signedIn.session.tenantId, signedIn.session.userId);
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
