import { randomUUID } from "node:crypto";
import type { Kysely, Migration } from "kysely";
import type { Dialect } from "../database.js";

/** Tenants, domains, users, groups, tokens, events and job locks. */
export function foundation(dialect: Dialect): Migration {
  const serial = dialect === "postgres" ? "serial" : "integer";
  const bigint = dialect === "postgres" ? "bigint" : "integer";
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable("tenant")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("schema_name", "text", (c) => c.notNull().unique())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("created_at", bigint, (c) => c.notNull())
        .execute();
      await db
        .insertInto("tenant")
        .values({ id: randomUUID(), schema_name: "public", name: "Default", created_at: Date.now() })
        .execute();

      await db.schema
        .createTable("domain")
        .addColumn("id", serial, (c) =>
          dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey(),
        )
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        .addColumn("domain", "text", (c) => c.notNull().unique())
        .addColumn("is_primary", "integer", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("domain_tenant").on("domain").column("tenant_id").execute();

      await db.schema
        .createTable("user")
        .addColumn("id", serial, (c) =>
          dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey(),
        )
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        .addColumn("uuid", "text", (c) => c.notNull().unique())
        .addColumn("username", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("email", "text", (c) => c.notNull())
        .addColumn("email_verified", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("is_active", "integer", (c) => c.notNull())
        .addColumn("last_login", bigint)
        .addColumn("date_joined", bigint, (c) => c.notNull())
        .addColumn("password_hash", "text")
        .addColumn("password_change_date", bigint, (c) => c.notNull())
        .addColumn("last_updated", bigint, (c) => c.notNull())
        .addColumn("attributes", "text", (c) => c.notNull())
        .addColumn("path", "text", (c) => c.notNull())
        .addColumn("type", "text", (c) => c.notNull())
        .addUniqueConstraint("user_tenant_username", ["tenant_id", "username"])
        .execute();
      await db.schema.createIndex("user_tenant_email").on("user").columns(["tenant_id", "email"]).execute();

      await db.schema
        .createTable("group")
        .addColumn("id", serial, (c) =>
          dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey(),
        )
        .addColumn("uuid", "text", (c) => c.notNull().unique())
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("is_superuser", "integer", (c) => c.notNull())
        .addColumn("attributes", "text", (c) => c.notNull())
        .addUniqueConstraint("group_tenant_name", ["tenant_id", "name"])
        .execute();

      await db.schema
        .createTable("group_member")
        .addColumn("group_id", "integer", (c) => c.notNull().references("group.id").onDelete("cascade"))
        .addColumn("user_id", "integer", (c) => c.notNull().references("user.id").onDelete("cascade"))
        .addPrimaryKeyConstraint("group_member_pk", ["group_id", "user_id"])
        .execute();
      await db.schema.createIndex("group_member_user").on("group_member").column("user_id").execute();

      await db.schema
        .createTable("token")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        .addColumn("identifier", "text", (c) => c.notNull())
        .addColumn("managed", "text")
        .addColumn("intent", "text", (c) => c.notNull())
        .addColumn("user_id", "integer", (c) => c.notNull().references("user.id").onDelete("cascade"))
        .addColumn("description", "text", (c) => c.notNull())
        .addColumn("expires", bigint)
        .addColumn("expiring", "integer", (c) => c.notNull())
        .addColumn("key_hash", "text", (c) => c.notNull())
        .addColumn("key_sealed", "text")
        .addColumn("key_secret_index", "integer")
        .addColumn("owner_may_view", "integer", (c) => c.notNull())
        .addColumn("created_at", bigint, (c) => c.notNull())
        .addUniqueConstraint("token_tenant_identifier", ["tenant_id", "identifier"])
        .addUniqueConstraint("token_tenant_managed", ["tenant_id", "managed"])
        .addUniqueConstraint("token_tenant_key", ["tenant_id", "key_hash"])
        .execute();
      await db.schema.createIndex("token_user").on("token").columns(["user_id", "identifier"]).execute();
      await db.schema.createIndex("token_expires").on("token").columns(["expiring", "expires"]).execute();

      await db.schema
        .createTable("event")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("app", "text", (c) => c.notNull())
        .addColumn("actor", "text", (c) => c.notNull())
        .addColumn("username", "text", (c) => c.notNull())
        .addColumn("context", "text", (c) => c.notNull())
        .addColumn("client_ip", "text")
        .addColumn("model_app", "text")
        .addColumn("model_name", "text")
        .addColumn("model_pk", "text")
        .addColumn("created", bigint, (c) => c.notNull())
        .addColumn("expires", bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("event_tenant_created")
        .on("event")
        .columns(["tenant_id", "created"])
        .execute();

      await db.schema
        .createTable("job_lock")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("locked_until", bigint, (c) => c.notNull())
        .addColumn("holder", "text", (c) => c.notNull())
        .execute();
    },
  };
}
