import { type Kysely, type Migration, sql } from "kysely";
import type { Dialect } from "../database.js";

/**
 * `managed` unique only where it is set. The table constraint of 001 indexed every token, and
 * nearly every token has no managed name: recovery links, keys, app passwords and API tokens alike
 * carried a (tenant, NULL) entry that no lookup ever reads and every insert paid for. A partial
 * index holds the few managed tokens only; the rule it enforces is the same, since NULLs were never
 * equal to each other under the old constraint either.
 *
 * Measured before the change on SQLite: a token and its event cost 71–84 µs of SQLite time with the
 * full index and 67–74 µs with the partial one (inserts in batches of six, as group commit makes
 * them); on PostgreSQL the full index held an entry for every one of the scale run's ten million
 * tokens.
 *
 * On SQLite the rebuild copies every token once, at the first start after an upgrade (or at
 * `rekey migrate`): about 40 s for a million tokens on the benchmark machine, during which the
 * server is not yet listening (docs/operations.md).
 *
 * PostgreSQL drops the constraint and builds the partial index in place. SQLite cannot drop a table
 * constraint, so the table is rebuilt: a new table with every column as migrations 001 and 002 left
 * it, the rows copied, the old table dropped (no foreign key points at token) and its indexes made
 * again. The unique-violation names the token service reads (`token_tenant_managed` on PostgreSQL,
 * the columns on SQLite) stay as they were.
 */
export function partialManagedIndex(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<any>): Promise<void> {
      if (dialect === "postgres") {
        // Kysely runs a PostgreSQL migration in a transaction of its own.
        await sql`alter table token drop constraint token_tenant_managed`.execute(db);
        await createPartialIndex(db);
        return;
      }
      // Kysely runs SQLite migrations outside a transaction; a rebuild stopped halfway must leave
      // the old table as it was.
      await db.transaction().execute(async (trx) => {
        await rebuildTokenTableWithoutManagedConstraint(trx);
        await createPartialIndex(trx);
      });
    },
  };
}

async function createPartialIndex(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex("token_tenant_managed")
    .unique()
    .on("token")
    .columns(["tenant_id", "managed"])
    .where(sql.ref("managed"), "is not", null)
    .execute();
}

async function rebuildTokenTableWithoutManagedConstraint(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("token_rebuilt")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
    .addColumn("identifier", "text", (c) => c.notNull())
    .addColumn("managed", "text")
    .addColumn("intent", "text", (c) => c.notNull())
    .addColumn("user_id", "integer", (c) => c.notNull().references("user.id").onDelete("cascade"))
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("expires", "integer")
    .addColumn("expiring", "integer", (c) => c.notNull())
    .addColumn("key_hash", "text", (c) => c.notNull())
    .addColumn("key_sealed", "text")
    .addColumn("key_secret_index", "integer")
    .addColumn("owner_may_view", "integer", (c) => c.notNull())
    .addColumn("created_at", "integer", (c) => c.notNull())
    .addColumn("recovery_origin", "text")
    .addColumn("allow_mfa_reset", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("email_stage_id", "text")
    .addUniqueConstraint("token_tenant_identifier", ["tenant_id", "identifier"])
    .addUniqueConstraint("token_tenant_key", ["tenant_id", "key_hash"])
    .execute();
  const columns = sql.raw(
    [
      "id",
      "tenant_id",
      "identifier",
      "managed",
      "intent",
      "user_id",
      "description",
      "expires",
      "expiring",
      "key_hash",
      "key_sealed",
      "key_secret_index",
      "owner_may_view",
      "created_at",
      "recovery_origin",
      "allow_mfa_reset",
      "email_stage_id",
    ].join(", "),
  );
  await sql`insert into token_rebuilt (${columns}) select ${columns} from token`.execute(db);
  await db.schema.dropTable("token").execute();
  await db.schema.alterTable("token_rebuilt").renameTo("token").execute();
  // The indexes of 001 and 007 went with the old table.
  await db.schema.createIndex("token_expires").on("token").columns(["expiring", "expires"]).execute();
  await db.schema
    .createIndex("token_user_tenant")
    .unique()
    .on("token")
    .columns(["user_id", "tenant_id", "identifier"])
    .execute();
}
