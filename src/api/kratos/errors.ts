import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { AppError, type AnyAppError } from "../../errors.js";

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  410: "Gone",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
};

/** herodot's default `message` per status (kratos.md §2.4). */
const DEFAULT_MESSAGE: Record<number, string> = {
  400: "The request was malformed or contained invalid parameters",
  401: "The request could not be authorized",
  403: "The requested action was forbidden",
  404: "The requested resource could not be found",
  409: "The resource could not be created due to a conflict",
  410: "The requested resource is no longer available because it has expired or is otherwise invalid.",
  429: "Too many requests",
  500: "An internal server error occurred, please contact the system administrator",
};

export interface KratosErrorBody {
  id?: string;
  reason?: string;
  details?: Record<string, unknown>;
  /** Overrides the status's default message. */
  message?: string;
}

/**
 * An error of the Kratos dialect, rendered as herodot's `errorGeneric`. `extra` holds the top-level
 * keys some errors add beside `error` (`redirect_browser_to`, `expired_at`, `since`, `use_flow_id`).
 */
export class KratosError extends Error {
  readonly status: number;
  readonly body: KratosErrorBody;
  readonly extra: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    body: KratosErrorBody,
    options?: { extra?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown },
  ) {
    // `cause`: what a 500 stands for, for the log only (never sent).
    super(body.reason ?? body.message ?? DEFAULT_MESSAGE[status] ?? "error", { cause: options?.cause });
    this.status = status;
    this.body = body;
    this.extra = options?.extra ?? {};
    this.headers = options?.headers ?? {};
  }

  static badRequest(reason: string, details?: Record<string, unknown>): KratosError {
    return new KratosError(400, { reason, details });
  }
}

/** `{"error": {id, code, status, request, reason, details, message}}` in herodot's key order, empty keys left out. */
export function errorGenericBody(error: KratosError, requestId: string | undefined): Record<string, unknown> {
  const inner: Record<string, unknown> = {};
  if (error.body.id !== undefined) inner["id"] = error.body.id;
  inner["code"] = error.status;
  inner["status"] = STATUS_TEXT[error.status] ?? "Error";
  if (requestId !== undefined && requestId !== "") inner["request"] = requestId;
  if (error.body.reason !== undefined && error.body.reason !== "") inner["reason"] = error.body.reason;
  if (error.body.details !== undefined && Object.keys(error.body.details).length > 0)
    inner["details"] = error.body.details;
  inner["message"] = error.body.message ?? DEFAULT_MESSAGE[error.status] ?? "error";
  return { error: inner, ...error.extra };
}

const CSRF_REASON =
  "Please retry the flow and optionally clear your cookies. The request was rejected to protect you from Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and other serious security issues.";

/**
 * An AppError that reached kratosErrorOf without being in AnyAppError (a caller cast it in, or a
 * domain added a class without a mapping). An exposed client error says what it is with its own
 * status, as Kratos would; anything else is a bug, and gets the bare 500 (its handler logs it).
 */
function unmappedAppError(error: AppError): KratosError {
  if (error.expose && error.status >= 400 && error.status < 500) {
    return new KratosError(error.status, { reason: error.message });
  }
  return new KratosError(500, {}, { cause: error });
}

/**
 * The catalogue's errors in the Kratos dialect. Exhaustive: a code added to AnyAppError without a
 * case here fails to compile (the `never` below); at run time an error outside the union still
 * gets a Kratos-shaped answer, never `undefined`.
 */
export function kratosErrorOf(error: AnyAppError): KratosError {
  switch (error.code) {
    case "rate_limited":
      return new KratosError(
        429,
        { reason: "Too many attempts. Please try again later." },
        { headers: { "retry-after": String(error.retryAfterSeconds) } },
      );
    case "csrf_violation":
      return new KratosError(403, {
        id: "security_csrf_violation",
        reason: CSRF_REASON,
        details: {
          docs: "https://www.ory.com/docs/troubleshooting/csrf",
          hint: error.message,
          reject_reason: error.message,
        },
        message: "the request was rejected to protect you from Cross-Site-Request-Forgery",
      });
    case "object_not_found":
    case "malformed_id":
      return new KratosError(404, { message: "Unable to locate the resource" });
    case "route_not_found":
    case "recovery_unusable":
    case "silent_not_found":
      return new KratosError(404, {});
    case "not_authenticated":
    case "credential_invalid":
      return new KratosError(401, { reason: error.message });
    case "permission_denied":
      return new KratosError(403, { reason: error.message });
    case "unsupported_media_type":
      return new KratosError(415, { reason: error.message });
    case "method_not_allowed":
      return new KratosError(404, {});
    case "validation_failed":
    case "recovery_refused":
    case "malformed_json":
    case "invalid_page":
    case "token_key_unavailable":
    case "password_rejected":
    case "login_failed":
    case "second_factor_invalid":
      return KratosError.badRequest(error.message);
    default: {
      const unmapped: never = error;
      return unmappedAppError(unmapped);
    }
  }
}

/** The error handler of every Kratos route: errorGeneric JSON with `Ory-Error-Id`, never a stack trace. */
export function kratosErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  let kratos: KratosError | null = null;
  if (error instanceof KratosError) {
    kratos = error;
  } else if (error instanceof AppError && error.expose) {
    kratos = kratosErrorOf(error as AnyAppError);
  } else if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    kratos = new KratosError(error.statusCode, { reason: error.message });
  }
  if (kratos === null) {
    kratos = new KratosError(500, {}, { cause: error });
  }
  // A 500 is always a bug: its cause goes to the log, the client sees only the generic body.
  if (kratos.status >= 500) {
    request.log.error({ err: kratos.cause ?? error }, "unhandled error");
  }
  const requestId = request.headers["x-request-id"];
  return (
    reply
      .code(kratos.status)
      .headers({ ...kratos.headers, "ory-error-id": kratos.body.id ?? "" })
      // Sent as bytes: Fastify appends `; charset=utf-8` to any JSON type of a string or object
      // body, and herodot's errors say `application/json` alone (kratos.md §2.4).
      .header("content-type", "application/json")
      .send(
        Buffer.from(
          JSON.stringify(errorGenericBody(kratos, typeof requestId === "string" ? requestId : undefined)),
          "utf8",
        ),
      )
  );
}
