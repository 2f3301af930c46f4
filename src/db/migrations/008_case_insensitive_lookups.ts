import { type Kysely, type Migration, sql } from "kysely";

/**
 * Indexes for the case-insensitive lookups: a recovery address and a sign-in by address match
 * `lower(email)`, and an identity's identifier must be free as `lower(username)` or `lower(email)`
 * (users/store.sql.ts). Neither expression could use `(tenant_id, email)` or the unique
 * `(tenant_id, username)`, so each such lookup read every user of the tenant: about 1.4 ms on SQLite
 * and 2.1 ms on PostgreSQL with 2,500 users, growing with the tenant, and on the public recovery
 * path, where an anonymous caller decides how often it runs.
 *
 * On SQLite `lower` is the JavaScript folding the connection registers (db/database.ts), so the
 * index holds exactly what the queries compare with. A row written by another program, whose
 * `lower` is SQLite's ASCII-only one, would be indexed under a different key if its address has
 * non-ASCII capitals; Rekey's own connections (server, CLI, bulk loader) all register the same one.
 */
export function caseInsensitiveLookups(): Migration {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createIndex("user_tenant_lower_email")
        .on("user")
        .expression(sql`tenant_id, lower(email)`)
        .execute();
      await db.schema
        .createIndex("user_tenant_lower_username")
        .on("user")
        .expression(sql`tenant_id, lower(username)`)
        .execute();
    },
  };
}
