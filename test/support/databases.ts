import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import pg from "pg";
import { type DB, type Dialect, openDatabase } from "../../src/db/database.js";
import { migrateToLatest } from "../../src/db/migrate.js";

/** PostgreSQL for tests: set by scripts/test.mjs (or CI) to a database the suite may fill. */
export const POSTGRES_URL = process.env["REKEY_TEST_POSTGRES_URL"];

/** The dialects every store and route suite runs on. PostgreSQL is skipped, loudly, only outside CI. */
export const DIALECTS: Dialect[] = POSTGRES_URL === undefined ? ["sqlite"] : ["sqlite", "postgres"];

/** For tests that only mean something on PostgreSQL (races): a skip reason, or false. */
export const noPostgres: string | false =
  POSTGRES_URL === undefined ? "REKEY_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped" : false;

if (POSTGRES_URL === undefined && process.env["CI"] === "true") {
  throw new Error("CI=true but REKEY_TEST_POSTGRES_URL is not set: PostgreSQL tests must run in CI");
}

export interface TestDatabase {
  db: DB;
  /** The URL a second process (CLI, replica) can use to open the same database. */
  url: string;
  /** The SQLite file, for tests that scan it; null on PostgreSQL. */
  file: string | null;
}

/**
 * A fresh, migrated database for one test: a new SQLite file in a temporary folder, or a new schema
 * in the test PostgreSQL database. Dropped when the test ends.
 */
export async function freshDatabase(t: TestContext, dialect: Dialect): Promise<TestDatabase> {
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "rekey-test-"));
    const file = join(dir, "rekey.db");
    const url = `sqlite:${file}`;
    const db = openDatabase(url);
    t.after(async () => {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    });
    await migrateToLatest(db);
    return { db, url, file };
  }
  if (POSTGRES_URL === undefined) {
    throw new Error("PostgreSQL requested but REKEY_TEST_POSTGRES_URL is not set");
  }
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.searchParams.set("options", `-c search_path=${schema}`);
  const db = openDatabase(url.href, { poolSize: 20 });
  t.after(async () => {
    await db.close();
    const cleanup = new pg.Client({ connectionString: POSTGRES_URL });
    await cleanup.connect();
    await cleanup.query(`drop schema ${schema} cascade`);
    await cleanup.end();
  });
  await migrateToLatest(db);
  return { db, url: url.href, file: null };
}
