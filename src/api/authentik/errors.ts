import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import {
  type AnyAppError,
  AppError,
  MalformedJSON,
  UnsupportedMediaType,
  ValidationFailed,
} from "../../errors.js";
import { DATE_TIME_MESSAGE } from "./format.js";

/**
 * The one place where errors become authentik's bodies (authentik-v3.md §2.4): `{"detail": …}` for
 * most, field arrays for validation, a string `non_field_errors` for recovery actions, and an empty
 * body for the silent 404s. No body ever carries a `code`.
 */
export function renderAuthentikError(error: AnyAppError): {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
} {
  switch (error.code) {
    case "validation_failed":
      return { status: 400, body: error.fields };
    case "recovery_refused":
      return { status: 400, body: { non_field_errors: error.message } };
    case "silent_not_found":
      return { status: 404, body: null };
    case "rate_limited":
      return {
        status: 429,
        body: { detail: error.message },
        headers: { "retry-after": String(error.retryAfterSeconds) },
      };
    case "password_rejected":
      return { status: 400, body: { password: [error.message] } };
    case "method_not_allowed":
      return { status: 405, body: { detail: error.message }, headers: { allow: error.allowed.join(", ") } };
    case "object_not_found":
    case "malformed_id":
    case "invalid_page":
    case "not_authenticated":
    case "credential_invalid":
    case "permission_denied":
    case "token_key_unavailable":
    case "unsupported_media_type":
    case "malformed_json":
    case "route_not_found":
    case "recovery_unusable":
    case "login_failed":
    case "second_factor_invalid":
    case "csrf_violation":
      return { status: error.status, body: { detail: error.message } };
  }
}

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  data?: unknown;
}

function pythonTypeName(value: unknown): string {
  if (Array.isArray(value)) return "list";
  if (typeof value === "string") return "str";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  if (value === null) return "NoneType";
  return "dict";
}

function messageFor(error: AjvError, value: unknown): string {
  const params = error.params;
  switch (error.keyword) {
    case "required":
      return "This field is required.";
    case "type": {
      if (value === null) return "This field may not be null.";
      const expected = String(params["type"]);
      if (expected.includes("integer")) return "A valid integer is required.";
      if (expected.includes("number")) return "A valid number is required.";
      if (expected.includes("boolean")) return "Must be a valid boolean.";
      if (expected.includes("array"))
        return `Expected a list of items but got type "${pythonTypeName(value)}".`;
      if (expected.includes("object"))
        return `Expected a dictionary of items but got type "${pythonTypeName(value)}".`;
      return "Not a valid string.";
    }
    case "minLength":
      return params["limit"] === 1
        ? "This field may not be blank."
        : `Ensure this field has at least ${params["limit"]} characters.`;
    case "maxLength":
      return `Ensure this field has no more than ${params["limit"]} characters.`;
    case "enum":
    case "const":
      // A choice field is either an enum or, from TypeBox, a union of literals: Ajv then reports
      // one `const` error per literal (and an `anyOf`), which DRF words as one invalid choice.
      if (value === null) return "This field may not be null.";
      return `"${String(value)}" is not a valid choice.`;
    case "minimum":
      return `Ensure this value is greater than or equal to ${params["limit"]}.`;
    case "maximum":
      return `Ensure this value is less than or equal to ${params["limit"]}.`;
    case "format":
      if (params["format"] === "uuid") return "Must be a valid UUID.";
      if (params["format"] === "email") return "Enter a valid email address.";
      if (params["format"] === "date-time") return DATE_TIME_MESSAGE;
      return "Enter a valid value.";
    case "pattern":
      return 'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.';
    default:
      return "Invalid value.";
  }
}

function valueAt(body: unknown, path: string[]): unknown {
  let current = body;
  for (const part of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/**
 * Turns Ajv's errors on a JSON body into DRF's field errors: one message per top-level field, the
 * first found; a body that is not an object is `non_field_errors`, as DRF says it.
 */
export function bodyValidationError(errors: readonly AjvError[], body: unknown): ValidationFailed {
  if (body === null) {
    return ValidationFailed.field("non_field_errors", "No data provided");
  }
  if (typeof body !== "object" || Array.isArray(body)) {
    return ValidationFailed.field(
      "non_field_errors",
      `Invalid data. Expected a dictionary, but got ${pythonTypeName(body)}.`,
    );
  }
  const fields: Record<string, string[]> = {};
  for (const error of errors) {
    const path = error.instancePath
      .split("/")
      .slice(1)
      .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"));
    const field =
      error.keyword === "required" && path.length === 0 ? String(error.params["missingProperty"]) : path[0];
    if (field === undefined || fields[field] !== undefined) {
      continue;
    }
    // Nullable fields are anyOf(type, null): report the branch that is not about null.
    if (error.keyword === "anyOf") {
      continue;
    }
    fields[field] = [messageFor(error, error.keyword === "required" ? undefined : valueAt(body, path))];
  }
  return Object.keys(fields).length === 0
    ? ValidationFailed.field("non_field_errors", "Invalid data.")
    : new ValidationFailed(fields);
}

function fromFastify(error: FastifyError, request: FastifyRequest): AppError | null {
  if (error instanceof AppError) return error;
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new UnsupportedMediaType(request.headers["content-type"] ?? "");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new MalformedJSON(error.message);
  }
  if (error.validation !== undefined && error.validationContext === "body") {
    return bodyValidationError(error.validation as AjvError[], request.body);
  }
  return null;
}

/** The /api/v3 error handler: catalogue errors in authentik's shape, anything else a logged 500. */
export function authentikErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const known = fromFastify(error, request);
  if (known !== null && known.expose) {
    const rendered = renderAuthentikError(known as AnyAppError);
    reply.code(rendered.status).headers(rendered.headers ?? {});
    return rendered.body === null ? reply.send() : reply.type("application/json").send(rendered.body);
  }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return reply.code(error.statusCode).send({ detail: error.message });
  }
  request.log.error({ err: error }, "unhandled error");
  return reply.code(500).send({ detail: "A server error occurred." });
}
