import type { Kysely, Migration } from "kysely";
import type { Dialect } from "../database.js";

/** Second factors: TOTP devices and backup-code (static) devices with their codes. */
export function authenticators(dialect: Dialect): Migration {
  const serial = dialect === "postgres" ? "serial" : "integer";
  const bigint = dialect === "postgres" ? "bigint" : "integer";
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable("totp_device")
        .addColumn("id", serial, (c) =>
          dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey(),
        )
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        .addColumn("user_id", "integer", (c) => c.notNull().references("user.id").onDelete("cascade"))
        .addColumn("name", "text", (c) => c.notNull())
        // The shared secret, AES-256-GCM under the server secret: verification must read it back.
        .addColumn("secret_sealed", "text", (c) => c.notNull())
        .addColumn("secret_secret_index", "integer", (c) => c.notNull())
        .addColumn("digits", "integer", (c) => c.notNull())
        .addColumn("period", "integer", (c) => c.notNull())
        .addColumn("algorithm", "text", (c) => c.notNull())
        .addColumn("confirmed", "integer", (c) => c.notNull())
        .addColumn("last_step", bigint)
        .addColumn("created_at", bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("totp_device_user")
        .on("totp_device")
        .columns(["tenant_id", "user_id"])
        .execute();

      await db.schema
        .createTable("static_device")
        .addColumn("id", serial, (c) =>
          dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey(),
        )
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        .addColumn("user_id", "integer", (c) => c.notNull().references("user.id").onDelete("cascade"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("confirmed", "integer", (c) => c.notNull())
        .addColumn("created_at", bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("static_device_user")
        .on("static_device")
        .columns(["tenant_id", "user_id"])
        .execute();

      await db.schema
        .createTable("static_token")
        .addColumn("id", serial, (c) =>
          dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey(),
        )
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenant.id").onDelete("cascade"))
        .addColumn("device_id", "integer", (c) =>
          c.notNull().references("static_device.id").onDelete("cascade"),
        )
        .addColumn("user_id", "integer", (c) => c.notNull().references("user.id").onDelete("cascade"))
        // HMAC-SHA512/256 under the server secret: backup codes never rest in clear.
        .addColumn("token_hmac", "text", (c) => c.notNull())
        .addColumn("used_at", bigint)
        .execute();
      await db.schema
        .createIndex("static_token_user")
        .on("static_token")
        .columns(["tenant_id", "user_id", "token_hmac"])
        .execute();
    },
  };
}
