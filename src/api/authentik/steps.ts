import type { FastifyRequest } from "fastify";
import { MalformedId } from "../../errors.js";
import { bodyValidationError } from "./errors.js";

/**
 * The last step before a handler uses the body. Routes under /api/v3 validate with
 * `attachValidation`, so that authentication, permission and object lookup come first, as in DRF
 * (authentik-v3.md §2.3: authentication → permission → lookup → body validation).
 */
export function assertValidBody(request: FastifyRequest): void {
  const error = request.validationError as (Error & { validation?: unknown[]; validationContext?: string }) | undefined;
  if (error !== undefined && error.validationContext === "body") {
    throw bodyValidationError((error.validation ?? []) as Parameters<typeof bodyValidationError>[0], request.body);
  }
}

/** An integer primary key from the path; anything else cannot name an object (404 `Not found.`). */
export function integerId(text: string): number {
  if (!/^\d{1,15}$/.test(text)) {
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
