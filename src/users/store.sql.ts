import { type Kysely, PostgresAdapter, type Selectable, sql } from "kysely";
import { isUniqueViolation } from "../db/errors.js";
import { applyListQuery, applySearch, type ListQuery, type Page } from "../db/listing.js";
import type { Database, UserTable } from "../db/schema.js";
import type {
  Attributes,
  Group,
  GroupField,
  GroupFilters,
  GroupStore,
  GroupSummary,
  User,
  UserField,
  UserFilters,
  UserStore,
  UserProfile,
  UserType,
} from "./store.js";

export type UserRow = Selectable<UserTable>;

function parseAttributes(text: string): Attributes {
  const value: unknown = JSON.parse(text);
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Attributes) : {};
}

export function toUser(row: UserRow, groups: GroupSummary[]): User {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    uuid: row.uuid,
    username: row.username,
    name: row.name,
    email: row.email,
    emailVerified: row.email_verified === 1,
    isActive: row.is_active === 1,
    lastLogin: row.last_login === null ? null : new Date(row.last_login),
    dateJoined: new Date(row.date_joined),
    passwordChangeDate: new Date(row.password_change_date),
    lastUpdated: new Date(row.last_updated),
    attributes: parseAttributes(row.attributes),
    path: row.path,
    type: row.type as UserType,
    groups,
    stateChangedAt: row.state_changed_at === null ? null : new Date(Number(row.state_changed_at)),
    emailVerifiedAt: row.email_verified_at === null ? null : new Date(Number(row.email_verified_at)),
    metadataPublic: parseMetadata(row.metadata_public),
    metadataAdmin: parseMetadata(row.metadata_admin),
  };
}

/** Kratos metadata is any JSON; SQL NULL (and JSON null) mean unset. */
function parseMetadata(text: string | null): unknown {
  return text === null ? null : (JSON.parse(text) as unknown);
}

function metadataText(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/**
 * User ids are PostgreSQL `serial` (int4): a number outside it (a client may send 2^31 or 1e300)
 * names no row, and putting it in a query would be an error there rather than "not found".
 */
function isStorableId(id: number): boolean {
  return Number.isSafeInteger(id) && id >= -2_147_483_648 && id <= 2_147_483_647;
}

/** Groups of many users in one query, keyed by user id (no N+1 on lists). */
export async function groupsOfUsers(
  db: Kysely<Database>,
  userIds: number[],
): Promise<Map<number, GroupSummary[]>> {
  const byUser = new Map<number, GroupSummary[]>();
  if (userIds.length === 0) {
    return byUser;
  }
  const rows = await db
    .selectFrom("group_member")
    .innerJoin("group", "group.id", "group_member.group_id")
    .select([
      "group_member.user_id",
      "group.id",
      "group.uuid",
      "group.name",
      "group.is_superuser",
      "group.attributes",
    ])
    .where("group_member.user_id", "in", userIds)
    .orderBy("group.name")
    .execute();
  for (const row of rows) {
    const list = byUser.get(row.user_id) ?? [];
    list.push({
      id: row.id,
      uuid: row.uuid,
      name: row.name,
      isSuperuser: row.is_superuser === 1,
      attributes: parseAttributes(row.attributes),
    });
    byUser.set(row.user_id, list);
  }
  return byUser;
}

function toProfile(row: UserRow): UserProfile {
  const { groups: _groups, ...profile } = toUser(row, []);
  return profile;
}

async function withGroups(db: Kysely<Database>, rows: UserRow[]): Promise<User[]> {
  const groups = await groupsOfUsers(
    db,
    rows.map((row) => row.id),
  );
  return rows.map((row) => toUser(row, groups.get(row.id) ?? []));
}

const USER_ORDER: Record<UserField, string> = {
  username: "username",
  name: "name",
  email: "email",
  is_active: "is_active",
  date_joined: "date_joined",
  last_login: "last_login",
  pk: "id",
  path: "path",
  type: "type",
};

export function sqlUserStore(db: Kysely<Database>): UserStore {
  function filtered(tenantId: string, filters: UserFilters) {
    let q = db.selectFrom("user").where("user.tenant_id", "=", tenantId);
    const lists: [keyof UserFilters, "username" | "email" | "name" | "uuid" | "path" | "type"][] = [
      ["username", "username"],
      ["email", "email"],
      ["name", "name"],
      ["uuid", "uuid"],
      ["path", "path"],
      ["type", "type"],
    ];
    for (const [key, column] of lists) {
      const values = filters[key] as string[] | undefined;
      if (values !== undefined && values.length > 0) {
        q = q.where(`user.${column}`, "in", values);
      }
    }
    if (filters.isActive !== undefined) {
      q = q.where("user.is_active", "=", filters.isActive ? 1 : 0);
    }
    if (filters.isSuperuser !== undefined) {
      const superuserIds = db
        .selectFrom("group_member")
        .innerJoin("group", "group.id", "group_member.group_id")
        .select("group_member.user_id")
        .where("group.is_superuser", "=", 1);
      q = q.where("user.id", filters.isSuperuser ? "in" : "not in", superuserIds);
    }
    return q;
  }

  async function one(
    tenantId: string,
    column: "id" | "username",
    value: number | string,
  ): Promise<User | null> {
    if (column === "id" && !isStorableId(value as number)) {
      return null;
    }
    const row = await db
      .selectFrom("user")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where(column, "=", value as never)
      .executeTakeFirst();
    return row === undefined ? null : ((await withGroups(db, [row]))[0] ?? null);
  }

  function usersByEmail(tenantId: string, email: string): Promise<UserRow[]> {
    return db
      .selectFrom("user")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where((eb) => eb(eb.fn("lower", ["email"]), "=", email.toLowerCase()))
      .where("email", "!=", "")
      .orderBy("id")
      .limit(10)
      .execute();
  }

  /** Only the tenant's own groups, each once: a membership never crosses tenants. */
  async function setGroups(tenantId: string, userId: number, groupIds: number[]): Promise<void> {
    await db.deleteFrom("group_member").where("user_id", "=", userId).execute();
    const groups =
      groupIds.length === 0
        ? []
        : await db
            .selectFrom("group")
            .select("id")
            .where("tenant_id", "=", tenantId)
            .where("id", "in", groupIds)
            .execute();
    if (groups.length > 0) {
      await db
        .insertInto("group_member")
        .values(groups.map((group) => ({ group_id: group.id, user_id: userId })))
        .execute();
    }
  }

  return {
    findUser: (tenantId, id) => one(tenantId, "id", id),
    async findUserProfile(tenantId, id) {
      if (!isStorableId(id)) {
        return null;
      }
      const row = await db
        .selectFrom("user")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .executeTakeFirst();
      return row === undefined ? null : toProfile(row);
    },
    findUserByUsername: (tenantId, username) => one(tenantId, "username", username),
    async findUsersByEmail(tenantId, email) {
      return withGroups(db, await usersByEmail(tenantId, email));
    },
    async findUserProfilesByEmail(tenantId, email) {
      return (await usersByEmail(tenantId, email)).map(toProfile);
    },
    async findSignInUser(tenantId, identifier) {
      const byName = await db
        .selectFrom("user")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("username", "=", identifier)
        .executeTakeFirst();
      const byEmail =
        byName !== undefined || !identifier.includes("@") ? [] : await usersByEmail(tenantId, identifier);
      const row = byName ?? (byEmail.length === 1 ? byEmail[0] : undefined);
      return row === undefined ? null : { user: toProfile(row), passwordHash: row.password_hash ?? null };
    },
    async findUserByUUID(tenantId, uuid) {
      const row = await db
        .selectFrom("user")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("uuid", "=", uuid)
        .executeTakeFirst();
      return row === undefined ? null : ((await withGroups(db, [row]))[0] ?? null);
    },
    async findUsersByIdentifier(tenantId, identifier) {
      const lower = identifier.toLowerCase();
      const rows = await db
        .selectFrom("user")
        .selectAll()
        // The tenant in each branch, so each can be answered from its own (tenant_id, lower(…)) index.
        .where((eb) =>
          eb.or([
            eb.and([eb("tenant_id", "=", tenantId), eb(eb.fn("lower", ["username"]), "=", lower)]),
            eb.and([eb("tenant_id", "=", tenantId), eb(eb.fn("lower", ["email"]), "=", lower)]),
          ]),
        )
        .orderBy("id")
        .limit(10)
        .execute();
      return withGroups(db, rows);
    },
    async listUsersByUUID(tenantId, options) {
      if (options.uuids !== undefined && options.uuids.length === 0) {
        return [];
      }
      let q = db
        .selectFrom("user")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("uuid", ">", options.after);
      if (options.uuids !== undefined) {
        q = q.where("uuid", "in", options.uuids);
      }
      const rows = await q.orderBy("uuid").limit(options.limit).execute();
      return withGroups(db, rows);
    },
    async lockIdentifier(tenantId, identifier) {
      if (db.getExecutor().adapter instanceof PostgresAdapter) {
        const key = `user-identifier:${tenantId}:${identifier.toLowerCase()}`;
        await sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(db);
      }
    },
    async passwordDates(tenantId, ids) {
      const unique = [...new Set(ids)];
      if (unique.length === 0) {
        return new Map();
      }
      const rows = await db
        .selectFrom("user")
        .select(["id", "password_change_date"])
        .where("tenant_id", "=", tenantId)
        .where("id", "in", unique)
        .where("password_hash", "is not", null)
        .execute();
      return new Map(rows.map((row) => [row.id, new Date(row.password_change_date)]));
    },
    async findUsers(tenantId, ids) {
      const unique = [...new Set(ids.filter(isStorableId))];
      if (unique.length === 0) {
        return new Map();
      }
      const rows = await db
        .selectFrom("user")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("id", "in", unique)
        .execute();
      return new Map((await withGroups(db, rows)).map((user) => [user.id, user]));
    },
    async listUsers(tenantId, filters, query: ListQuery<UserField>): Promise<Page<User>> {
      const search = ["user.username", "user.name", "user.email"];
      const count = await applySearch(filtered(tenantId, filters), query.search, search)
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      const rows = await applyListQuery(filtered(tenantId, filters).selectAll("user"), query, {
        search,
        order: USER_ORDER,
        primaryKey: "user.id",
      }).execute();
      return { total: Number(count.n), rows: await withGroups(db, rows) };
    },
    async createUser(tenantId, user, now) {
      const at = now.getTime();
      try {
        const row = await db
          .insertInto("user")
          .values({
            tenant_id: tenantId,
            uuid: user.uuid,
            username: user.username,
            name: user.name,
            email: user.email,
            email_verified: 0,
            is_active: user.isActive ? 1 : 0,
            last_login: user.lastLogin?.getTime() ?? null,
            date_joined: at,
            password_hash: null,
            password_change_date: at,
            last_updated: at,
            attributes: JSON.stringify(user.attributes),
            path: user.path,
            type: user.type,
            metadata_public: metadataText(user.metadataPublic),
            metadata_admin: metadataText(user.metadataAdmin),
          })
          .returning("id")
          .executeTakeFirstOrThrow();
        await setGroups(tenantId, row.id, user.groupIds);
        return one(tenantId, "id", row.id);
      } catch (error) {
        if (isUniqueViolation(error)) {
          return null;
        }
        throw error;
      }
    },
    async updateUser(tenantId, id, changes, now) {
      const set: Partial<UserRow> = { last_updated: now.getTime() };
      if (changes.username !== undefined) set.username = changes.username;
      if (changes.name !== undefined) set.name = changes.name;
      if (changes.email !== undefined) set.email = changes.email;
      if (changes.emailVerified !== undefined) set.email_verified = changes.emailVerified ? 1 : 0;
      if (changes.isActive !== undefined) set.is_active = changes.isActive ? 1 : 0;
      if (changes.lastLogin !== undefined) set.last_login = changes.lastLogin?.getTime() ?? null;
      if (changes.attributes !== undefined) set.attributes = JSON.stringify(changes.attributes);
      if (changes.path !== undefined) set.path = changes.path;
      if (changes.type !== undefined) set.type = changes.type;
      if (changes.stateChangedAt !== undefined)
        set.state_changed_at = changes.stateChangedAt?.getTime() ?? null;
      if (changes.emailVerifiedAt !== undefined)
        set.email_verified_at = changes.emailVerifiedAt?.getTime() ?? null;
      if (changes.metadataPublic !== undefined) set.metadata_public = metadataText(changes.metadataPublic);
      if (changes.metadataAdmin !== undefined) set.metadata_admin = metadataText(changes.metadataAdmin);
      try {
        const result = await db
          .updateTable("user")
          .set(set)
          .where("tenant_id", "=", tenantId)
          .where("id", "=", id)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) === 0) {
          return null; // not this tenant's user: its groups must not be touched either
        }
        if (changes.groupIds !== undefined) {
          await setGroups(tenantId, id, changes.groupIds);
        }
        return one(tenantId, "id", id);
      } catch (error) {
        if (isUniqueViolation(error)) {
          return null;
        }
        throw error;
      }
    },
    async recordLogin(tenantId, id, at) {
      await db
        .updateTable("user")
        .set({ last_login: at.getTime() })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .execute();
    },
    async deleteUser(tenantId, id) {
      await db.deleteFrom("user").where("tenant_id", "=", tenantId).where("id", "=", id).execute();
    },
    async passwordHash(tenantId, id) {
      const row = await db
        .selectFrom("user")
        .select("password_hash")
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .executeTakeFirst();
      return row?.password_hash ?? null;
    },
    async setPasswordHash(tenantId, id, hash, now) {
      await db
        .updateTable("user")
        .set({ password_hash: hash, password_change_date: now.getTime(), last_updated: now.getTime() })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .execute();
    },
    async countSuperusers(tenantId, options) {
      let q = db
        .selectFrom("group_member")
        .innerJoin("group", "group.id", "group_member.group_id")
        .innerJoin("user", "user.id", "group_member.user_id")
        .where("group.tenant_id", "=", tenantId)
        .where("group.is_superuser", "=", 1)
        .where("user.is_active", "=", 1);
      if (options?.exceptUserId !== undefined) {
        q = q.where("group_member.user_id", "!=", options.exceptUserId);
      }
      if (options?.exceptGroupId !== undefined) {
        q = q.where("group_member.group_id", "!=", options.exceptGroupId);
      }
      const row = await q
        .select((eb) => eb.fn.count<number>("group_member.user_id").distinct().as("n"))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}

type GroupRow = Selectable<Database["group"]>;

async function withMembers(db: Kysely<Database>, rows: GroupRow[]): Promise<Group[]> {
  const members = new Map<number, number[]>();
  if (rows.length > 0) {
    const memberRows = await db
      .selectFrom("group_member")
      .select(["group_id", "user_id"])
      .where(
        "group_id",
        "in",
        rows.map((row) => row.id),
      )
      .orderBy("user_id")
      .execute();
    for (const row of memberRows) {
      members.set(row.group_id, [...(members.get(row.group_id) ?? []), row.user_id]);
    }
  }
  return rows.map((row) => ({
    id: row.id,
    uuid: row.uuid,
    tenantId: row.tenant_id,
    name: row.name,
    isSuperuser: row.is_superuser === 1,
    attributes: parseAttributes(row.attributes),
    userIds: members.get(row.id) ?? [],
  }));
}

export function sqlGroupStore(db: Kysely<Database>): GroupStore {
  async function one(tenantId: string, column: "uuid" | "name", value: string): Promise<Group | null> {
    const row = await db
      .selectFrom("group")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where(column, "=", value)
      .executeTakeFirst();
    return row === undefined ? null : ((await withMembers(db, [row]))[0] ?? null);
  }

  function filtered(tenantId: string, filters: GroupFilters) {
    let q = db.selectFrom("group").where("group.tenant_id", "=", tenantId);
    if (filters.name !== undefined) {
      q = q.where("group.name", "=", filters.name);
    }
    if (filters.isSuperuser !== undefined) {
      q = q.where("group.is_superuser", "=", filters.isSuperuser ? 1 : 0);
    }
    if (filters.membersByUsername !== undefined && filters.membersByUsername.length > 0) {
      const groupIds = db
        .selectFrom("group_member")
        .innerJoin("user", "user.id", "group_member.user_id")
        .select("group_member.group_id")
        .where("user.username", "in", filters.membersByUsername);
      q = q.where("group.id", "in", groupIds);
    }
    return q;
  }

  /** Only the tenant's own users, each once: a membership never crosses tenants. */
  async function setMembers(tenantId: string, groupId: number, userIds: number[]): Promise<void> {
    await db.deleteFrom("group_member").where("group_id", "=", groupId).execute();
    const users =
      userIds.length === 0
        ? []
        : await db
            .selectFrom("user")
            .select("id")
            .where("tenant_id", "=", tenantId)
            .where("id", "in", userIds)
            .execute();
    if (users.length > 0) {
      await db
        .insertInto("group_member")
        .values(users.map((user) => ({ group_id: groupId, user_id: user.id })))
        .execute();
    }
  }

  return {
    findGroup: (tenantId, uuid) => one(tenantId, "uuid", uuid),
    findGroupByName: (tenantId, name) => one(tenantId, "name", name),
    async listGroups(tenantId, filters, query: ListQuery<GroupField>): Promise<Page<Group>> {
      const search = ["group.name"];
      const count = await applySearch(filtered(tenantId, filters), query.search, search)
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      const rows = await applyListQuery(filtered(tenantId, filters).selectAll("group"), query, {
        search,
        order: { name: "group.name", is_superuser: "group.is_superuser", pk: "group.id" },
        primaryKey: "group.id",
      }).execute();
      return { total: Number(count.n), rows: await withMembers(db, rows) };
    },
    async createGroup(tenantId, group) {
      try {
        const row = await db
          .insertInto("group")
          .values({
            uuid: group.uuid,
            tenant_id: tenantId,
            name: group.name,
            is_superuser: group.isSuperuser ? 1 : 0,
            attributes: JSON.stringify(group.attributes),
          })
          .returning("id")
          .executeTakeFirstOrThrow();
        await setMembers(tenantId, row.id, group.userIds);
        return one(tenantId, "uuid", group.uuid);
      } catch (error) {
        if (isUniqueViolation(error)) {
          return null;
        }
        throw error;
      }
    },
    async updateGroup(tenantId, uuid, changes) {
      const set: Partial<GroupRow> = {};
      if (changes.name !== undefined) set.name = changes.name;
      if (changes.isSuperuser !== undefined) set.is_superuser = changes.isSuperuser ? 1 : 0;
      if (changes.attributes !== undefined) set.attributes = JSON.stringify(changes.attributes);
      try {
        if (Object.keys(set).length > 0) {
          await db
            .updateTable("group")
            .set(set)
            .where("tenant_id", "=", tenantId)
            .where("uuid", "=", uuid)
            .execute();
        }
        const group = await one(tenantId, "uuid", uuid);
        if (group !== null && changes.userIds !== undefined) {
          await setMembers(tenantId, group.id, changes.userIds);
          return one(tenantId, "uuid", uuid);
        }
        return group;
      } catch (error) {
        if (isUniqueViolation(error)) {
          return null;
        }
        throw error;
      }
    },
    async deleteGroup(tenantId, uuid) {
      await db.deleteFrom("group").where("tenant_id", "=", tenantId).where("uuid", "=", uuid).execute();
    },
    async addMember(groupId, userId) {
      const existing = await db
        .selectFrom("group_member")
        .select("user_id")
        .where("group_id", "=", groupId)
        .where("user_id", "=", userId)
        .executeTakeFirst();
      if (existing === undefined) {
        await db.insertInto("group_member").values({ group_id: groupId, user_id: userId }).execute();
      }
    },
    async removeMember(groupId, userId) {
      await db
        .deleteFrom("group_member")
        .where("group_id", "=", groupId)
        .where("user_id", "=", userId)
        .execute();
    },
    async existingUserIds(tenantId, ids) {
      const storable = ids.filter(isStorableId);
      if (storable.length === 0) return [];
      const rows = await db
        .selectFrom("user")
        .select("id")
        .where("tenant_id", "=", tenantId)
        .where("id", "in", storable)
        .execute();
      return rows.map((row) => row.id);
    },
    async existingGroups(tenantId, uuids) {
      if (uuids.length === 0) return [];
      return db
        .selectFrom("group")
        .select(["id", "uuid"])
        .where("tenant_id", "=", tenantId)
        .where("uuid", "in", uuids)
        .execute();
    },
  };
}
