import type { IdentityChanges } from "../../identities/service.js";
import type { User } from "../../users/store.js";
import { GoDecodeError, decodeFirstJSONValue, goJSONKind } from "./decode.js";
import { KratosError } from "./errors.js";
import { checkSchemaId } from "./identity-body.js";
import { applyPatch, type JSONValue, PatchError, type PatchOperation, readPatch } from "./jsonpatch.js";
import { validateTraits } from "./traits.js";

/**
 * `PATCH /admin/identities/{id}` (kratos.md §3.1.5): the patch is applied to the identity's admin
 * JSON as ory/x's ApplyJSONPatch does, then only the fields an admin may change are taken back.
 */

const SUPPORTED_OPERATIONS = new Set(["add", "remove", "replace"]);

/** `/id`, `/stateChangedAt` and all of `/credentials`, compared without case (ory/x glob matching). */
function isDeniedPath(path: string): boolean {
  const lower = path.toLowerCase();
  return (
    lower === "/id" ||
    lower === "/statechangedat" ||
    lower === "/credentials" ||
    lower.startsWith("/credentials/")
  );
}

function patchFailed(message: string): KratosError {
  return new KratosError(400, { reason: "failed to apply JSON patch", message });
}

/** The patched admin JSON of the identity; throws the 400 of step 2. */
export function patchedDocument(raw: Buffer | undefined, document: Record<string, unknown>): unknown {
  let operations: PatchOperation[];
  try {
    operations = readPatch(decodeFirstJSONValue(raw === undefined ? "" : raw.toString("utf8")));
  } catch (error) {
    if (error instanceof GoDecodeError || error instanceof PatchError) {
      throw patchFailed(error.message);
    }
    throw error;
  }
  for (const operation of operations) {
    if (!SUPPORTED_OPERATIONS.has(operation.op)) {
      throw patchFailed(`unsupported operation: ${operation.op}`);
    }
    if (isDeniedPath(operation.path)) {
      throw patchFailed(`patch includes denied path: ${operation.path}`);
    }
  }
  try {
    return applyPatch(document as JSONValue, operations);
  } catch (error) {
    if (error instanceof PatchError) {
      throw patchFailed(error.message);
    }
    throw error;
  }
}

/** A field of the patched document as a Go string field would read it; a type error otherwise. */
function stringField(document: Record<string, unknown>, field: string, goType: string): string {
  const value = document[field];
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") {
    throw patchFailed(
      `json: cannot unmarshal ${goJSONKind(value)} into Go struct field Identity.${field} of type ${goType}`,
    );
  }
  return value;
}

function verifiedFlag(document: Record<string, unknown>): boolean | undefined {
  const addresses = document["verifiable_addresses"];
  if (!Array.isArray(addresses) || typeof addresses[0] !== "object" || addresses[0] === null) {
    return undefined;
  }
  const verified = (addresses[0] as Record<string, unknown>)["verified"];
  if (verified !== undefined && verified !== null && typeof verified !== "boolean") {
    throw patchFailed(
      `json: cannot unmarshal ${goJSONKind(verified)} into Go struct field VerifiableAddress.verifiable_addresses.verified of type bool`,
    );
  }
  return typeof verified === "boolean" ? verified : undefined;
}

/**
 * Steps 3 and 4: the changes the patched document asks for, among `traits`, `state`, `schema_id`,
 * the metadata and `verifiable_addresses[0].verified`; everything else is discarded.
 */
export function changesOfPatchedDocument(user: User, patched: unknown): IdentityChanges {
  if (typeof patched !== "object" || patched === null || Array.isArray(patched)) {
    throw patchFailed(
      `json: cannot unmarshal ${goJSONKind(patched)} into Go value of type identity.Identity`,
    );
  }
  const document = patched as Record<string, unknown>;
  const state = stringField(document, "state", "identity.State");
  const schemaId = stringField(document, "schema_id", "string");
  const verified = verifiedFlag(document);
  const currentState = user.isActive ? "active" : "inactive";
  if (state !== currentState && state !== "active" && state !== "inactive") {
    throw KratosError.badRequest(
      `The supplied state ('${state}') was not valid. Valid states are ('active', 'inactive').`,
    );
  }
  checkSchemaId(schemaId);
  const traits = validateTraits(document["traits"] ?? null);
  if ("reason" in traits) {
    throw KratosError.badRequest(traits.reason);
  }
  return {
    email: traits.traits.email,
    name: traits.traits.name,
    isActive: state === "active",
    verified,
    metadataPublic: document["metadata_public"] ?? null,
    metadataAdmin: document["metadata_admin"] ?? null,
  };
}
