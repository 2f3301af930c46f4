import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { Migrator } from "kysely";
import pg from "pg";
import { type DB, type Dialect, openDatabase } from "../../src/db/database.js";
import { migrateTo, migrateToLatest } from "../../src/db/migrate.js";

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

let processDatabase: Promise<string> | null = null;

/**
 * This test process's own database on the PostgreSQL server of `baseURL`, made on first use and
 * dropped when the process ends; each test then gets a schema in it. Test files run in parallel
 * processes, and Kysely's migrator introspects every schema of its database, by name
 * (`has_schema_privilege`): a schema dropped meanwhile by another process failed that query with
 * `schema "t_…" does not exist`. Inside one process tests run one at a time.
 */
function processDatabaseURL(baseURL: string): Promise<string> {
  processDatabase ??= (async () => {
    const url = new URL(baseURL);
    const name = `${url.pathname.slice(1).slice(0, 40)}_p${process.pid}_${randomBytes(3).toString("hex")}`;
    const admin = new pg.Client({ connectionString: baseURL });
    await admin.connect();
    await admin.query(`create database "${name}"`);
    await admin.end();
    process.once("beforeExit", async () => {
      const cleanup = new pg.Client({ connectionString: baseURL });
      await cleanup.connect();
      await cleanup.query(`drop database if exists "${name}" with (force)`);
      await cleanup.end();
    });
    url.pathname = `/${name}`;
    return url.href;
  })();
  return processDatabase;
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
 * in the test PostgreSQL database. Dropped when the test ends. `upTo` stops the migrations at that
 * one, for a test of what a later migration does to rows already there.
 */
export async function freshDatabase(
  t: TestContext,
  dialect: Dialect,
  options?: { upTo?: string },
): Promise<TestDatabase> {
  const migrate = (db: DB) =>
    options?.upTo === undefined ? migrateToLatest(db) : migrateTo(db, options.upTo);
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "rekey-test-"));
    const file = join(dir, "rekey.db");
    const url = `sqlite:${file}`;
    const db = openDatabase(url);
    t.after(async () => {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    });
    await migrate(db);
    return { db, url, file };
  }
  if (POSTGRES_URL === undefined) {
    throw new Error("PostgreSQL requested but REKEY_TEST_POSTGRES_URL is not set");
  }
  const processURL = await processDatabaseURL(POSTGRES_URL);
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: processURL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = new URL(processURL);
  url.searchParams.set("options", `-c search_path=${schema}`);
  const db = openDatabase(url.href, { poolSize: 20 });
  t.after(async () => {
    await db.close();
    const cleanup = new pg.Client({ connectionString: processURL });
    await cleanup.connect();
    await cleanup.query(`drop schema ${schema} cascade`);
    await cleanup.end();
  });
  // Kysely's migrator looks for its own tables in every schema when it is given none, so a schema
  // left over from an earlier test would make it skip creating them here and then fail with
  // `relation "kysely_migration_lock" does not exist`. Creating them in this schema first keeps
  // every later migrateToLatest (here and in openDeps) on this schema's tables.
  await new Migrator({
    db: db.kysely,
    provider: { getMigrations: async () => ({}) },
    migrationTableSchema: schema,
  }).migrateToLatest();
  await migrate(db);
  return { db, url: url.href, file: null };
}
