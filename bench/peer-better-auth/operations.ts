import type { PeerOperation } from "./drive.js";

/** The operations compared, each as both servers spell it; Rekey has one more read (Kratos whoami). */
export interface PeerOperations {
  /** Session read with a bearer credential. */
  sessionRead: PeerOperation;
  /** Rekey only: the Kratos dialect's session read with a session token. */
  kratosWhoami?: PeerOperation;
  apiKeyCreate: PeerOperation;
  passwordResetRequest: PeerOperation;
  totpVerify: PeerOperation;
}

/** Rows of the table, in order: the key above, the label, and what each side sends. */
export const ROWS: readonly {
  key: keyof PeerOperations;
  label: string;
  rekey: string;
  betterAuth: string;
}[] = [
  {
    key: "sessionRead",
    label: "session read (bearer)",
    rekey: "GET /api/v3/core/users/me/ (api token)",
    betterAuth: "GET /api/auth/get-session (bearer plugin)",
  },
  {
    key: "kratosWhoami",
    label: "session read (kratos whoami)",
    rekey: "GET /sessions/whoami (X-Session-Token)",
    betterAuth: "GET /api/auth/get-session (bearer plugin)",
  },
  {
    key: "apiKeyCreate",
    label: "API key creation",
    rekey: "POST /api/v3/core/tokens/",
    betterAuth: "POST /api/auth/api-key/create",
  },
  {
    key: "passwordResetRequest",
    label: "password-reset request",
    rekey: "POST /self-service/recovery?flow= (method=code, email; api flow made in setup)",
    betterAuth: "POST /api/auth/request-password-reset (sendResetPassword queues in memory)",
  },
  {
    key: "totpVerify",
    label: "TOTP verification",
    rekey: "POST /self-service/login?flow= (aal2, method=totp; flow made in setup)",
    betterAuth: "POST /api/auth/two-factor/verify-totp (sign-in challenge cookie made in setup)",
  },
];
