import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

/** Where the benchmark makes its PostgreSQL database; BENCH_POSTGRES_URL overrides it. */
export const POSTGRES_SERVER = process.env["BENCH_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432";

/** A database made for one benchmark run and removed after it. */
export interface BenchDatabase {
  dialect: "sqlite" | "postgres";
  /** REKEY_DATABASE_URL of the server under load. */
  url: string;
  drop(): Promise<void>;
}

/** A new SQLite file in a new temporary folder; the folder goes when dropped. */
export function freshSQLite(): BenchDatabase {
  const dir = mkdtempSync(join(tmpdir(), "rekey-bench-"));
  return {
    dialect: "sqlite",
    url: `sqlite:${join(dir, "rekey.db")}`,
    async drop(): Promise<void> {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function serverURL(database: string): string {
  const url = new URL(POSTGRES_SERVER);
  url.pathname = `/${database}`;
  return url.href;
}

async function runOnServer(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverURL("postgres"), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A new database on POSTGRES_SERVER, dropped (connections and all) afterwards. Resolves to the
 * reason instead when the server cannot be reached or refuses, so the caller can say so.
 */
export async function freshPostgres(): Promise<BenchDatabase | { unreachable: string }> {
  const name = `rekey_bench_${process.pid}_${Date.now()}`;
  try {
    await runOnServer(`create database ${name}`);
  } catch (error) {
    return { unreachable: error instanceof Error ? error.message : String(error) };
  }
  return {
    dialect: "postgres",
    url: serverURL(name),
    async drop(): Promise<void> {
      await runOnServer(`drop database if exists ${name} with (force)`);
    },
  };
}
