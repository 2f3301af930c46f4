import type { Kysely, Migration } from "kysely";
import type { Dialect } from "../database.js";

/**
 * Secrets a settings flow holds between two requests (kratos.md §3.6, the `totp` and `lookup_secret`
 * methods): the TOTP secret being enrolled, and backup codes generated but not confirmed yet. Kratos
 * keeps them in the flow's internal context; Rekey seals them under the server secret in their own
 * table, removed with the flow.
 */
export function settingsMFA(dialect: Dialect): Migration {
  const bigint = dialect === "postgres" ? "bigint" : "integer";
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable("settings_flow_secret")
        .addColumn("flow_id", "text", (c) => c.notNull().references("settings_flow.id").onDelete("cascade"))
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        // AES-256-GCM under the server secret: enrolment must read the secret back, never in clear.
        .addColumn("secret_sealed", "text", (c) => c.notNull())
        .addColumn("secret_secret_index", "integer", (c) => c.notNull())
        .addColumn("created_at", bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint("settings_flow_secret_pk", ["flow_id", "kind"])
        .execute();
    },
  };
}
