export type AssuranceLevel = "aal1" | "aal2";
export type SessionKind = "browser" | "api";

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
}

export interface SessionStore {
  /** Stores a session under the SHA-256 of its secret; the secret itself is never stored. */
  createSession(session: Session, tokenHash: string): Promise<void>;
  /**
   * The session whose secret hashes to `tokenHash`, if it is not revoked, not past its absolute
   * expiry and was seen within `idleMs`; null otherwise.
   */
  findActiveSession(tenantId: string, tokenHash: string, now: Date, idleMs: number): Promise<Session | null>;
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
