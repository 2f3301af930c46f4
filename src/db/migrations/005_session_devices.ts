import type { Kysely, Migration } from "kysely";
import type { Dialect } from "../database.js";

/**
 * The device a session was issued to (Kratos' `session.devices`, kratos.md §3.6.3): a stable record
 * id, the client's IP address and its User-Agent. Sessions issued before this migration have no
 * device record (null `device_id`) and answer an empty `devices` list.
 */
export function sessionDevices(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<any>): Promise<void> {
      // Plain text columns read the same on both dialects, so no dialect branch is needed.
      await db.schema.alterTable("session").addColumn("device_id", "text").execute();
      await db.schema.alterTable("session").addColumn("ip_address", "text").execute();
      await db.schema.alterTable("session").addColumn("user_agent", "text").execute();
    },
  };
}
