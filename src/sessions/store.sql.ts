import type { Kysely, Selectable } from "kysely";
import type { Database, SessionTable } from "../db/schema.js";
import type { AssuranceLevel, Session, SessionDevice, SessionKind, SessionStore } from "./store.js";

function toDevice(row: Selectable<SessionTable>): SessionDevice | null {
  if (row.device_id === null) {
    return null;
  }
  return { id: row.device_id, ipAddress: row.ip_address, userAgent: row.user_agent };
}

function toSession(row: Selectable<SessionTable>): Session {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    kind: row.kind as SessionKind,
    aal: row.aal as AssuranceLevel,
    authMethods: JSON.parse(row.auth_methods) as string[],
    authenticatedAt: new Date(row.authenticated_at),
    issuedAt: new Date(row.issued_at),
    expiresAt: new Date(row.expires_at),
    lastSeenAt: new Date(row.last_seen_at),
    device: toDevice(row),
  };
}

export function sqlSessionStore(db: Kysely<Database>): SessionStore {
  return {
    async createSession(session, tokenHash) {
      await db
        .insertInto("session")
        .values({
          id: session.id,
          tenant_id: session.tenantId,
          user_id: session.userId,
          token_hash: tokenHash,
          kind: session.kind,
          aal: session.aal,
          auth_methods: JSON.stringify(session.authMethods),
          authenticated_at: session.authenticatedAt.getTime(),
          issued_at: session.issuedAt.getTime(),
          expires_at: session.expiresAt.getTime(),
          last_seen_at: session.lastSeenAt.getTime(),
          revoked_at: null,
          device_id: session.device?.id ?? null,
          ip_address: session.device?.ipAddress ?? null,
          user_agent: session.device?.userAgent ?? null,
        })
        .execute();
    },
    async findActiveSession(tenantId, tokenHash, now, idleMs) {
      const row = await db
        .selectFrom("session")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("token_hash", "=", tokenHash)
        .where("revoked_at", "is", null)
        .where("expires_at", ">", now.getTime())
        .where("last_seen_at", ">", now.getTime() - idleMs)
        .executeTakeFirst();
      return row === undefined ? null : toSession(row);
    },
    async touchSession(id, now) {
      await db.updateTable("session").set({ last_seen_at: now.getTime() }).where("id", "=", id).execute();
    },
    async elevateSession(id, aal, authMethods, now) {
      await db
        .updateTable("session")
        .set({
          aal,
          auth_methods: JSON.stringify(authMethods),
          authenticated_at: now.getTime(),
          last_seen_at: now.getTime(),
        })
        .where("id", "=", id)
        .execute();
    },
    async revokeSession(tenantId, id, now) {
      await db
        .updateTable("session")
        .set({ revoked_at: now.getTime() })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .where("revoked_at", "is", null)
        .execute();
    },
    async revokeUserSessions(tenantId, userId, now, options) {
      let q = db
        .updateTable("session")
        .set({ revoked_at: now.getTime() })
        .where("tenant_id", "=", tenantId)
        .where("user_id", "=", userId)
        .where("revoked_at", "is", null);
      if (options?.exceptId !== undefined) {
        q = q.where("id", "!=", options.exceptId);
      }
      const result = await q.executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
  };
}
