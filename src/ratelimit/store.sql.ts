import { type Kysely, sql } from "kysely";
import type { Database } from "../db/schema.js";
import type { RateLimitStore } from "./store.js";

export function sqlRateLimitStore(db: Kysely<Database>): RateLimitStore {
  return {
    async peek(key, windowMs, now) {
      const row = await db
        .selectFrom("rate_limit")
        .select(["count", "window_start"])
        .where("key", "=", key)
        .executeTakeFirst();
      if (row === undefined || Number(row.window_start) <= now.getTime() - windowMs) {
        return { count: 0, windowStart: now.getTime() };
      }
      return { count: Number(row.count), windowStart: Number(row.window_start) };
    },
    async hit(key, windowMs, now) {
      const at = now.getTime();
      const staleBefore = at - windowMs;
      // In ON CONFLICT … DO UPDATE, column references read the old row on both SQLite and PostgreSQL.
      const row = await db
        .insertInto("rate_limit")
        .values({ key, window_start: at, count: 1 })
        .onConflict((conflict) =>
          conflict.column("key").doUpdateSet({
            count: sql<number>`case when rate_limit.window_start <= ${staleBefore} then 1 else rate_limit.count + 1 end`,
            window_start: sql<number>`case when rate_limit.window_start <= ${staleBefore} then ${at} else rate_limit.window_start end`,
          }),
        )
        .returning(["count", "window_start"])
        .executeTakeFirstOrThrow();
      return { count: Number(row.count), windowStart: Number(row.window_start) };
    },
  };
}
