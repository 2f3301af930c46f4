import { type Insertable, type Kysely, type Selectable, sql } from "kysely";
import { insertRow } from "../db/database.js";
import { applyListQuery, applySearch, type ListQuery, type Page } from "../db/listing.js";
import type { Database, TokenTable } from "../db/schema.js";
import { groupsOfUsers, toUser } from "../users/store.sql.js";
import type { Token, TokenField, TokenFilters, TokenIntent, TokenStore } from "./store.js";

function toToken(row: Selectable<TokenTable>): Token {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    identifier: row.identifier,
    managed: row.managed,
    intent: row.intent as TokenIntent,
    userId: row.user_id,
    description: row.description,
    expires: row.expires === null ? null : new Date(row.expires),
    expiring: row.expiring === 1,
    keyHash: row.key_hash,
    keySealed: row.key_sealed,
    keySecretIndex: row.key_secret_index,
    ownerMayView: row.owner_may_view === 1,
  };
}

const ORDER: Record<TokenField, string> = {
  identifier: "token.identifier",
  expires: "token.expires",
  intent: "token.intent",
  description: "token.description",
  user: "token.user_id",
  expiring: "token.expiring",
  managed: "token.managed",
};

const SEARCH = ["token.identifier", "token.intent", "user.username", "token.description"];

export function sqlTokenStore(db: Kysely<Database>): TokenStore {
  /** The filters on the token's own columns, as `column = value` pairs; `username` needs the user. */
  function tokenConditions(filters: TokenFilters): [string, string | number][] {
    const conditions: [string, string | number | undefined][] = [
      ["token.identifier", filters.identifier],
      ["token.intent", filters.intent],
      ["token.description", filters.description],
      ["token.expires", filters.expires?.getTime()],
      ["token.expiring", filters.expiring === undefined ? undefined : filters.expiring ? 1 : 0],
      ["token.managed", filters.managed],
      ["token.user_id", filters.userId],
    ];
    return conditions.filter(
      (condition): condition is [string, string | number] => condition[1] !== undefined,
    );
  }

  function filtered(tenantId: string, filters: TokenFilters) {
    let q = db
      .selectFrom("token")
      .innerJoin("user", "user.id", "token.user_id")
      .where("token.tenant_id", "=", tenantId);
    for (const [column, value] of tokenConditions(filters)) q = q.where(sql.ref(column), "=", value);
    if (filters.username !== undefined) q = q.where("user.username", "=", filters.username);
    return q;
  }

  /**
   * The number of tokens a list answers. Without a username filter or a search term the count needs no
   * user join (every token has its owner: user_id is a NOT NULL foreign key), and skipping it is what
   * keeps a page of a ten-million-token tenant from hashing a million users (bench/scale.ts).
   */
  async function countTokens(tenantId: string, filters: TokenFilters, terms: readonly string[]) {
    if (filters.username !== undefined || terms.length > 0) {
      return applySearch(filtered(tenantId, filters), terms, SEARCH)
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
    }
    let q = db.selectFrom("token").where("token.tenant_id", "=", tenantId);
    for (const [column, value] of tokenConditions(filters)) q = q.where(sql.ref(column), "=", value);
    return q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
  }

  async function taken(
    tenantId: string,
    column: "identifier" | "managed" | "key_hash",
    value: string,
    exceptTokenId: string | null,
  ): Promise<boolean> {
    let q = db.selectFrom("token").select("id").where("tenant_id", "=", tenantId).where(column, "=", value);
    if (exceptTokenId !== null) {
      q = q.where("id", "!=", exceptTokenId);
    }
    return (await q.executeTakeFirst()) !== undefined;
  }

  async function findAPICredential(tenantId: string, keyHash: string, now: Date) {
    const row = await db
      .selectFrom("token")
      .innerJoin("user", "user.id", "token.user_id")
      .selectAll("user")
      .select(["token.expires as token_expires", "token.expiring as token_expiring"])
      .where("token.tenant_id", "=", tenantId)
      .where("token.key_hash", "=", keyHash)
      .where("token.intent", "=", "api")
      .where((eb) =>
        eb.or([
          eb("token.expiring", "=", 0),
          eb("token.expires", "is", null),
          eb("token.expires", ">", now.getTime()),
        ]),
      )
      .where("user.is_active", "=", 1)
      .executeTakeFirst();
    if (row === undefined) {
      return null;
    }
    const { token_expires, token_expiring, ...userRow } = row;
    const groups = await groupsOfUsers(db, [userRow.id]);
    const expires = token_expiring === 1 && token_expires !== null ? new Date(token_expires) : null;
    return { owner: toUser(userRow, groups.get(userRow.id) ?? []), expires };
  }

  return {
    async findToken(tenantId, identifier) {
      const row = await db
        .selectFrom("token")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("identifier", "=", identifier)
        .executeTakeFirst();
      return row === undefined ? null : toToken(row);
    },
    async listTokens(tenantId, filters, query: ListQuery<TokenField>): Promise<Page<Token>> {
      const count = await countTokens(tenantId, filters, query.search);
      const rows = await applyListQuery(filtered(tenantId, filters).selectAll("token"), query, {
        search: SEARCH,
        order: ORDER,
        primaryKey: "token.id",
      }).execute();
      return { total: Number(count.n), rows: rows.map(toToken) };
    },
    async createToken(token, now) {
      await insertRow(db, "token", {
        id: token.id,
        tenant_id: token.tenantId,
        identifier: token.identifier,
        managed: token.managed,
        intent: token.intent,
        user_id: token.userId,
        description: token.description,
        expires: token.expires?.getTime() ?? null,
        expiring: token.expiring ? 1 : 0,
        key_hash: token.keyHash,
        key_sealed: token.keySealed,
        key_secret_index: token.keySecretIndex,
        owner_may_view: token.ownerMayView ? 1 : 0,
        created_at: now.getTime(),
      } satisfies Insertable<TokenTable>);
    },
    async updateToken(tenantId, id, changes) {
      const set: Partial<Selectable<TokenTable>> = {};
      if (changes.identifier !== undefined) set.identifier = changes.identifier;
      if (changes.managed !== undefined) set.managed = changes.managed;
      if (changes.intent !== undefined) set.intent = changes.intent;
      if (changes.description !== undefined) set.description = changes.description;
      if (changes.expires !== undefined) set.expires = changes.expires?.getTime() ?? null;
      if (changes.expiring !== undefined) set.expiring = changes.expiring ? 1 : 0;
      if (changes.keyHash !== undefined) set.key_hash = changes.keyHash;
      if (changes.keySealed !== undefined) set.key_sealed = changes.keySealed;
      if (changes.keySecretIndex !== undefined) set.key_secret_index = changes.keySecretIndex;
      if (Object.keys(set).length === 0) {
        return;
      }
      await db.updateTable("token").set(set).where("tenant_id", "=", tenantId).where("id", "=", id).execute();
    },
    async deleteToken(tenantId, id) {
      await db.deleteFrom("token").where("tenant_id", "=", tenantId).where("id", "=", id).execute();
    },
    isKeyInUse: (tenantId, keyHash, exceptTokenId) => taken(tenantId, "key_hash", keyHash, exceptTokenId),
    isIdentifierTaken: (tenantId, identifier, exceptTokenId) =>
      taken(tenantId, "identifier", identifier, exceptTokenId),
    isManagedTaken: (tenantId, managed, exceptTokenId) => taken(tenantId, "managed", managed, exceptTokenId),
    async findAPITokenOwner(tenantId, keyHash, now) {
      return (await findAPICredential(tenantId, keyHash, now))?.owner ?? null;
    },
    findAPICredential,
    async listExpiredTokens(now, limit) {
      const rows = await db
        .selectFrom("token")
        .selectAll()
        .where("expiring", "=", 1)
        .where("expires", "<=", now.getTime())
        .orderBy("expires")
        .orderBy("id") // the primary key breaks ties, as in every list
        .limit(limit)
        .execute();
      return rows.map(toToken);
    },
    async rotateExpiredToken(token, changes) {
      const result = await db
        .updateTable("token")
        .set({
          key_hash: changes.keyHash,
          key_sealed: changes.keySealed,
          key_secret_index: changes.keySecretIndex,
          expires: changes.expires?.getTime() ?? null,
        })
        .where("tenant_id", "=", token.tenantId)
        .where("id", "=", token.id)
        .where("expires", "=", token.expires?.getTime() ?? -1)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async deleteExpiredToken(tenantId, id, now) {
      const result = await db
        .deleteFrom("token")
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .where("expiring", "=", 1)
        .where("expires", "<=", now.getTime())
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}
