import { sha256Hex } from "../crypto/secrets.js";
import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import { ALPHANUMERIC } from "../random.js";
import {
  type AssuranceLevel,
  type Session,
  type SessionKind,
  type SessionWithIdentity,
  type SessionWithUser,
  USER_AGENT_MAX_LENGTH,
} from "./store.js";

/** What the edge knows of the client a session is issued to. */
export interface SessionClient {
  /** The client's IP address (Fastify's `request.ip`, which honours REKEY_TRUST_PROXY). */
  ipAddress: string | null;
  /** The User-Agent header as sent; absent or empty means unknown. */
  userAgent: string | null | undefined;
}

export interface IssuedSession {
  session: Session;
  /** The secret the client holds (cookie value or session token); only its hash is stored. */
  token: string;
}

function emptyToNull(value: string | null | undefined): string | null {
  return value === undefined || value === null || value === "" ? null : value;
}

/**
 * Starts a session for a user who just proved who they are. API sessions get Kratos' token format
 * (`ory_st_` + 32 characters), browser sessions an opaque cookie value.
 */
export async function issueSession(
  deps: Pick<CoreDeps, "clock" | "random" | "config">,
  stores: Stores,
  input: {
    tenantId: string;
    userId: number;
    kind: SessionKind;
    aal: AssuranceLevel;
    authMethods: string[];
    /** Recorded as the session's device; omitted by sessions issued outside a request (tests, CLI). */
    client?: SessionClient;
  },
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
    device: {
      id: deps.random.uuid(),
      ipAddress: emptyToNull(input.client?.ipAddress),
      userAgent: emptyToNull(input.client?.userAgent)?.slice(0, USER_AGENT_MAX_LENGTH) ?? null,
    },
  };
  await stores.sessions.createSession(session, sha256Hex(token));
  return { session, token };
}

/** The live session for a presented secret, with its idle window slid forward; null when none. */
export function resumeSession(
  deps: Pick<CoreDeps, "clock" | "config">,
  stores: Stores,
  tenantId: string,
  token: string,
): Promise<Session | null> {
  return resume(deps, stores, token, async (hash, now, idleMs) => {
    const session = await stores.sessions.findActiveSession(tenantId, hash, now, idleMs);
    return session === null ? null : { session };
  }).then((found) => found?.session ?? null);
}

/**
 * `resumeSession` with the session's user and second-factor need read in the same statement: the
 * hot read of `GET /sessions/whoami`, one query (and, at most once a minute, the touch).
 */
export function resumeSessionWithIdentity(
  deps: Pick<CoreDeps, "clock" | "config">,
  stores: Stores,
  tenantId: string,
  token: string,
): Promise<SessionWithIdentity | null> {
  return resume(deps, stores, token, (hash, now, idleMs) =>
    stores.sessions.findActiveSessionWithIdentity(tenantId, hash, now, idleMs),
  );
}

/**
 * `resumeSession` with the session's whole user, groups included, and whether an aal1 session falls
 * short of a second factor: two queries where four were.
 */
export function resumeSessionWithUser(
  deps: Pick<CoreDeps, "clock" | "config">,
  stores: Stores,
  tenantId: string,
  token: string,
): Promise<SessionWithUser | null> {
  return resume(deps, stores, token, (hash, now, idleMs) =>
    stores.sessions.findActiveSessionWithUser(tenantId, hash, now, idleMs),
  );
}

/** Finds the live session of `token` with `find` and slides its idle window forward. */
async function resume<T extends { session: Session }>(
  deps: Pick<CoreDeps, "clock" | "config">,
  stores: Stores,
  token: string,
  find: (tokenHash: string, now: Date, idleMs: number) => Promise<T | null>,
): Promise<T | null> {
  const now = deps.clock.now();
  const found = await find(sha256Hex(token), now, deps.config.sessionIdleTimeoutSeconds * 1000);
  // Writing on every request would turn reads into writes; a minute of slack is plenty for idle expiry.
  if (found !== null && now.getTime() - found.session.lastSeenAt.getTime() > 60_000) {
    await stores.sessions.touchSession(found.session.id, now);
  }
  return found;
}
