import type { Insertable, Kysely, Selectable } from "kysely";
import { insertRow } from "../db/database.js";
import { applyListQuery, applySearch, likePattern, type ListQuery, type Page } from "../db/listing.js";
import type { Database, EventTable } from "../db/schema.js";
import type { Actor, AuditEvent, EventApp, EventAction, EventField, EventStore, ModelRef } from "./store.js";
import { sql } from "kysely";

function toEvent(row: Selectable<EventTable>): AuditEvent {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    action: row.action as EventAction,
    app: row.app as EventApp,
    actor: JSON.parse(row.actor) as Actor,
    context: JSON.parse(row.context) as Record<string, unknown>,
    clientIP: row.client_ip,
    created: new Date(row.created),
    expires: new Date(row.expires),
  };
}

const ORDER: Record<EventField, string> = {
  created: "created",
  action: "action",
  app: "app",
  username: "username",
  client_ip: "client_ip",
};

export function sqlEventStore(db: Kysely<Database>): EventStore {
  return {
    async recordEvent(event) {
      const model = (event.context["model"] ?? null) as ModelRef | null;
      await insertRow(db, "event", {
        id: event.id,
        tenant_id: event.tenantId,
        action: event.action,
        app: event.app,
        actor: JSON.stringify(event.actor),
        username: event.actor.username,
        context: JSON.stringify(event.context),
        client_ip: event.clientIP,
        model_app: model?.app ?? null,
        model_name: model?.model_name ?? null,
        model_pk: model === null ? null : String(model.pk),
        created: event.created.getTime(),
        expires: event.expires.getTime(),
      } satisfies Insertable<EventTable>);
    },
    async findEvent(tenantId, id) {
      const row = await db
        .selectFrom("event")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .executeTakeFirst();
      return row === undefined ? null : toEvent(row);
    },
    async listEvents(tenantId, filters, query: ListQuery<EventField>): Promise<Page<AuditEvent>> {
      let base = db.selectFrom("event").where("tenant_id", "=", tenantId);
      if (filters.action !== undefined) {
        const pattern = likePattern(filters.action);
        base = base.where(sql<boolean>`lower(action) like ${pattern} escape '\\'`);
      }
      if (filters.clientIP !== undefined) base = base.where("client_ip", "=", filters.clientIP);
      if (filters.username !== undefined) base = base.where("username", "=", filters.username);
      if (filters.modelPk !== undefined)
        base = base.where("model_pk", "=", filters.modelPk.replaceAll("-", ""));
      if (filters.modelName !== undefined) base = base.where("model_name", "=", filters.modelName);
      if (filters.modelApp !== undefined) base = base.where("model_app", "=", filters.modelApp);
      const search = ["action", "app", "username", "client_ip"];
      const count = await applySearch(base, query.search, search)
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      const rows = await applyListQuery(base.selectAll(), query, {
        search,
        order: ORDER,
        primaryKey: "id",
      }).execute();
      return { total: Number(count.n), rows: rows.map(toEvent) };
    },
    async purgeExpiredEvents(now) {
      const result = await db.deleteFrom("event").where("expires", "<=", now.getTime()).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
