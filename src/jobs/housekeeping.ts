import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";

/**
 * Rows that have done their work and only take space: delivered or abandoned mail (its content is
 * already erased), recovery, login and settings flows and sessions long past their expiry, and
 * rate-limit windows long closed. Nothing here is a secret any more; purging keeps the tables (and the
 * queries that scan them by tenant) the size of the live data. The grace after expiry keeps an
 * expired flow answering "expired" rather than "not found" for a while, as people come back late.
 */
export const MAIL_RETENTION_MS = 7 * 86_400_000;
export const EXPIRED_GRACE_MS = 86_400_000;

/** How many rows each purge removed, by table. */
export type PurgeCounts = Record<
  "mail_message" | "recovery_flow" | "login_flow" | "settings_flow" | "session" | "rate_limit",
  number
>;

export interface HousekeepingStore {
  /** Deletes everything finished before the retention windows measured back from `now`. */
  purge(now: Date): Promise<PurgeCounts>;
}

export function sqlHousekeepingStore(db: Kysely<Database>): HousekeepingStore {
  return {
    async purge(now) {
      const expiredBefore = now.getTime() - EXPIRED_GRACE_MS;
      const counted = async (query: { executeTakeFirst(): Promise<{ numDeletedRows: bigint }> }) =>
        Number((await query.executeTakeFirst()).numDeletedRows);
      return {
        mail_message: await counted(
          db
            .deleteFrom("mail_message")
            .where("status", "in", ["sent", "abandoned"])
            .where("updated_at", "<", now.getTime() - MAIL_RETENTION_MS),
        ),
        // Its codes go with it (recovery_code references the flow with ON DELETE CASCADE).
        recovery_flow: await counted(db.deleteFrom("recovery_flow").where("expires_at", "<", expiredBefore)),
        login_flow: await counted(db.deleteFrom("login_flow").where("expires_at", "<", expiredBefore)),
        settings_flow: await counted(db.deleteFrom("settings_flow").where("expires_at", "<", expiredBefore)),
        session: await counted(
          db
            .deleteFrom("session")
            .where((eb) =>
              eb.or([eb("expires_at", "<", expiredBefore), eb("revoked_at", "<", expiredBefore)]),
            ),
        ),
        // The longest window is an hour (step-up failures); a day-old window can never count again.
        rate_limit: await counted(db.deleteFrom("rate_limit").where("window_start", "<", expiredBefore)),
      };
    },
  };
}
