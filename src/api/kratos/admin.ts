import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
} from "fastify";
import { sha256Hex } from "../../crypto/secrets.js";
import {
  CredentialNotFound,
  IdentityConflict,
  IdentityError,
  LastFirstFactor,
} from "../../identities/errors.js";
import { type SecondFactorSource, storedSecondFactors } from "../../identities/credentials.js";
import { isSuperuser } from "../../users/store.js";
import { bearerCredential } from "../authentik/auth.js";
import type { ApiDeps } from "../authentik/deps.js";
import { KratosError, kratosErrorHandler } from "./errors.js";
import { identityRoutes } from "./admin-identities.js";
import { recoveryAdminRoutes } from "./admin-recovery.js";

/** Kratos' admin routes are served under both prefixes (kratos.md §1, K1). */
export const ADMIN_PREFIXES = ["/admin", "/iam"] as const;

/**
 * Step 1 of every admin route (kratos.md §2.3, K2): an unexpired `api` token of an active superuser
 * of the request's tenant. Known keys are cached as on /api/v3 (tokens/credentials.ts).
 */
export function authenticateAdmin(deps: ApiDeps): (request: FastifyRequest) => Promise<void> {
  return async function authenticateAdmin(request: FastifyRequest): Promise<void> {
    const key = bearerCredential(request.headers.authorization);
    if (key === null) {
      throw new KratosError(401, { reason: "No API token was found in the Authorization header." });
    }
    const keyHash = sha256Hex(key);
    let owner = deps.credentials.lookup(request.tenant.id, keyHash);
    if (owner === null) {
      const generation = deps.credentials.currentGeneration();
      const found = await deps.persistence.stores.tokens.findAPICredential(
        request.tenant.id,
        keyHash,
        deps.clock.now(),
      );
      if (found === null) {
        throw new KratosError(401, { reason: "The API token is invalid or has expired." });
      }
      deps.credentials.remember(request.tenant.id, keyHash, found.owner, found.expires, generation);
      owner = found.owner;
    }
    if (!isSuperuser(owner)) {
      throw new KratosError(403, { reason: "The API token's owner is not allowed to use the admin API." });
    }
    request.user = owner;
  };
}

/** The identity rules' refusals in Kratos' words (kratos.md §3.1.2, §3.1.5, §3.1.6). */
function kratosErrorOfIdentity(error: IdentityError): KratosError {
  if (error instanceof IdentityConflict) {
    return error.operation === "create"
      ? new KratosError(409, { reason: "This identity conflicts with another identity that already exists." })
      : new KratosError(409, {
          message: "Unable to insert or update resource because a resource with that value exists already",
        });
  }
  if (error instanceof CredentialNotFound) {
    const type = error.credentialType;
    return new KratosError(404, {
      reason: `You tried to remove a ${type} but this user have no ${type} set up.`,
    });
  }
  if (error instanceof LastFirstFactor) {
    return KratosError.badRequest("You cannot remove the last first factor credential.");
  }
  return new KratosError(500, {}, { cause: error });
}

function adminErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const rendered = error instanceof IdentityError ? kratosErrorOfIdentity(error) : error;
  return kratosErrorHandler(rendered as FastifyError, request, reply);
}

/**
 * Bodies reach the handlers as raw bytes, whatever their media type: the recovery routes decode
 * them as Kratos does (kratos.md §2.8) and the identity routes as Go's strict decoder does, each
 * with Go's own error texts, which Fastify's parsers cannot give.
 */
function rawBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => {
    done(null, body);
  });
}

function adminScope(deps: ApiDeps, secondFactors: SecondFactorSource): FastifyPluginAsync {
  return async function kratosAdminScope(app): Promise<void> {
    rawBodies(app);
    app.setErrorHandler(adminErrorHandler);
    app.setNotFoundHandler(async function kratosNotFound() {
      throw new KratosError(404, {});
    });
    const authenticate = authenticateAdmin(deps);
    identityRoutes(app, deps, { authenticate, secondFactors });
    recoveryAdminRoutes(app, deps, authenticate);
  };
}

/**
 * Ory Kratos' admin API (kratos.md §3.1–3.3) under /admin and /iam. `secondFactors` says where TOTP
 * devices and backup codes come from (the authenticator stores unless told otherwise).
 */
export function kratosAdminPlugin(
  deps: ApiDeps,
  options?: { secondFactors?: SecondFactorSource },
): FastifyPluginAsync {
  const secondFactors = options?.secondFactors ?? storedSecondFactors;
  return async function kratosAdminPlugin(app): Promise<void> {
    for (const prefix of ADMIN_PREFIXES) {
      await app.register(adminScope(deps, secondFactors), { prefix });
    }
  };
}
