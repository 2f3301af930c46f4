import type { Kysely, Migration } from "kysely";
import type { Dialect } from "../database.js";

/** Recovery: link/key metadata on tokens, email stages, the mail outbox, recovery flows, sessions, rate limits. */
export function recovery(dialect: Dialect): Migration {
  const bigint = dialect === "postgres" ? "bigint" : "integer";
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable("token").addColumn("recovery_origin", "text").execute();
      await db.schema
        .alterTable("token")
        .addColumn("allow_mfa_reset", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable("token").addColumn("email_stage_id", "text").execute();

      await db.schema
        .createTable("email_stage")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("use_global_settings", "integer", (c) => c.notNull())
        .addColumn("host", "text", (c) => c.notNull())
        .addColumn("port", "integer", (c) => c.notNull())
        .addColumn("username", "text", (c) => c.notNull())
        .addColumn("password_sealed", "text")
        .addColumn("password_secret_index", "integer")
        .addColumn("use_tls", "integer", (c) => c.notNull())
        .addColumn("use_ssl", "integer", (c) => c.notNull())
        .addColumn("timeout", "integer", (c) => c.notNull())
        .addColumn("from_address", "text", (c) => c.notNull())
        .addColumn("token_expiry", "text", (c) => c.notNull())
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("template", "text", (c) => c.notNull())
        .addColumn("activate_user_on_success", "integer", (c) => c.notNull())
        .addColumn("created_at", bigint, (c) => c.notNull())
        .addUniqueConstraint("email_stage_tenant_name", ["tenant_id", "name"])
        .execute();

      await db.schema
        .createTable("mail_message")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        .addColumn("recipient", "text", (c) => c.notNull())
        .addColumn("template", "text", (c) => c.notNull())
        // Subject and bodies carry links and codes: sealed under the server secret, erased once sent.
        .addColumn("content_sealed", "text")
        .addColumn("content_secret_index", "integer")
        .addColumn("email_stage_id", "text")
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("send_count", "integer", (c) => c.notNull())
        .addColumn("next_attempt_at", bigint, (c) => c.notNull())
        .addColumn("claimed_until", bigint)
        .addColumn("last_error", "text")
        .addColumn("created_at", bigint, (c) => c.notNull())
        .addColumn("updated_at", bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("mail_message_queue")
        .on("mail_message")
        .columns(["status", "next_attempt_at"])
        .execute();

      await db.schema
        .createTable("recovery_flow")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        .addColumn("user_id", "integer", (c) => c.references("user.id").onDelete("cascade"))
        .addColumn("method", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("session_hash", "text", (c) => c.unique())
        .addColumn("allow_mfa_reset", "integer", (c) => c.notNull())
        .addColumn("delivered_to_address", "integer", (c) => c.notNull())
        .addColumn("email_stage_id", "text")
        .addColumn("code_failures", "integer", (c) => c.notNull())
        .addColumn("expires_at", bigint, (c) => c.notNull())
        .addColumn("created_at", bigint, (c) => c.notNull())
        .addColumn("completed_at", bigint)
        .execute();
      await db.schema.createIndex("recovery_flow_user").on("recovery_flow").column("user_id").execute();

      await db.schema
        .createTable("session")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        .addColumn("user_id", "integer", (c) => c.notNull().references("user.id").onDelete("cascade"))
        .addColumn("token_hash", "text", (c) => c.notNull().unique())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("aal", "text", (c) => c.notNull())
        .addColumn("auth_methods", "text", (c) => c.notNull())
        .addColumn("authenticated_at", bigint, (c) => c.notNull())
        .addColumn("issued_at", bigint, (c) => c.notNull())
        .addColumn("expires_at", bigint, (c) => c.notNull())
        .addColumn("last_seen_at", bigint, (c) => c.notNull())
        .addColumn("revoked_at", bigint)
        .execute();
      await db.schema.createIndex("session_user").on("session").columns(["tenant_id", "user_id"]).execute();

      await db.schema
        .createTable("rate_limit")
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("window_start", bigint, (c) => c.notNull())
        .addColumn("count", "integer", (c) => c.notNull())
        .execute();
    },
  };
}
