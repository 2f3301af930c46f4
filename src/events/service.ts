import type { CoreDeps } from "../deps.js";
import type { Actor, AuditEvent, EventAction, EventApp, EventStore, ModelRef } from "./store.js";

const RETENTION_MS = 365 * 86_400_000;

/** Who acted and from where, handed from the edge to every service that records events. */
export interface Audit {
  tenantId: string;
  actor: Actor;
  clientIP: string | null;
  /** `{path, method, args, user_agent}` of the request that caused the event; null off-request. */
  httpRequest: Record<string, unknown> | null;
  app: EventApp;
}

/** Writes one audit event through `events`, which must be bound to the transaction of the change. */
export async function recordEvent(
  deps: Pick<CoreDeps, "clock" | "random">,
  events: EventStore,
  audit: Audit,
  action: EventAction,
  context: Record<string, unknown>,
): Promise<AuditEvent> {
  const created = deps.clock.now();
  const event: AuditEvent = {
    // Time-ordered (§3.7 only asks for a uuid): each insert lands at the end of the primary-key index
    // rather than on a random page that then splits.
    id: deps.random.uuidv7(created),
    tenantId: audit.tenantId,
    action,
    app: audit.app,
    actor: audit.actor,
    context: audit.httpRequest === null ? context : { ...context, http_request: audit.httpRequest },
    clientIP: audit.clientIP,
    created,
    expires: new Date(created.getTime() + RETENTION_MS),
  };
  await events.recordEvent(event);
  return event;
}

/** Model references as authentik's events name them (authentik-v3.md §3.7). */
export function userRef(user: { id: number; username: string }): ModelRef {
  return { app: "authentik_core", model_name: "user", pk: user.id, name: user.username };
}

export function groupRef(group: { uuid: string; name: string }): ModelRef {
  return { app: "authentik_core", model_name: "group", pk: group.uuid.replaceAll("-", ""), name: group.name };
}

export function tokenRef(token: { id: string; identifier: string }): ModelRef {
  return {
    app: "authentik_core",
    model_name: "token",
    pk: token.id.replaceAll("-", ""),
    name: token.identifier,
  };
}

export function tenantRef(tenant: { id: string; name: string }): ModelRef {
  return {
    app: "authentik_tenants",
    model_name: "tenant",
    pk: tenant.id.replaceAll("-", ""),
    name: tenant.name,
  };
}

export function domainRef(domain: { id: number; domain: string }): ModelRef {
  return { app: "authentik_tenants", model_name: "domain", pk: domain.id, name: domain.domain };
}
