import type { FastifyRequest } from "fastify";
import { sha256Hex } from "../../crypto/secrets.js";
import type { CoreDeps } from "../../deps.js";
import { CredentialInvalid, NotAuthenticated, PermissionDenied } from "../../errors.js";
import { isSuperuser } from "../../users/store.js";

/**
 * The key of `Authorization: Bearer <key>`: scheme case-insensitive, exactly one credential.
 * Null for no header, another scheme, or a malformed credential (authentik-v3.md §2.3).
 */
export function bearerCredential(header: string | undefined): string | null {
  if (header === undefined) {
    return null;
  }
  const parts = header.split(" ").filter((part) => part !== "");
  if (parts.length !== 2 || parts[0]!.toLowerCase() !== "bearer") {
    return null;
  }
  return parts[1]!;
}

/**
 * Step 1 of every /api/v3 route: the caller must present an unexpired `api` token of an active user
 * of this tenant. authentik answers 403, not 401: its TokenAuthentication sets no WWW-Authenticate
 * header, so DRF turns 401 into 403 (authentik/api/authentication.py).
 */
export function authenticateBearer(deps: CoreDeps) {
  return async function authenticateBearer(request: FastifyRequest): Promise<void> {
    const key = bearerCredential(request.headers.authorization);
    if (key === null) {
      throw new NotAuthenticated();
    }
    const keyHash = sha256Hex(key);
    const cached = deps.credentials.lookup(request.tenant.id, keyHash);
    if (cached !== null) {
      request.user = cached;
      return;
    }
    const generation = deps.credentials.currentGeneration();
    const found = await deps.persistence.stores.tokens.findAPICredential(
      request.tenant.id,
      keyHash,
      deps.clock.now(),
    );
    if (found === null) {
      throw new CredentialInvalid();
    }
    deps.credentials.remember(request.tenant.id, keyHash, found.owner, found.expires, generation);
    request.user = found.owner;
  };
}

/** Route permission for superuser-only endpoints, checked before any object lookup. */
export async function requireSuperuser(request: FastifyRequest): Promise<void> {
  if (request.user === null || !isSuperuser(request.user)) {
    throw new PermissionDenied();
  }
}
