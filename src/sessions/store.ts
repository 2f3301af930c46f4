import type { User, UserProfile } from "../users/store.js";

export type AssuranceLevel = "aal1" | "aal2";
export type SessionKind = "browser" | "api";

/** Where a session was issued: Kratos' `SessionDevice` without a location (kratos.md §3.6.3). */
export interface SessionDevice {
  id: string;
  /** The client's address as Rekey saw it (X-Forwarded-For only with REKEY_TRUST_PROXY); null if unknown. */
  ipAddress: string | null;
  /** The User-Agent header, cut to USER_AGENT_MAX_LENGTH characters; null when the client sent none. */
  userAgent: string | null;
}

/** Longer User-Agent headers are cut: the value is shown, never parsed, and must not bloat rows. */
export const USER_AGENT_MAX_LENGTH = 512;

export interface Session {
  id: string;
  tenantId: string;
  userId: number;
  kind: SessionKind;
  aal: AssuranceLevel;
  /** How the user proved who they are, in order (`password`, `code_recovery`, `totp`, …). */
  authMethods: string[];
  authenticatedAt: Date;
  issuedAt: Date;
  expiresAt: Date;
  lastSeenAt: Date;
  /** The device it was issued to; null for sessions issued before devices were recorded. */
  device: SessionDevice | null;
}

/** A live session with its identity, as one read finds them (whoami, kratos.md §3.6.3). */
export interface SessionWithIdentity {
  session: Session;
  user: UserProfile;
  /**
   * The session is aal1 while its identity has a second factor (a confirmed TOTP device or an
   * unused backup code); always false for an aal2 session (Rekey's `required_aal:
   * highest_available`, kratos.md §4 K9).
   */
  needsSecondFactor: boolean;
}

/** A live session with its whole user, groups included (the self-service flows' signed-in caller). */
export interface SessionWithUser extends Omit<SessionWithIdentity, "user"> {
  user: User;
}

export interface SessionStore {
  /** Stores a session under the SHA-256 of its secret; the secret itself is never stored. */
  createSession(session: Session, tokenHash: string): Promise<void>;
  /**
   * The session whose secret hashes to `tokenHash`, if it is not revoked, not past its absolute
   * expiry and was seen within `idleMs`; null otherwise.
   */
  findActiveSession(tenantId: string, tokenHash: string, now: Date, idleMs: number): Promise<Session | null>;
  /**
   * The same session as `findActiveSession`, joined with its user (whatever the user's state: the
   * caller decides what an inactive one means) and whether an aal1 session falls short of the
   * user's second factor, in one statement.
   */
  findActiveSessionWithIdentity(
    tenantId: string,
    tokenHash: string,
    now: Date,
    idleMs: number,
  ): Promise<SessionWithIdentity | null>;
  /** `findActiveSessionWithIdentity` with the whole user, groups included. */
  findActiveSessionWithUser(
    tenantId: string,
    tokenHash: string,
    now: Date,
    idleMs: number,
  ): Promise<SessionWithUser | null>;
  /** Records activity (sliding the idle window). */
  touchSession(id: string, now: Date): Promise<void>;
  /** Raises a session's assurance level after a second factor. */
  elevateSession(id: string, aal: AssuranceLevel, authMethods: string[], now: Date): Promise<void>;
  revokeSession(tenantId: string, id: string, now: Date): Promise<void>;
  /** Revokes every live session of the user except `exceptId`; returns how many. */
  revokeUserSessions(
    tenantId: string,
    userId: number,
    now: Date,
    options?: { exceptId?: string },
  ): Promise<number>;
}
