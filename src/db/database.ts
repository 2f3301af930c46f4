import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase } from "kysely";
import pg from "pg";
import type { Database } from "./schema.js";

export type Dialect = "sqlite" | "postgres";

export interface DB {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /** Folder of the SQLite file (where a generated secret lives); null for PostgreSQL. */
  dataDir: string | null;
  close(): Promise<void>;
}

// int8 (bigint) columns hold epoch milliseconds and counters, all far below 2^53.
pg.types.setTypeParser(20, (value) => Number(value));

export function sqlitePath(databaseURL: string): string {
  return resolve(databaseURL.slice("sqlite:".length));
}

/**
 * better-sqlite3 behind a cache of prepared statements. Kysely prepares every query it runs; the SQL
 * text of a query shape never changes, so preparing each text once saves a parse per request.
 * Bounded, since search terms and IN lists make some texts vary.
 */
function withStatementCache(sqlite: SQLite.Database, capacity = 500): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (statement === undefined) {
        statement = sqlite.prepare(sql);
        if (cache.size >= capacity) {
          cache.delete(cache.keys().next().value as string);
        }
        cache.set(sql, statement);
      }
      return statement as unknown as ReturnType<SqliteDatabase["prepare"]>;
    },
  };
}

/** Opens the database named by REKEY_DATABASE_URL. `sqlite::memory:` opens a private in-memory one. */
export function openDatabase(databaseURL: string, options?: { poolSize?: number }): DB {
  if (databaseURL.startsWith("sqlite:")) {
    const memory = databaseURL === "sqlite::memory:";
    const path = memory ? ":memory:" : sqlitePath(databaseURL);
    if (!memory) {
      mkdirSync(dirname(path), { recursive: true });
    }
    const sqlite = new SQLite(path);
    sqlite.pragma("journal_mode = WAL");
    // NORMAL is durable in WAL mode across process crashes; only an OS crash can lose the last commits.
    sqlite.pragma("synchronous = NORMAL");
    sqlite.pragma("foreign_keys = ON");
    sqlite.pragma("busy_timeout = 5000");
    // SQLite's own lower() folds ASCII only, so a search for "jörg" would miss "JÖRG" there and not on
    // PostgreSQL; list search (db/listing.ts) lower-cases both sides, so give it JavaScript's folding.
    sqlite.function("lower", { deterministic: true }, (value: unknown) =>
      value === null ? null : String(value).toLowerCase(),
    );
    const kysely = new Kysely<Database>({
      dialect: new SqliteDialect({ database: withStatementCache(sqlite) }),
    });
    return {
      kysely,
      dialect: "sqlite",
      dataDir: memory ? null : dirname(path),
      close: () => kysely.destroy(),
    };
  }
  const pool = new pg.Pool({ connectionString: databaseURL, max: options?.poolSize ?? 10 });
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { kysely, dialect: "postgres", dataDir: null, close: () => kysely.destroy() };
}
