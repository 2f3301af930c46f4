/**
 * The closed catalogue of errors Rekey raises. Services throw these; each API surface has one error
 * handler that renders them in its dialect (api/authentik/errors.ts for /api/v3). Codes are stable:
 * clients, docs and pages key on them.
 */
export abstract class AppError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  /** False: the client sees a generic 500 and only the log has the details. */
  readonly expose: boolean = true;
}

/** The kinds of object a lookup can miss; the dialects name them in their own words. */
export type ModelName =
  | "Token"
  | "User"
  | "Group"
  | "TOTPDevice"
  | "StaticDevice"
  | "EmailStage"
  | "Event"
  | "Tenant"
  | "Domain";

export class ObjectNotFound extends AppError {
  readonly code = "object_not_found";
  readonly status = 404;
  readonly model: ModelName;

  constructor(model: ModelName) {
    super(`No ${model} matches the given query.`);
    this.model = model;
  }
}

/** A path id that cannot name any object (a non-integer pk, a non-UUID uuid). */
export class MalformedId extends AppError {
  readonly code = "malformed_id";
  readonly status = 404;
  constructor() {
    super("Not found.");
  }
}

export class InvalidPage extends AppError {
  readonly code = "invalid_page";
  readonly status = 404;
  constructor() {
    super("Invalid page.");
  }
}

/** Field errors: each field (or `non_field_errors`) with its messages, in the order found. */
export class ValidationFailed extends AppError {
  readonly code = "validation_failed";
  readonly status = 400;
  readonly fields: Record<string, string[]>;

  constructor(fields: Record<string, string[]>) {
    super(Object.values(fields).flat().join(" "));
    this.fields = fields;
  }

  static field(field: string, message: string): ValidationFailed {
    return new ValidationFailed({ [field]: [message] });
  }
}

export class NotAuthenticated extends AppError {
  readonly code = "not_authenticated";
  readonly status = 403;
  constructor() {
    super("Authentication credentials were not provided.");
  }
}

export class CredentialInvalid extends AppError {
  readonly code = "credential_invalid";
  readonly status = 403;
  constructor() {
    super("Token invalid/expired");
  }
}

export class PermissionDenied extends AppError {
  readonly code = "permission_denied";
  readonly status = 403;
  constructor() {
    super("You do not have permission to perform this action.");
  }
}

/** A resource that answers 404 with an empty body (tenants API off; unknown user on a tenants action). */
export class SilentNotFound extends AppError {
  readonly code = "silent_not_found";
  readonly status = 404;
  constructor(reason: string) {
    super(reason);
  }
}

/** `view_key` on a token whose key is stored hash-only, or has no readable ciphertext. */
export class TokenKeyUnavailable extends AppError {
  readonly code = "token_key_unavailable";
  readonly status = 404;
  constructor() {
    super("Token not found or expired");
  }
}

export class UnsupportedMediaType extends AppError {
  readonly code = "unsupported_media_type";
  readonly status = 415;
  constructor(contentType: string) {
    super(`Unsupported media type "${contentType}" in request.`);
  }
}

export class MalformedJSON extends AppError {
  readonly code = "malformed_json";
  readonly status = 400;
  constructor(detail: string) {
    super(`JSON parse error - ${detail}`);
  }
}

export class RouteNotFound extends AppError {
  readonly code = "route_not_found";
  readonly status = 404;
  constructor() {
    super("Not found.");
  }
}

export class MethodNotAllowed extends AppError {
  readonly code = "method_not_allowed";
  readonly status = 405;
  readonly allowed: string[];

  constructor(method: string, allowed: string[]) {
    super(`Method "${method}" not allowed.`);
    this.allowed = allowed;
  }
}

/** A rule of a recovery action refused the request (rendered with a string `non_field_errors`). */
export class RecoveryRefused extends AppError {
  readonly code = "recovery_refused";
  readonly status = 400;
}

/** Too many attempts for this client or account; `retryAfterSeconds` goes into Retry-After. */
export class RateLimited extends AppError {
  readonly code = "rate_limited";
  readonly status = 429;
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number) {
    super(`Request was throttled. Expected available in ${retryAfterSeconds} seconds.`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A recovery link, key or session that is unknown, used or expired: all look the same to the caller. */
export class RecoveryUnusable extends AppError {
  readonly code = "recovery_unusable";
  readonly status = 404;
  constructor() {
    super("This link was already used or has expired. Please request a new link.");
  }
}

/** A new password the recovery or settings form refuses; `id` is Kratos' message id. */
export class PasswordRejected extends AppError {
  readonly code = "password_rejected";
  readonly status = 400;
  readonly messageId: number;
  readonly context: Record<string, number | string> | undefined;

  constructor(text: string, messageId: number, context?: Record<string, number | string>) {
    super(text);
    this.messageId = messageId;
    this.context = context;
  }
}

/** A wrong TOTP or backup code where a second factor is required. */
export class SecondFactorInvalid extends AppError {
  readonly code = "second_factor_invalid";
  readonly status = 400;
  constructor() {
    super("Invalid code.");
  }
}

/** Wrong identifier or password: one answer for both, so a login form enumerates nobody. */
export class LoginFailed extends AppError {
  readonly code = "login_failed";
  readonly status = 400;
  constructor() {
    super(
      "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.",
    );
  }
}

/** A form or flow submission whose anti-CSRF token does not match the browser's cookie. */
export class CSRFViolation extends AppError {
  readonly code = "csrf_violation";
  readonly status = 403;
  constructor(reason: string) {
    super(reason);
  }
}

export type AnyAppError =
  | ObjectNotFound
  | MalformedId
  | InvalidPage
  | ValidationFailed
  | NotAuthenticated
  | CredentialInvalid
  | PermissionDenied
  | SilentNotFound
  | TokenKeyUnavailable
  | UnsupportedMediaType
  | MalformedJSON
  | RouteNotFound
  | MethodNotAllowed
  | RecoveryRefused
  | RateLimited
  | RecoveryUnusable
  | PasswordRejected
  | SecondFactorInvalid
  | LoginFailed
  | CSRFViolation;
