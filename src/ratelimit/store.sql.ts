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
    async hitMany(entries, now) {
      if (new Set(entries.map((entry) => entry.key)).size !== entries.length) {
        // PostgreSQL refuses to update one row twice in one upsert; callers pass distinct limits.
        throw new Error("hitMany needs distinct keys");
      }
      const at = now.getTime();
      // Each key has its own window: the stale bound is picked per row by key. The cast gives the
      // CASE a numeric type on PostgreSQL, whose parameters would otherwise be text.
      const staleBefore = sql<number>`case rate_limit.key ${sql.join(
        entries.map((entry) => sql`when ${entry.key} then cast(${at - entry.windowMs} as bigint)`),
        sql` `,
      )} end`;
      const rows = await db
        .insertInto("rate_limit")
        .values(entries.map((entry) => ({ key: entry.key, window_start: at, count: 1 })))
        .onConflict((conflict) =>
          conflict.column("key").doUpdateSet({
            count: sql<number>`case when rate_limit.window_start <= ${staleBefore} then 1 else rate_limit.count + 1 end`,
            window_start: sql<number>`case when rate_limit.window_start <= ${staleBefore} then ${at} else rate_limit.window_start end`,
          }),
        )
        .returning(["key", "count", "window_start"])
        .execute();
      const byKey = new Map(rows.map((row) => [row.key, row]));
      return entries.map((entry) => {
        const row = byKey.get(entry.key);
        if (row === undefined) {
          throw new Error("rate_limit upsert returned no row for a key");
        }
        return { count: Number(row.count), windowStart: Number(row.window_start) };
      });
    },
  };
}
