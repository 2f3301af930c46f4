import type { FastifyRequest } from "fastify";
import type { AppError } from "../errors.js";
import type { Audit } from "../events/service.js";
import type { EventApp } from "../events/store.js";
import { SYSTEM_ACTOR } from "../events/store.js";
import type { Tenant } from "../tenants/store.js";
import type { User } from "../users/store.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The tenant resolved from the Host header (set for every request). */
    tenant: Tenant;
    /** The authenticated user of an /api/v3 request; null before authentication. */
    user: User | null;
    /** The request carried no body at all (not even an empty JSON object). */
    bodyAbsent: boolean;
    /** Why the body could not be read (malformed JSON, another media type); raised when the route reads it. */
    bodyError: AppError | null;
  }
}

/** The authenticated user; only call after the authentication step has run. */
export function authenticatedUser(request: FastifyRequest): User {
  if (request.user === null) {
    throw new Error("authenticatedUser called before authentication");
  }
  return request.user;
}

/** Who did what from where, for the audit events of this request. */
export function auditOf(request: FastifyRequest, app: EventApp, tenant: Tenant = request.tenant): Audit {
  const user = request.user;
  return {
    tenantId: tenant.id,
    actor: user === null ? SYSTEM_ACTOR : { pk: user.id, username: user.username, email: user.email },
    clientIP: request.ip ?? null,
    httpRequest: {
      path: request.url.split("?")[0],
      method: request.method,
      args: request.query ?? {},
      user_agent: request.headers["user-agent"] ?? "",
    },
    app,
  };
}

/** Origin (`scheme://host`) the client used, for links when a tenant has no primary domain. */
export function requestOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}
