/** Links are `verification` tokens, keys are `recovery` tokens (authentik-v3.md §3.3, §3.4.3). */
export type RecoveryTokenKind = "link" | "key";

/** Who issued a link or key: an admin, the mail of an email stage, the tenants API, the CLI, or the user. */
export type RecoveryOrigin = "admin" | "email" | "tenants_api" | "cli" | "self_service";

export interface RecoveryToken {
  id: string;
  tenantId: string;
  userId: number;
  kind: RecoveryTokenKind;
  identifier: string;
  description: string;
  keyHash: string;
  expires: Date;
  origin: RecoveryOrigin;
  allowMFAReset: boolean;
  emailStageId: string | null;
}

/** How a recovery began; every method ends in the same recovery session. */
export type RecoveryMethod = "admin_link" | "emailed_link" | "recovery_key";

/**
 * A recovery flow's states. `passed_challenge`: the link, key or code was accepted and the recovery
 * session may set a password; `completed` and `failed` are final.
 */
export type RecoveryFlowState = "passed_challenge" | "completed" | "failed";

export interface RecoveryFlow {
  id: string;
  tenantId: string;
  userId: number;
  method: RecoveryMethod;
  state: RecoveryFlowState;
  allowMFAReset: boolean;
  /** The secret went to the user's address, so success proves the address. */
  deliveredToAddress: boolean;
  emailStageId: string | null;
  codeFailures: number;
  expiresAt: Date;
  createdAt: Date;
}

export interface RecoveryStore {
  /** Inserts the user's one link token, or replaces its key and expiry when it exists (one statement). */
  saveLinkToken(token: RecoveryToken, now: Date): Promise<void>;
  /** Inserts a recovery key token; earlier keys stay valid until they expire. */
  createKeyToken(token: RecoveryToken, now: Date): Promise<void>;
  /** The unexpired token of this kind with this key hash, without using it up. */
  findUsableToken(
    tenantId: string,
    kind: RecoveryTokenKind,
    keyHash: string,
    now: Date,
  ): Promise<RecoveryToken | null>;
  /**
   * Deletes the unexpired token of this kind with this key hash and returns it; null when there is
   * none. One `DELETE … RETURNING`: under concurrency exactly one caller gets the token.
   */
  consumeToken(
    tenantId: string,
    kind: RecoveryTokenKind,
    keyHash: string,
    now: Date,
  ): Promise<RecoveryToken | null>;
  /** Starts a flow whose recovery session is the secret hashing to `sessionHash`. */
  createFlow(flow: RecoveryFlow, sessionHash: string): Promise<void>;
  /** The flow of a recovery session, while it may still set a password (state and expiry checked). */
  findOpenFlow(tenantId: string, sessionHash: string, now: Date): Promise<RecoveryFlow | null>;
  /** Counts one wrong second-factor code in the flow (its own statement, before any comparison); returns the new count. */
  countCodeFailure(tenantId: string, flowId: string): Promise<number>;
  /** Moves an open flow to a final state; false when it was not open any more (another request finished it). */
  finishFlow(tenantId: string, flowId: string, state: "completed" | "failed", now: Date): Promise<boolean>;
}
