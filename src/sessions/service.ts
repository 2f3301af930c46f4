import { sha256Hex } from "../crypto/secrets.js";
import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import { ALPHANUMERIC } from "../random.js";
import type { AssuranceLevel, Session, SessionKind } from "./store.js";

export interface IssuedSession {
  session: Session;
  /** The secret the client holds (cookie value or session token); only its hash is stored. */
  token: string;
}

/**
 * Starts a session for a user who just proved who they are. API sessions get Kratos' token format
 * (`ory_st_` + 32 characters), browser sessions an opaque cookie value.
 */
export async function issueSession(
  deps: Pick<CoreDeps, "clock" | "random" | "config">,
  stores: Stores,
  input: { tenantId: string; userId: number; kind: SessionKind; aal: AssuranceLevel; authMethods: string[] },
): Promise<IssuedSession> {
  const now = deps.clock.now();
  const token =
    input.kind === "api"
      ? `ory_st_${deps.random.string(32, ALPHANUMERIC)}`
      : deps.random.string(43, ALPHANUMERIC);
  const session: Session = {
    id: deps.random.uuid(),
    tenantId: input.tenantId,
    userId: input.userId,
    kind: input.kind,
    aal: input.aal,
    authMethods: input.authMethods,
    authenticatedAt: now,
    issuedAt: now,
    expiresAt: new Date(now.getTime() + deps.config.sessionLifetimeSeconds * 1000),
    lastSeenAt: now,
  };
  await stores.sessions.createSession(session, sha256Hex(token));
  return { session, token };
}

/** The live session for a presented secret, with its idle window slid forward; null when none. */
export async function resumeSession(
  deps: Pick<CoreDeps, "clock" | "config">,
  stores: Stores,
  tenantId: string,
  token: string,
): Promise<Session | null> {
  const now = deps.clock.now();
  const session = await stores.sessions.findActiveSession(
    tenantId,
    sha256Hex(token),
    now,
    deps.config.sessionIdleTimeoutSeconds * 1000,
  );
  if (session === null) {
    return null;
  }
  // Writing on every request would turn reads into writes; a minute of slack is plenty for idle expiry.
  if (now.getTime() - session.lastSeenAt.getTime() > 60_000) {
    await stores.sessions.touchSession(session.id, now);
  }
  return session;
}
