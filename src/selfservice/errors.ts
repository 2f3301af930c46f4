import { AppError } from "../errors.js";
import type { LoginFlow, SelfServiceRecoveryFlow, SettingsFlow } from "./store.js";

/**
 * The outcomes of self-service flows that stop the straight path. Each surface renders them in its
 * own way (kratos.md: JSON for API and SPA clients, a redirect for browsers), so they carry the data
 * a rendering needs (the new flow, the cookie to set) and no wire names.
 */

export type FlowKind = "recovery" | "settings" | "login";

/** The flow id names no flow of this tenant. */
export class FlowNotFound extends AppError {
  readonly code = "flow_not_found";
  readonly status = 404;
  readonly kind: FlowKind;

  constructor(kind: FlowKind) {
    super(`The ${kind} request could not be found. Please restart the flow.`);
    this.kind = kind;
  }
}

/** A new flow that replaces the refused one, with the anti-CSRF cookie it is bound to (browser flows). */
export interface ReplacementFlow<F> {
  flow: F;
  /** A new anti-CSRF cookie value to send with the answer; null to keep the browser's. */
  csrfCookie: string | null;
}

export type AnyFlow = SelfServiceRecoveryFlow | SettingsFlow | LoginFlow;

/** A submission to an expired flow: a fresh flow says so (kratos.md §3.4.8). */
export class FlowExpired extends AppError {
  readonly code = "flow_expired";
  readonly status = 410;
  readonly kind: FlowKind;
  readonly expiredAt: Date;
  readonly replacement: ReplacementFlow<AnyFlow>;

  constructor(kind: FlowKind, expiredAt: Date, replacement: ReplacementFlow<AnyFlow>) {
    super("self-service flow expired");
    this.kind = kind;
    this.expiredAt = expiredAt;
    this.replacement = replacement;
  }
}

/** Why a recovery flow had to start over (kratos.md §3.4.6). */
export type RetryCause =
  | "too_often"
  | "code_used"
  | "identity_disabled"
  | "already_completed"
  | "csrf"
  | "api_from_browser"
  | "token_invalid"
  | "token_expired";

/** The recovery flow cannot go on; `replacement` is the new flow carrying the reason as its message. */
export class RecoveryRetry extends AppError {
  readonly code = "recovery_retry";
  readonly status: number;
  readonly why: RetryCause;
  readonly replacement: ReplacementFlow<SelfServiceRecoveryFlow>;

  constructor(cause: RetryCause, reason: string, replacement: ReplacementFlow<SelfServiceRecoveryFlow>) {
    super(reason);
    this.why = cause;
    this.status = cause === "csrf" ? 403 : 400;
    this.replacement = replacement;
  }
}

/** Someone signed in asked to recover or to sign in again without `refresh`. */
export class SessionAlreadyAvailable extends AppError {
  readonly code = "session_already_available";
  readonly status = 400;
  readonly kind: "recovery" | "login";

  constructor(kind: "recovery" | "login") {
    super(`A valid session was detected and thus ${kind} is not possible.`);
    this.kind = kind;
  }
}

/** No live session in the request where one is needed. */
export class SessionRequired extends AppError {
  readonly code = "session_inactive";
  readonly status = 401;
  constructor() {
    super("No active session was found in this request.");
  }
}

/** The identity has a second factor the session has not proven. */
export class SecondFactorRequired extends AppError {
  readonly code = "session_aal2_required";
  readonly status = 403;
  constructor() {
    super("An active session was found but it does not fulfill the requested Authenticator Assurance Level.");
  }
}

/** aal2 was asked for without a session to raise. */
export class FirstFactorRequired extends AppError {
  readonly code = "session_aal1_required";
  readonly status = 401;
  constructor() {
    super("You can not requested a higher AAL (AAL2/AAL3) without an active session.");
  }
}

/**
 * aal2 was asked for, but the session already has the highest level its identity can reach (no
 * second factor, or already aal2).
 */
export class AssuranceLevelReached extends AppError {
  readonly code = "session_aal_already_fulfilled";
  readonly status = 401;
  constructor() {
    super("The session has the requested AAL already.");
  }
}

/** The session was authenticated too long ago to change credentials. */
export class SessionRefreshRequired extends AppError {
  readonly code = "session_refresh_required";
  readonly status = 403;
  constructor() {
    super(
      "The login session is too old and thus not allowed to update these fields. Please re-authenticate.",
    );
  }
}

/** A settings flow of another identity. */
export class IdentityMismatch extends AppError {
  readonly code = "security_identity_mismatch";
  readonly status = 403;
  constructor() {
    super("The request was made for another identity and has been blocked for security reasons.");
  }
}

/** A submission to an API flow that carries an Origin header or cookies: a browser sent it (kratos.md §2.6). */
export class APIFlowFromBrowser extends AppError {
  readonly code = "api_flow_from_browser";
  readonly status = 400;
  readonly header: "Origin" | "Cookie";

  constructor(header: "Origin" | "Cookie") {
    super(apiFlowFromBrowserReason(header));
    this.header = header;
  }
}

export function apiFlowFromBrowserReason(header: "Origin" | "Cookie"): string {
  const made =
    header === "Origin" ? "was made as part of an AJAX request in a Browser" : "was made by a Browser";
  return `The HTTP Request Header included the "${header}" key, indicating that this request ${made}. The flow however was initiated as an API request. To prevent potential misuse and mitigate several attack vectors including CSRF, the request has been blocked. Please consult the documentation.`;
}
