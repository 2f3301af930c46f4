import { type InferResult, type Kysely, type Selectable, sql } from "kysely";
import { executeCached } from "../db/database.js";
import type { Database, SessionTable } from "../db/schema.js";
import { groupsOfUsers, toUser, type UserRow } from "../users/store.sql.js";
import type {
  AssuranceLevel,
  Session,
  SessionDevice,
  SessionKind,
  SessionStore,
  SessionWithIdentity,
} from "./store.js";

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

/**
 * Whether an aal1 session's user has a second factor: the rules of `hasSecondFactor` (a confirmed
 * TOTP device, or a backup code not yet used), asked of the joined row instead of in a query of its
 * own. An aal2 session needs nothing more, whatever the user has.
 */
const NEEDS_SECOND_FACTOR = sql<boolean | number>`(s.aal <> 'aal2' and (
  exists (select 1 from totp_device
    where totp_device.tenant_id = s.tenant_id and totp_device.user_id = s.user_id and totp_device.confirmed = 1)
  or exists (select 1 from static_device d join static_token t on t.device_id = d.id
    where d.tenant_id = s.tenant_id and d.user_id = s.user_id and t.used_at is null)))`;

type SessionWithIdentityParameters = [
  tenantId: string,
  tokenHash: string,
  expiresAfter: number,
  seenAfter: number,
];

function sessionWithIdentityQuery(db: Kysely<Database>, parameters: SessionWithIdentityParameters) {
  const [tenantId, tokenHash, expiresAfter, seenAfter] = parameters;
  return db
    .selectFrom("session as s")
    .innerJoin("user as u", (join) =>
      join.onRef("u.id", "=", "s.user_id").onRef("u.tenant_id", "=", "s.tenant_id"),
    )
    .selectAll("s")
    .select([
      "u.uuid as u_uuid",
      "u.username as u_username",
      "u.name as u_name",
      "u.email as u_email",
      "u.email_verified as u_email_verified",
      "u.is_active as u_is_active",
      "u.last_login as u_last_login",
      "u.date_joined as u_date_joined",
      "u.password_change_date as u_password_change_date",
      "u.last_updated as u_last_updated",
      "u.attributes as u_attributes",
      "u.path as u_path",
      "u.type as u_type",
      "u.state_changed_at as u_state_changed_at",
      "u.email_verified_at as u_email_verified_at",
      "u.metadata_public as u_metadata_public",
      "u.metadata_admin as u_metadata_admin",
      NEEDS_SECOND_FACTOR.as("needs_second_factor"),
    ])
    .where("s.tenant_id", "=", tenantId)
    .where("s.token_hash", "=", tokenHash)
    .where("s.revoked_at", "is", null)
    .where("s.expires_at", ">", expiresAfter)
    .where("s.last_seen_at", ">", seenAfter);
}

type SessionWithIdentityRow = InferResult<ReturnType<typeof sessionWithIdentityQuery>>[number];

/** The session-and-user read (whoami, signed-in flows); its SQL is built once per dialect. */
async function sessionWithIdentity(
  db: Kysely<Database>,
  parameters: SessionWithIdentityParameters,
): Promise<SessionWithIdentityRow | undefined> {
  const result = await executeCached(db, "session with identity", parameters, () =>
    sessionWithIdentityQuery(db, parameters).compile(),
  );
  return result.rows[0];
}

function toSessionWithIdentity(row: SessionWithIdentityRow): SessionWithIdentity {
  // The hash column stays out of the user: toUser never reads it, and it must not travel further.
  const userRow: UserRow = {
    id: row.user_id,
    tenant_id: row.tenant_id,
    uuid: row.u_uuid,
    username: row.u_username,
    name: row.u_name,
    email: row.u_email,
    email_verified: row.u_email_verified,
    is_active: row.u_is_active,
    last_login: row.u_last_login,
    date_joined: row.u_date_joined,
    password_hash: null,
    password_change_date: row.u_password_change_date,
    last_updated: row.u_last_updated,
    attributes: row.u_attributes,
    path: row.u_path,
    type: row.u_type,
    state_changed_at: row.u_state_changed_at,
    email_verified_at: row.u_email_verified_at,
    metadata_public: row.u_metadata_public,
    metadata_admin: row.u_metadata_admin,
  };
  const { groups: _groups, ...user } = toUser(userRow, []);
  const needs = row.needs_second_factor;
  return {
    session: toSession(row),
    user,
    // PostgreSQL answers a boolean, SQLite 0 or 1.
    needsSecondFactor: needs === true || Number(needs) === 1,
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
    async findActiveSessionWithIdentity(tenantId, tokenHash, now, idleMs) {
      const row = await sessionWithIdentity(db, [tenantId, tokenHash, now.getTime(), now.getTime() - idleMs]);
      return row === undefined ? null : toSessionWithIdentity(row);
    },
    async findActiveSessionWithUser(tenantId, tokenHash, now, idleMs) {
      const row = await sessionWithIdentity(db, [tenantId, tokenHash, now.getTime(), now.getTime() - idleMs]);
      if (row === undefined) {
        return null;
      }
      const { user, ...found } = toSessionWithIdentity(row);
      const groups = await groupsOfUsers(db, [user.id]);
      return { ...found, user: { ...user, groups: groups.get(user.id) ?? [] } };
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
