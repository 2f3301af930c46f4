import type { ListQuery, Page } from "../db/listing.js";

/** Who did it: the authenticated user, the user being recovered, or the system (pk 0). */
export interface Actor {
  pk: number;
  username: string;
  email: string;
}

export const SYSTEM_ACTOR: Actor = { pk: 0, username: "rekey:system", email: "" };

/** A reference to an object, as audit events name it. */
export interface ModelRef {
  app: string;
  model_name: string;
  pk: number | string;
  name: string;
}

export type EventAction =
  | "model_created"
  | "model_updated"
  | "model_deleted"
  | "secret_view"
  | "secret_rotate"
  | "password_set"
  | "email_sent"
  | "login"
  | "login_failed"
  | "logout"
  | "recovery_link_created"
  | "recovery_key_created"
  | "recovery_code_created"
  | "recovery_succeeded"
  | "recovery_failed";

export type EventApp = "rekey.api" | "rekey.recovery" | "rekey.kratos" | "rekey.mail" | "rekey.tasks";

export interface AuditEvent {
  id: string;
  tenantId: string;
  action: EventAction;
  app: EventApp;
  actor: Actor;
  context: Record<string, unknown>;
  clientIP: string | null;
  created: Date;
  expires: Date;
}

export type EventField = "created" | "action" | "app" | "username" | "client_ip";

export interface EventFilters {
  /** Case-insensitive substring of the action. */
  action?: string;
  clientIP?: string;
  username?: string;
  modelPk?: string;
  modelName?: string;
  modelApp?: string;
}

export interface EventStore {
  /** Appends an event; call it on the transaction of the change it records. */
  recordEvent(event: AuditEvent): Promise<void>;
  findEvent(tenantId: string, id: string): Promise<AuditEvent | null>;
  listEvents(
    tenantId: string,
    filters: EventFilters,
    query: ListQuery<EventField>,
  ): Promise<Page<AuditEvent>>;
  /** Deletes events whose retention has passed; returns how many. */
  purgeExpiredEvents(now: Date): Promise<number>;
}
