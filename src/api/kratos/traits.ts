import { isValidEmail } from "../../users/service.js";
import { goQuote } from "./decode.js";

/**
 * The identity schema `default` (kratos.md §3.1.1): traits `email` (string, required, email format,
 * at most 254 characters) and `name` (string, optional), nothing else. Failures read as Kratos'
 * JSON Schema validator (santhosh-tekuri/jsonschema) words them, first failure only.
 */

export const DEFAULT_SCHEMA_ID = "default";
const EMAIL_MAX_LENGTH = 254;

export interface Traits {
  email: string;
  name: string;
}

function schemaKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "boolean") return "boolean";
  return typeof value === "object" ? "object" : typeof value;
}

function at(instance: string, schema: string, text: string): string {
  return `I[#/traits${instance}] S[#/properties/traits${schema}] ${text}`;
}

/** The traits as Rekey stores them, or the reason they fail the schema. */
export function validateTraits(traits: unknown): { traits: Traits } | { reason: string } {
  if (typeof traits !== "object" || traits === null || Array.isArray(traits)) {
    return { reason: at("", "/type", `expected object, but got ${schemaKind(traits)}`) };
  }
  const record = traits as Record<string, unknown>;
  if (!Object.hasOwn(record, "email")) {
    return { reason: at("", "/required", 'missing properties: "email"') };
  }
  const email = record["email"];
  if (typeof email !== "string") {
    return {
      reason: at("/email", "/properties/email/type", `expected string, but got ${schemaKind(email)}`),
    };
  }
  const length = [...email].length;
  if (length > EMAIL_MAX_LENGTH) {
    return {
      reason: at(
        "/email",
        "/properties/email/maxLength",
        `length must be <= ${EMAIL_MAX_LENGTH}, but got ${length}`,
      ),
    };
  }
  if (!isValidEmail(email)) {
    return { reason: at("/email", "/properties/email/format", `${goQuote(email)} is not valid "email"`) };
  }
  const name = record["name"] ?? "";
  if (Object.hasOwn(record, "name") && typeof record["name"] !== "string") {
    return {
      reason: at("/name", "/properties/name/type", `expected string, but got ${schemaKind(record["name"])}`),
    };
  }
  const extra = Object.keys(record).filter((key) => key !== "email" && key !== "name");
  if (extra.length > 0) {
    return {
      reason: at(
        "",
        "/additionalProperties",
        `additionalProperties ${extra.map((key) => goQuote(key)).join(", ")} not allowed`,
      ),
    };
  }
  return { traits: { email, name: name as string } };
}
