import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import {
  type ChildServer,
  childEnv,
  freePort,
  startChild,
  stopChild,
  waitUntilReady,
} from "../lib/children.js";
import { type BenchDatabase, freshPostgres, freshSQLite, POSTGRES_SERVER } from "../lib/databases.js";

const PEER_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = join(PEER_DIR, "..", "..");

export interface Running {
  child: ChildServer;
  origin: string;
}

/** `rekey serve` on `database`, trusting X-Forwarded-For so the bench can spread client addresses. */
export async function startRekey(database: BenchDatabase, adminToken: string): Promise<Running> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const child = startChild(
    "rekey serve",
    ["bin/rekey.js", "serve"],
    {
      ...childEnv(["REKEY_", "PEER_"]),
      REKEY_DATABASE_URL: database.url,
      REKEY_LISTEN: `127.0.0.1:${port}`,
      REKEY_PUBLIC_URL: origin,
      REKEY_SECRET_KEY: randomBytes(32).toString("base64url"),
      REKEY_BOOTSTRAP_TOKEN: adminToken,
      REKEY_TRUST_PROXY: "true",
      REKEY_LOG_LEVEL: "warn",
    },
    ROOT,
  );
  try {
    await waitUntilReady(child, `${origin}/api/v3/core/users/me/`, { authorization: `Bearer ${adminToken}` });
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { child, origin };
}

/** bench/peer-better-auth/server.mjs on `databaseURL`; it makes its own tables on start. */
export async function startBetterAuth(databaseURL: string): Promise<Running> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const child = startChild(
    "better-auth",
    ["server.mjs"],
    {
      ...childEnv(["REKEY_", "PEER_"]),
      PEER_PORT: String(port),
      PEER_DATABASE_URL: databaseURL,
      PEER_SECRET: randomBytes(32).toString("base64url"),
    },
    PEER_DIR,
  );
  try {
    await waitUntilReady(child, `${origin}/api/auth/ok`, {});
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { child, origin };
}

async function onServer(sql: string): Promise<void> {
  const url = new URL(POSTGRES_SERVER);
  url.pathname = "/postgres";
  const client = new pg.Client({ connectionString: url.href, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The two databases of one kind: Rekey's (bench/lib/databases.ts) and better-auth's, made alike. */
export interface DatabasePair {
  dialect: "sqlite" | "postgres";
  rekey: BenchDatabase;
  betterAuthURL: string;
  drop(): Promise<void>;
}

export function sqlitePair(): DatabasePair {
  const rekey = freshSQLite();
  const dir = mkdtempSync(join(tmpdir(), "peer-better-auth-"));
  return {
    dialect: "sqlite",
    rekey,
    betterAuthURL: `sqlite:${join(dir, "better-auth.db")}`,
    async drop() {
      await rekey.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Null (with the reason printed) when PostgreSQL cannot be reached. */
export async function postgresPair(): Promise<DatabasePair | null> {
  const rekey = await freshPostgres();
  if ("unreachable" in rekey) {
    console.warn(`*** PostgreSQL at ${POSTGRES_SERVER} is unreachable (${rekey.unreachable}): SQLite only`);
    return null;
  }
  const name = `peer_better_auth_${process.pid}_${Date.now()}`;
  await onServer(`create database ${name}`);
  const url = new URL(POSTGRES_SERVER);
  url.pathname = `/${name}`;
  return {
    dialect: "postgres",
    rekey,
    betterAuthURL: url.href,
    async drop() {
      await rekey.drop();
      await onServer(`drop database if exists ${name} with (force)`);
    },
  };
}
