import type { FastifyRequest } from "fastify";
import { MalformedId, ValidationFailed } from "../../errors.js";
import { bodyValidationError } from "./errors.js";

/**
 * The last step before a handler uses the body. Routes under /api/v3 validate with
 * `attachValidation`, so that authentication, permission and object lookup come first, as in DRF
 * (authentik-v3.md §2.3: authentication → permission → lookup → body validation).
 */
export function assertValidBody(request: FastifyRequest): void {
  if (request.bodyError !== null) {
    throw request.bodyError; // a body that did not parse, or was not JSON (plugin.ts)
  }
  const error = request.validationError as
    | (Error & { validation?: unknown[]; validationContext?: string })
    | undefined;
  if (error !== undefined && error.validationContext === "body") {
    throw bodyValidationError(
      (error.validation ?? []) as Parameters<typeof bodyValidationError>[0],
      request.body,
    );
  }
  rejectNullCharacters(request);
}

/**
 * DRF's CharField refuses NUL ("Null characters are not allowed.", ProhibitNullCharactersValidator),
 * and PostgreSQL text cannot hold it: without this a NUL in a name would be a 500 there. Only the
 * fields the route declares are checked; unknown fields are ignored, as everywhere.
 */
function rejectNullCharacters(request: FastifyRequest): void {
  const schema = request.routeOptions.schema?.body as { properties?: Record<string, unknown> } | undefined;
  const declared = schema?.properties ?? {};
  const body = request.body as Record<string, unknown> | undefined;
  const fields: Record<string, string[]> = {};
  for (const field of Object.keys(declared)) {
    const value = body?.[field];
    const texts = Array.isArray(value) ? value : [value];
    if (texts.some((text) => typeof text === "string" && text.includes("\u0000"))) {
      fields[field] = ["Null characters are not allowed."];
    }
  }
  if (Object.keys(fields).length > 0) {
    throw new ValidationFailed(fields);
  }
}

/** Integer primary keys are PostgreSQL `serial` (int4); asking for a larger one is an error there. */
const MAX_INTEGER_ID = 2_147_483_647;

/** An integer primary key from the path; anything else cannot name an object (404 `Not found.`). */
export function integerId(text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > MAX_INTEGER_ID) {
    throw new MalformedId();
  }
  return Number(text);
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** A UUID from the path, normalised to lower case with hyphens. */
export function uuidId(text: string): string {
  if (!UUID.test(text)) {
    throw new MalformedId();
  }
  const hex = text.replaceAll("-", "").toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
