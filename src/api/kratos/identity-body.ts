import type { NewIdentity } from "../../identities/service.js";
import { GoDecodeError, type GoStruct, decodeGoStruct } from "./decode.js";
import { KratosError } from "./errors.js";
import { DEFAULT_SCHEMA_ID, validateTraits } from "./traits.js";

/**
 * `createIdentityBody` (kratos.md §3.1.2), decoded strictly as Kratos' jsonx.NewStrictDecoder does:
 * an unknown field is a 400 whose `message` is Go's text and which has no reason.
 */

const RAW = { kind: "raw" } as const;

const PASSWORD_CONFIG: GoStruct = {
  qualifiedName: "identity.AdminIdentityImportCredentialsPasswordConfig",
  name: "AdminIdentityImportCredentialsPasswordConfig",
  fields: {
    password: { kind: "string", goType: "string" },
    hashed_password: RAW,
    use_password_migration_hook: RAW,
  },
};

const PASSWORD: GoStruct = {
  qualifiedName: "identity.AdminIdentityImportCredentialsPassword",
  name: "AdminIdentityImportCredentialsPassword",
  fields: { config: { kind: "struct", struct: PASSWORD_CONFIG } },
};

/** Credential types Kratos knows besides `password`: accepted by the decoder, refused unless empty. */
const OTHER_CREDENTIAL_TYPES = [
  "oidc",
  "saml",
  "totp",
  "lookup_secret",
  "webauthn",
  "passkey",
  "code",
  "profile",
  "link_recovery",
  "code_recovery",
];

const CREDENTIALS: GoStruct = {
  qualifiedName: "identity.IdentityWithCredentials",
  name: "IdentityWithCredentials",
  fields: {
    password: { kind: "struct", struct: PASSWORD },
    ...Object.fromEntries(OTHER_CREDENTIAL_TYPES.map((type) => [type, RAW])),
  },
};

const CREATE_BODY: GoStruct = {
  qualifiedName: "identity.CreateIdentityBody",
  name: "CreateIdentityBody",
  fields: {
    schema_id: { kind: "string", goType: "string" },
    traits: RAW,
    credentials: { kind: "struct", struct: CREDENTIALS },
    verifiable_addresses: RAW,
    recovery_addresses: RAW,
    metadata_public: RAW,
    metadata_admin: RAW,
    state: { kind: "string", goType: "identity.State" },
    organization_id: RAW,
    external_id: RAW,
    region: RAW,
  },
};

function isEmptyValue(value: unknown): boolean {
  if (value === undefined || value === null || value === "" || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === "object" && Object.keys(value).length === 0;
}

/** Fields Kratos knows and Rekey does not serve, by JSON path (K3: fail loudly, never import partly). */
function unsupportedField(body: Record<string, unknown>): string | null {
  for (const field of [
    "external_id",
    "organization_id",
    "region",
    "verifiable_addresses",
    "recovery_addresses",
  ]) {
    if (!isEmptyValue(body[field])) return field;
  }
  const credentials = (body["credentials"] ?? {}) as Record<string, unknown>;
  for (const type of OTHER_CREDENTIAL_TYPES) {
    if (!isEmptyValue(credentials[type])) return `credentials.${type}`;
  }
  const config = (((credentials["password"] ?? {}) as Record<string, unknown>)["config"] ?? {}) as Record<
    string,
    unknown
  >;
  for (const field of ["hashed_password", "use_password_migration_hook"]) {
    if (!isEmptyValue(config[field])) return `credentials.password.config.${field}`;
  }
  return null;
}

function passwordOf(body: Record<string, unknown>): string | null {
  const credentials = (body["credentials"] ?? {}) as Record<string, unknown>;
  const config = (((credentials["password"] ?? {}) as Record<string, unknown>)["config"] ?? {}) as Record<
    string,
    unknown
  >;
  const password = config["password"];
  return typeof password === "string" && password !== "" ? password : null;
}

/** A schema id other than `default` (empty means `default`). */
export function checkSchemaId(schemaId: unknown): void {
  if (typeof schemaId === "string" && schemaId !== "" && schemaId !== DEFAULT_SCHEMA_ID) {
    throw KratosError.badRequest(`Unable to find JSON Schema ID: ${schemaId}`);
  }
}

/** The new identity a create body asks for, in Kratos' order of checks; throws KratosError. */
export function readCreateIdentityBody(raw: Buffer | undefined): NewIdentity {
  let body: Record<string, unknown>;
  try {
    body = decodeGoStruct(raw === undefined ? "" : raw.toString("utf8"), CREATE_BODY, { strict: true });
  } catch (error) {
    if (error instanceof GoDecodeError) {
      throw new KratosError(400, { message: error.message });
    }
    throw error;
  }
  const unsupported = unsupportedField(body);
  if (unsupported !== null) {
    throw KratosError.badRequest(`The field "${unsupported}" is not supported by this server.`);
  }
  const state = (body["state"] as string | undefined) ?? "";
  if (state !== "" && state !== "active" && state !== "inactive") {
    throw KratosError.badRequest("identity state is not valid");
  }
  checkSchemaId(body["schema_id"]);
  const traits = validateTraits(body["traits"] ?? null);
  if ("reason" in traits) {
    throw KratosError.badRequest(traits.reason);
  }
  return {
    email: traits.traits.email,
    name: traits.traits.name,
    isActive: state !== "inactive",
    password: passwordOf(body),
    metadataPublic: body["metadata_public"] ?? null,
    metadataAdmin: body["metadata_admin"] ?? null,
  };
}
