import type { AssuranceLevel } from "../sessions/store.js";

/** A UI message as flows carry it (Kratos' uiText): stable numeric id, text, type, optional context. */
export interface FlowMessage {
  id: number;
  text: string;
  type: "info" | "error" | "success";
  context?: Record<string, unknown>;
  /**
   * The name of the UI node the message belongs to (`email`, `password`); absent for a message of
   * the whole flow. Stored with the flow's messages so a re-rendered form shows it beside its field.
   */
  node?: string;
}

export type FlowType = "browser" | "api";
export type RecoveryStrategy = "code" | "link";
export type SelfServiceRecoveryState = "choose_method" | "sent_email" | "passed_challenge";

/** A Kratos-style recovery flow (kratos.md §3.4.1), stored in `recovery_flow` beside authentik's sessions. */
export interface SelfServiceRecoveryFlow {
  id: string;
  tenantId: string;
  type: FlowType;
  state: SelfServiceRecoveryState;
  active: RecoveryStrategy | null;
  /** `admin`: created by the admin API (no CSRF check, nothing mailed); `self_service` otherwise. */
  origin: "admin" | "self_service";
  /** The identity once known (admin flows at creation; self-service when the code is redeemed). */
  userId: number | null;
  requestURL: string;
  returnTo: string | null;
  /** SHA-256 of the browser's anti-CSRF cookie secret; null for API and admin flows. */
  csrfHash: string | null;
  messages: FlowMessage[];
  /**
   * The `transient_payload` of the submission being answered (kratos.md §3.4.4). Never stored: it
   * may carry anything a client chose to send, so it lives for one request (as Kratos' `db:"-"`)
   * and reaches the mail only inside the sealed outbox content. Flows read back have none.
   */
  transientPayload: Record<string, unknown> | null;
  /** The address last submitted (shown on the "Resend code" node). */
  submittedAddress: string | null;
  submitCount: number;
  issuedAt: Date;
  expiresAt: Date;
}

export interface RecoveryCode {
  id: string;
  tenantId: string;
  flowId: string;
  userId: number;
  kind: RecoveryStrategy;
  origin: "admin" | "self_service";
  secretHMAC: string;
  address: string | null;
  expiresAt: Date;
  usedAt: Date | null;
}

export type FlowChanges = Partial<
  Pick<SelfServiceRecoveryFlow, "state" | "active" | "userId" | "csrfHash" | "messages" | "submittedAddress">
>;

export interface SelfServiceRecoveryStore {
  createRecoveryFlow(flow: SelfServiceRecoveryFlow): Promise<void>;
  /** The flow of the tenant with this id (expired ones too: the caller decides); null when none. */
  findRecoveryFlow(tenantId: string, id: string): Promise<SelfServiceRecoveryFlow | null>;
  updateRecoveryFlow(tenantId: string, id: string, changes: FlowChanges): Promise<void>;
  /**
   * Increments the flow's submit counter and returns the new value in the same statement
   * (kratos.md §3.5 3a); null when the flow does not exist.
   */
  countSubmission(tenantId: string, flowId: string): Promise<number | null>;
  /** Moves the flow to `passed_challenge` only if it was not there yet; false when another request was first. */
  passChallenge(tenantId: string, flowId: string): Promise<boolean>;

  createRecoveryCode(code: RecoveryCode, now: Date): Promise<void>;
  /** Codes and link tokens of the flow, newest first. */
  listRecoveryCodes(tenantId: string, flowId: string): Promise<RecoveryCode[]>;
  /** Deletes every code and token of the flow (a resend invalidates the earlier codes). */
  deleteRecoveryCodes(tenantId: string, flowId: string): Promise<void>;
  /** `UPDATE … SET used_at = now WHERE id = ? AND used_at IS NULL`: true for the one caller that used it. */
  useRecoveryCode(tenantId: string, codeId: string, now: Date): Promise<boolean>;
}

export type LoginFlowState = "choose_method" | "passed_challenge";

export interface LoginFlow {
  id: string;
  tenantId: string;
  type: FlowType;
  requestURL: string;
  returnTo: string | null;
  refresh: boolean;
  requestedAAL: AssuranceLevel;
  state: LoginFlowState;
  /** The session an aal2 flow steps up. */
  sessionId: string | null;
  csrfHash: string | null;
  messages: FlowMessage[];
  issuedAt: Date;
  expiresAt: Date;
  updatedAt: Date;
}

export type SettingsFlowState = "show_form" | "success";

export interface SettingsFlow {
  id: string;
  tenantId: string;
  userId: number;
  type: FlowType;
  requestURL: string;
  returnTo: string | null;
  state: SettingsFlowState;
  csrfHash: string | null;
  messages: FlowMessage[];
  issuedAt: Date;
  expiresAt: Date;
}

export interface LoginFlowStore {
  createLoginFlow(flow: LoginFlow): Promise<void>;
  findLoginFlow(tenantId: string, id: string): Promise<LoginFlow | null>;
  updateLoginFlow(
    tenantId: string,
    id: string,
    changes: Partial<Pick<LoginFlow, "state" | "messages" | "csrfHash">>,
    now: Date,
  ): Promise<void>;
}

export interface SettingsFlowStore {
  createSettingsFlow(flow: SettingsFlow): Promise<void>;
  findSettingsFlow(tenantId: string, id: string): Promise<SettingsFlow | null>;
  updateSettingsFlow(
    tenantId: string,
    id: string,
    changes: Partial<Pick<SettingsFlow, "state" | "messages" | "csrfHash">>,
  ): Promise<void>;
}
