import { createHash } from "node:crypto";
import { CREDENTIAL_TYPES, type IdentityCredentials } from "../../identities/credentials.js";
import type { UserProfile } from "../../users/store.js";
import { formatKratosTime } from "./format.js";

export type {
  CredentialType,
  IdentityCredential,
  IdentityCredentials,
} from "../../identities/credentials.js";
import { traitsOf } from "../../identities/service.js";

/** `schema_url` of the one identity schema, `default` (base64url `ZGVmYXVsdA`). */
export function schemaURL(publicURL: string): string {
  return `${publicURL.replace(/\/+$/, "")}/schemas/ZGVmYXVsdA`;
}

/**
 * A UUID derived from the user, the address kind and the lower-cased email: stable while the email
 * is unchanged, new when it changes, with no table of its own (an address is the user's email).
 */
export function addressId(userUUID: string, kind: "verifiable" | "recovery", email: string): string {
  const hex = createHash("sha256").update(`${userUUID}\n${kind}\n${email.toLowerCase()}`).digest("hex");
  // RFC 9562 layout: version 8 (custom), variant 10.
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function serializeCredentials(credentials: IdentityCredentials): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // Go marshals map keys sorted: lookup_secret, password, totp.
  const sorted = [...CREDENTIAL_TYPES].sort();
  for (const type of sorted) {
    const credential = credentials[type];
    if (credential === undefined) {
      continue;
    }
    out[type] = {
      type,
      identifiers: credential.identifiers,
      version: 0,
      created_at: formatKratosTime(credential.createdAt),
      updated_at: formatKratosTime(credential.updatedAt),
    };
  }
  return out;
}

function serializeAddresses(user: UserProfile): { verifiable: unknown[]; recovery: unknown[] } {
  if (user.email === "") {
    return { verifiable: [], recovery: [] };
  }
  const value = user.email.toLowerCase();
  const createdAt = formatKratosTime(user.dateJoined);
  const updatedAt = formatKratosTime(user.lastUpdated);
  const verifiable: Record<string, unknown> = {
    id: addressId(user.uuid, "verifiable", value),
    value,
    verified: user.emailVerified,
    via: "email",
    status: user.emailVerified ? "completed" : "pending",
  };
  if (user.emailVerified && user.emailVerifiedAt !== null) {
    verifiable["verified_at"] = formatKratosTime(user.emailVerifiedAt);
  }
  verifiable["created_at"] = createdAt;
  verifiable["updated_at"] = updatedAt;
  const recovery = {
    id: addressId(user.uuid, "recovery", value),
    value,
    via: "email",
    created_at: createdAt,
    updated_at: updatedAt,
  };
  return { verifiable: [verifiable], recovery: [recovery] };
}

/**
 * The `identity` object of kratos.md §3.1.1, keys in Kratos' order. `admin: false` (whoami, settings
 * flows) leaves out `metadata_admin`; `credentials` appear only when given (admin routes).
 */
export function serializeIdentity(
  publicURL: string,
  user: UserProfile,
  options: { credentials?: IdentityCredentials | null; admin: boolean },
): Record<string, unknown> {
  const out: Record<string, unknown> = { id: user.uuid };
  if (options.admin && options.credentials !== undefined && options.credentials !== null) {
    out["credentials"] = serializeCredentials(options.credentials);
  }
  out["schema_id"] = "default";
  out["schema_url"] = schemaURL(publicURL);
  out["state"] = user.isActive ? "active" : "inactive";
  out["state_changed_at"] = formatKratosTime(user.stateChangedAt ?? user.dateJoined);
  out["traits"] = traitsOf(user);
  const addresses = serializeAddresses(user);
  if (addresses.verifiable.length > 0) out["verifiable_addresses"] = addresses.verifiable;
  if (addresses.recovery.length > 0) out["recovery_addresses"] = addresses.recovery;
  out["metadata_public"] = user.metadataPublic ?? null;
  if (options.admin && user.metadataAdmin !== null && user.metadataAdmin !== undefined) {
    out["metadata_admin"] = user.metadataAdmin;
  }
  out["created_at"] = formatKratosTime(user.dateJoined);
  out["updated_at"] = formatKratosTime(user.lastUpdated);
  return out;
}
