import type { Kysely, Migration } from "kysely";
import type { Dialect } from "../database.js";

/** Kratos-style self-service flows: recovery flow details, recovery codes and link tokens, login and settings flows. */
export function kratosFlows(dialect: Dialect): Migration {
  const bigint = dialect === "postgres" ? "bigint" : "integer";
  return {
    async up(db: Kysely<any>): Promise<void> {
      const flowColumns: [string, string][] = [
        ["type", "text"],
        ["request_url", "text"],
        ["return_to", "text"],
        ["active", "text"],
        ["origin", "text"],
        ["csrf_hash", "text"],
        ["ui_messages", "text"],
        ["transient_payload", "text"],
        ["submitted_address", "text"],
      ];
      for (const [name, type] of flowColumns) {
        await db.schema
          .alterTable("recovery_flow")
          .addColumn(name, type as "text")
          .execute();
      }
      await db.schema
        .alterTable("recovery_flow")
        .addColumn("submit_count", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable("recovery_flow").addColumn("issued_at", bigint).execute();

      // Identity fields of the Kratos dialect (kratos.md §3.1.1) that authentik's user has no column for.
      await db.schema.alterTable("user").addColumn("state_changed_at", bigint).execute();
      await db.schema.alterTable("user").addColumn("email_verified_at", bigint).execute();
      await db.schema.alterTable("user").addColumn("metadata_public", "text").execute();
      await db.schema.alterTable("user").addColumn("metadata_admin", "text").execute();

      await db.schema
        .createTable("recovery_code")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        .addColumn("flow_id", "text", (c) => c.notNull().references("recovery_flow.id").onDelete("cascade"))
        .addColumn("user_id", "integer", (c) => c.notNull().references("user.id").onDelete("cascade"))
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("origin", "text", (c) => c.notNull())
        .addColumn("secret_hmac", "text", (c) => c.notNull())
        .addColumn("address", "text")
        .addColumn("expires_at", bigint, (c) => c.notNull())
        .addColumn("used_at", bigint)
        .addColumn("created_at", bigint, (c) => c.notNull())
        .execute();
      await db.schema.createIndex("recovery_code_flow").on("recovery_code").column("flow_id").execute();

      await db.schema
        .createTable("login_flow")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("request_url", "text", (c) => c.notNull())
        .addColumn("return_to", "text")
        .addColumn("refresh", "integer", (c) => c.notNull())
        .addColumn("requested_aal", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("session_id", "text")
        .addColumn("csrf_hash", "text")
        .addColumn("ui_messages", "text", (c) => c.notNull())
        .addColumn("expires_at", bigint, (c) => c.notNull())
        .addColumn("issued_at", bigint, (c) => c.notNull())
        .addColumn("updated_at", bigint, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("settings_flow")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        .addColumn("user_id", "integer", (c) => c.notNull().references("user.id").onDelete("cascade"))
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("request_url", "text", (c) => c.notNull())
        .addColumn("return_to", "text")
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("csrf_hash", "text")
        .addColumn("ui_messages", "text", (c) => c.notNull())
        .addColumn("expires_at", bigint, (c) => c.notNull())
        .addColumn("issued_at", bigint, (c) => c.notNull())
        .execute();
    },
  };
}
