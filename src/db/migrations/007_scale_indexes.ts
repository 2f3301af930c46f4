import type { Kysely, Migration } from "kysely";

/**
 * Indexes the scale run (bench/scale.ts, a million users and ten million tokens) showed missing.
 *
 * A non-superuser's token list asks `tenant_id = ? and user_id = ? order by identifier, expires, id`.
 * With only `token_user (user_id, identifier)` SQLite's planner, which has no statistics (Rekey never
 * runs ANALYZE), walks the tenant's whole `(tenant_id, identifier)` index in order and filters on
 * user_id: one user's page read every token of the tenant. A UNIQUE `(user_id, tenant_id, identifier)`
 * meets both equalities and the order at once. UNIQUE is what makes SQLite take it: the index it
 * chose instead is the unique (tenant_id, identifier), which tells the planner that identifier alone
 * settles the order (no sort for `expires, id`); this one, true since (tenant_id, identifier) is
 * unique, says the same. It still leads with user_id, so it also serves what token_user did (the
 * cascade from a deleted user), and replaces it rather than adding a seventh index to every insert.
 */
export function scaleIndexes(): Migration {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createIndex("token_user_tenant")
        .unique()
        .on("token")
        .columns(["user_id", "tenant_id", "identifier"])
        .execute();
      await db.schema.dropIndex("token_user").execute();
    },
  };
}
