import type { FastifyReply, FastifyRequest } from "fastify";
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
 *
 * A callback hook, not an async one: on a credential-cache hit (nearly every call) it finishes
 * without creating a promise; only a miss waits for the database.
 */
export function authenticateBearer(deps: CoreDeps) {
  async function fromDatabase(request: FastifyRequest, keyHash: string): Promise<void> {
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
  }

  return function authenticateBearer(
    request: FastifyRequest,
    _reply: FastifyReply,
    done: (error?: Error) => void,
  ): void {
    const key = bearerCredential(request.headers.authorization);
    if (key === null) {
      done(new NotAuthenticated());
      return;
    }
    const keyHash = sha256Hex(key);
    const cached = deps.credentials.lookup(request.tenant.id, keyHash);
    if (cached !== null) {
      request.user = cached;
      done();
      return;
    }
    fromDatabase(request, keyHash).then(() => done(), done);
  };
}

/** Route permission for superuser-only endpoints, checked before any object lookup. */
export function requireSuperuser(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: (error?: Error) => void,
): void {
  done(request.user === null || !isSuperuser(request.user) ? new PermissionDenied() : undefined);
}
