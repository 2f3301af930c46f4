// Message contexts are stored as the client will read them, so their times are Kratos-formatted here.
import { formatKratosTime } from "../api/kratos/format.js";
import type { FlowMessage } from "./store.js";

/**
 * The texts of the self-service flows, keyed by Kratos' stable message ids (ory/kratos `text/id.go`,
 * kratos.md §3.8) so Kratos-style clients and translations keep working. Messages with a value are
 * functions of that value; the rest are constants.
 */

function info(id: number, text: string): FlowMessage {
  return { id, text, type: "info" };
}

function error(id: number, text: string, context?: Record<string, unknown>): FlowMessage {
  return context === undefined ? { id, text, type: "error" } : { id, text, type: "error", context };
}

/** Node labels (`meta.label`). */
export const LABELS = {
  signIn: info(1010001, "Sign in"),
  authenticationCode: info(1010006, "Authentication code"),
  backupCode: info(1010010, "Backup recovery code"),
  password: info(1070001, "Password"),
  save: info(1070003, "Save"),
  identifier: info(1070004, "ID"),
  email: info(1070007, "Email"),
  resendCode: info(1070008, "Resend code"),
  continue: info(1070009, "Continue"),
  recoveryCode: info(1070010, "Recovery code"),
} as const;

export const MESSAGES = {
  reauthenticate: info(1010003, "Please confirm this action by verifying that it is you."),
  secondFactor: info(1010004, "Please complete the second authentication challenge."),
  settingsSaved: { id: 1050001, text: "Your changes have been saved!", type: "success" } as FlowMessage,
  recoveryLinkSent: info(
    1060002,
    "An email containing a recovery link has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.",
  ),
  recoveryCodeSent: info(
    1060003,
    "An email containing a recovery code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.",
  ),
  loginFailed: error(
    4000006,
    "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.",
  ),
  totpInvalid: error(4000008, "The provided authentication code is invalid, please try again."),
  backupCodeInvalid: error(4000016, "The backup recovery code is not valid."),
  loginNoStrategy: error(
    4010002,
    "Could not find a strategy to log you in with. Did you fill out the form correctly?",
  ),
  settingsNoStrategy: error(
    4010004,
    "Could not find a strategy to update your settings. Did you fill out the form correctly?",
  ),
  recoveryNoStrategy: error(
    4010005,
    "Could not find a strategy to recover your account with. Did you fill out the form correctly?",
  ),
  loginAlreadyCompleted: error(
    4010007,
    "The request was already completed successfully and can not be retried.",
  ),
  identityDisabled: error(4010011, "This account has been disabled. Please contact support for assistance."),
  recoveryAlreadyCompleted: error(
    4060001,
    "The request was already completed successfully and can not be retried.",
  ),
  recoveryTokenInvalid: error(
    4060004,
    "The recovery token is invalid or has already been used. Please retry the flow.",
  ),
  recoveryCodeInvalid: error(
    4060006,
    "The recovery code is invalid or has already been used. Please try again.",
  ),
} as const;

/** The reasons of the retry errors (kratos.md §3.4.6), shown as 4000001 on the new flow. */
export const REASONS = {
  submittedTooOften: "The request was submitted too often. Please request another code.",
  codeUsed: "The code was already used. Please request another code.",
  alreadyCompleted: "The request was already completed successfully and can not be retried.",
  identityDisabled: "This account was disabled.",
  csrf: "Please retry the flow and optionally clear your cookies. The request was rejected to protect you from Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and other serious security issues.",
} as const;

/** 4000001: an error whose reason is the text. */
export function genericError(reason: string): FlowMessage {
  return error(4000001, reason, { reason });
}

/** 4000002 on the node of a missing property. */
export function propertyMissing(property: string): FlowMessage {
  return { ...error(4000002, `Property ${property} is missing.`, { property }), node: property };
}

/** 4000040 on the `email` node. */
export function invalidEmail(value: string): FlowMessage {
  return { ...error(4000040, "Enter a valid email address", { value }), node: "email" };
}

/** Minutes as Kratos prints them: two decimals (`%.2f`). */
export function formatMinutes(ms: number): string {
  return (ms / 60_000).toFixed(2);
}

function expiredContext(expiredAt: Date): Record<string, unknown> {
  return { expired_at: formatKratosTime(expiredAt), expired_at_unix: Math.floor(expiredAt.getTime() / 1000) };
}

/** 4060005, 4050001, 4010001: the flow of `kind` expired `now - expiredAt` ago. */
export function flowExpired(
  kind: "recovery" | "settings" | "login",
  expiredAt: Date,
  now: Date,
): FlowMessage {
  const ids = { recovery: 4060005, settings: 4050001, login: 4010001 };
  const minutes = formatMinutes(now.getTime() - expiredAt.getTime());
  return error(
    ids[kind],
    `The ${kind} flow expired ${minutes} minutes ago, please try again.`,
    expiredContext(expiredAt),
  );
}

/** 1060001, with the minutes left of the privileged session. */
export function recovered(privilegedUntil: Date, now: Date): FlowMessage {
  const minutes = formatMinutes(privilegedUntil.getTime() - now.getTime());
  return {
    id: 1060001,
    text: `You successfully recovered your account. Please change your password or set up an alternative login method (e.g. social sign in) within the next ${minutes} minutes.`,
    type: "success",
    context: {
      privilegedSessionExpiresAt: formatKratosTime(privilegedUntil),
      privileged_session_expires_at: formatKratosTime(privilegedUntil),
      privileged_session_expires_at_unix: Math.floor(privilegedUntil.getTime() / 1000),
    },
  };
}

/** A password-policy violation as a message on the `password` node. */
export function passwordViolation(violation: {
  id: number;
  text: string;
  context?: Record<string, unknown>;
}): FlowMessage {
  return { ...error(violation.id, violation.text, violation.context), node: "password" };
}
