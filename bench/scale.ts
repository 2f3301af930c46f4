// `npm run bench:scale`: does Rekey stay fast with a million users? For each database and each size
// (SCALE_BASE_USERS, then SCALE_USERS) it makes a fresh database, runs the migrations, bulk-loads
// users, group memberships and tokens (bench/lib/bulk.ts), lets the import settle (settle below),
// proves through the real API that loaded keys authenticate and open, runs the read and create
// scenarios, explains the hot queries, and drops the database. It then compares each scenario's p99 at scale with the small size's: the target is
// at most 1.5×. Figures go to bench/results/<YYYY-MM-DD>-scale-<dialects>.json.
//
// Settings: SCALE_DIALECTS (default "postgres,sqlite"), SCALE_BASE_USERS (1000), SCALE_USERS
// (1000000), SCALE_TOKENS_PER_USER (10, PostgreSQL), SCALE_SQLITE_TOKENS_PER_USER (1),
// SCALE_SAMPLE_KEYS (10000: keys kept for the checks and the cache-missing read), and run.ts's
// BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_POSTGRES_URL.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { sha256Hex } from "../src/crypto/secrets.js";
import { openDatabase, sqlitePath } from "../src/db/database.js";
import { migrateToLatest } from "../src/db/migrate.js";
import { type BulkReport, bulkLoad, type SampleKey } from "./lib/bulk.js";
import {
  type ChildServer,
  childEnv,
  freePort,
  startChild,
  stopChild,
  waitUntilReady,
} from "./lib/children.js";
import { type BenchDatabase, freshPostgres, freshSQLite } from "./lib/databases.js";
import { type LoadSettings, runScenario } from "./lib/load.js";
import { describeMachine, loadAverage, machineLine } from "./lib/report.js";
import { type BenchContext, SCENARIOS, type Scenario } from "./lib/scenarios.js";
import { formatPlans, postgresPlans, type QueryPlan, sqlitePlans } from "./lib/scale-plans.js";
import { type Latency, measureRotatingRead, verifyLoadedRows } from "./lib/scale-checks.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const TARGET_RATIO = 1.5;

function setting(name: string, fallback: number, min: number): number {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new Error(`${name}: expected a whole number of at least ${min}, got "${value}"`);
  }
  return Number(value);
}

interface Tier {
  dialect: "sqlite" | "postgres";
  users: number;
  tokens: number;
  load: Omit<BulkReport, "samples">;
  databaseBytes: number;
  tableBytes: Record<string, number>;
  /** Seconds `settle` took after the load. */
  settleSeconds: number;
  verified: string[];
  scenarios: Latency[];
  plans: QueryPlan[];
  loadAverageAfter: number[];
}

async function startRekey(
  url: string,
  secret: string,
): Promise<{ child: ChildServer; context: BenchContext }> {
  const port = await freePort();
  const adminToken = randomBytes(32).toString("base64url");
  const context: BenchContext = {
    bareURL: "http://127.0.0.1:1", // no bare route in this run
    rekeyURL: `http://127.0.0.1:${port}`,
    adminToken,
    runId: randomBytes(4).toString("hex"),
  };
  const child = startChild(
    "rekey serve",
    ["bin/rekey.js", "serve"],
    {
      ...childEnv(),
      REKEY_DATABASE_URL: url,
      REKEY_LISTEN: `127.0.0.1:${port}`,
      REKEY_PUBLIC_URL: context.rekeyURL,
      REKEY_SECRET_KEY: secret,
      REKEY_BOOTSTRAP_TOKEN: adminToken,
      REKEY_LOG_LEVEL: "warn",
    },
    ROOT,
  );
  try {
    await waitUntilReady(child, `${context.rekeyURL}/api/v3/core/users/me/`, {
      authorization: `Bearer ${adminToken}`,
    });
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { child, context };
}

async function sizes(database: BenchDatabase): Promise<{ total: number; tables: Record<string, number> }> {
  if (database.dialect === "sqlite") {
    const path = sqlitePath(database.url);
    const wal = (() => {
      try {
        return statSync(`${path}-wal`).size;
      } catch {
        return 0;
      }
    })();
    return { total: statSync(path).size + wal, tables: {} };
  }
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const total = await client.query<{ n: string }>("select pg_database_size(current_database()) as n");
    const tables = await client.query<{ name: string; n: string }>(
      `select c.relname as name, pg_total_relation_size(c.oid) as n from pg_class c
       where c.relname in ('user', 'token', 'group_member', 'event') and c.relkind = 'r'`,
    );
    return {
      total: Number(total.rows[0]!.n),
      tables: Object.fromEntries(tables.rows.map((row) => [row.name, Number(row.n)])),
    };
  } finally {
    await client.end();
  }
}

/**
 * Lets the import settle before anything is measured: the scenarios are to show a database of this
 * size at work, not the tail of its import. Right after a bulk load the kernel may still hold
 * gigabytes of the load's dirty pages and PostgreSQL its dirty buffers, and a loaded row's first
 * reader may have to set its hint bits. Several runs' p99 at 10M tokens moved a lot from one run to
 * the next (docs/performance.md), and each scenario now reports the disk writes made while it ran.
 * VACUUM sets hint bits and the visibility map (what autovacuum does after an import), CHECKPOINT
 * writes PostgreSQL's dirty buffers, and sync(1) the kernel's.
 */
async function settle(dialect: "sqlite" | "postgres", url: string): Promise<number> {
  const started = performance.now();
  if (dialect === "postgres") {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('vacuum "user", group_member, "group", token');
      await client.query("checkpoint");
    } finally {
      await client.end();
    }
  }
  const synced = spawnSync("sync", { encoding: "utf8" });
  if (synced.status !== 0) throw new Error(`sync failed: ${synced.stderr || synced.error?.message}`);
  return (performance.now() - started) / 1000;
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function runTier(
  dialect: "sqlite" | "postgres",
  users: number,
  tokens: number,
  settings: LoadSettings,
  sampleKeys: number,
): Promise<Tier> {
  const made = dialect === "sqlite" ? freshSQLite() : await freshPostgres();
  if ("unreachable" in made) throw new Error(`PostgreSQL unreachable: ${made.unreachable}`);
  const database = made;
  console.log(`\n== ${dialect}: ${users} users, ${tokens} tokens (${database.url})`);
  try {
    const db = openDatabase(database.url);
    await migrateToLatest(db);
    await db.close();
    const secret = randomBytes(32).toString("base64url");
    const loaded = await bulkLoad(database.url, {
      users,
      tokens,
      serverSecret: secret,
      sampleKeys,
      progress: (line) => console.log(`  ${line}`),
    });
    const { samples, ...load } = loaded;
    console.log(
      `  loaded in ${load.seconds.total.toFixed(1)} s (users ${load.seconds.users.toFixed(1)}, tokens ${load.seconds.tokens.toFixed(1)}, keys+indexes ${load.seconds.indexes.toFixed(1)}); load average ${loadAverage().join(" ")}`,
    );
    const settleSeconds = await settle(dialect, database.url);
    console.log(
      `  settled in ${settleSeconds.toFixed(1)} s (${dialect === "postgres" ? "VACUUM, CHECKPOINT, " : ""}sync); load average ${loadAverage().join(" ")}`,
    );
    const size = await sizes(database);
    console.log(
      `  database size ${mib(size.total)} ${JSON.stringify(Object.fromEntries(Object.entries(size.tables).map(([k, v]) => [k, mib(v)])))}`,
    );
    const { child, context } = await startRekey(database.url, secret);
    let scenarios: Latency[];
    let verified: string[];
    try {
      verified = await verifyLoadedRows(context, samples);
      for (const line of verified) console.log(`  ✓ ${line}`);
      scenarios = await runScenarios(child, context, settings, samples);
    } finally {
      await stopChild(child);
    }
    const subject = samples.find((sample) => sample.intent === "api")!;
    const planSubject = { keyHash: sha256Hex(subject.key), username: subject.username };
    const plans =
      dialect === "sqlite"
        ? await sqlitePlans(database.url, planSubject)
        : await postgresPlans(database.url, planSubject);
    console.log(formatPlans(plans));
    return {
      dialect,
      users,
      tokens,
      load,
      databaseBytes: size.total,
      tableBytes: size.tables,
      settleSeconds,
      verified,
      scenarios,
      plans,
      loadAverageAfter: loadAverage(),
    };
  } finally {
    await database.drop();
  }
}

async function runScenarios(
  child: ChildServer,
  context: BenchContext,
  settings: LoadSettings,
  samples: SampleKey[],
): Promise<Latency[]> {
  const out: Latency[] = [];
  const chosen = SCENARIOS.filter(
    (scenario) =>
      scenario.server === "rekey" &&
      ((scenario.method === "GET" && scenario.path === "/api/v3/core/users/me/") ||
        (scenario.method === "POST" && scenario.path === "/api/v3/core/tokens/")),
  );
  const [reads, writes] = [
    chosen.filter((s) => s.method === "GET"),
    chosen.filter((s) => s.method === "POST"),
  ];
  const measured = async (scenario: Scenario) =>
    fromFigures(await runScenario(scenario, context, child, settings));
  for (const scenario of reads) out.push(await withDiskWrites(() => measured(scenario)));
  // Before any write: a token creation empties the credential cache, which would help this one.
  out.push(await withDiskWrites(() => measureRotatingRead(context, samples, settings)));
  for (const scenario of writes) out.push(await withDiskWrites(() => measured(scenario)));
  for (const figures of out) {
    const disk =
      figures.diskWrittenMiB === undefined ? "" : `, disk writes ${figures.diskWrittenMiB.toFixed(0)} MiB`;
    console.log(
      `  ${figures.name}: ${figures.requestsPerSecond.toFixed(0)} req/s, p50 ${figures.p50} ms, p99 ${figures.p99} ms, non-2xx ${figures.non2xx}, errors ${figures.errors}${disk}`,
    );
  }
  return out;
}

/** KiB the kernel has written to block devices since boot (/proc/vmstat pgpgout); null off Linux. */
function kibWrittenToDisk(): number | null {
  try {
    const line = readFileSync("/proc/vmstat", "utf8")
      .split("\n")
      .find((entry) => entry.startsWith("pgpgout "));
    return line === undefined ? null : Number(line.slice("pgpgout ".length));
  } catch {
    return null;
  }
}

/**
 * `measure`'s figures with the disk writes of the whole machine while it ran (warm-up included):
 * the database's own, checkpoints' and the kernel's write-back alike, which is what a p99 at scale
 * can wait behind.
 */
async function withDiskWrites(measure: () => Promise<Latency>): Promise<Latency> {
  const before = kibWrittenToDisk();
  const figures = await measure();
  const after = kibWrittenToDisk();
  return before === null || after === null
    ? figures
    : { ...figures, diskWrittenMiB: (after - before) / 1024 };
}

function fromFigures(figures: Awaited<ReturnType<typeof runScenario>>): Latency {
  return {
    name: figures.name,
    requestsPerSecond: figures.requestsPerSecond,
    p50: figures.latencyMs.p50,
    p99: figures.latencyMs.p99,
    non2xx: figures.non2xx,
    errors: figures.errors,
  };
}

function compare(base: Tier, scaled: Tier): string[] {
  const lines = [
    `${scaled.dialect}: p99 at ${scaled.users} users / ${scaled.tokens} tokens vs ${base.users} users / ${base.tokens} tokens (target ≤ ${TARGET_RATIO}×)`,
  ];
  for (const at of scaled.scenarios) {
    const before = base.scenarios.find((figures) => figures.name === at.name);
    if (before === undefined) continue;
    const ratio = at.p99 / Math.max(before.p99, 1);
    const verdict = at.non2xx + at.errors > 0 ? "FAILED REQUESTS" : ratio <= TARGET_RATIO ? "ok" : "MISSED";
    lines.push(
      `  ${at.name.padEnd(44)} p99 ${String(before.p99).padStart(4)} -> ${String(at.p99).padStart(4)} ms  (${ratio.toFixed(2)}×, ${verdict}); req/s ${before.requestsPerSecond.toFixed(0)} -> ${at.requestsPerSecond.toFixed(0)}`,
    );
  }
  return lines;
}

async function main(): Promise<number> {
  const settings: LoadSettings = {
    durationSeconds: setting("BENCH_DURATION", 10, 1),
    warmupSeconds: setting("BENCH_WARMUP", 1, 0),
    connections: setting("BENCH_CONNECTIONS", 10, 1),
  };
  const baseUsers = setting("SCALE_BASE_USERS", 1000, 1);
  const scaleUsers = setting("SCALE_USERS", 1_000_000, 1);
  // More keys than the credential cache holds (10,000), so the rotating read misses it every time.
  const sampleKeys = setting("SCALE_SAMPLE_KEYS", 20_000, 10);
  const perUser = {
    postgres: setting("SCALE_TOKENS_PER_USER", 10, 1),
    sqlite: setting("SCALE_SQLITE_TOKENS_PER_USER", 1, 1),
  };
  const dialects = (process.env["SCALE_DIALECTS"] ?? "postgres,sqlite").split(",").map((d) => d.trim());
  const machine = describeMachine();
  console.log(`machine: ${machineLine(machine)}`);
  const tiers: Tier[] = [];
  const summary: string[] = [];
  for (const dialect of dialects) {
    if (dialect !== "postgres" && dialect !== "sqlite")
      throw new Error(`SCALE_DIALECTS: unknown "${dialect}"`);
    // At least twice the sampled keys, so that the small size too has them all as api tokens.
    const tokens = (users: number) => Math.max(users * perUser[dialect], 2 * sampleKeys);
    const base = await runTier(dialect, baseUsers, tokens(baseUsers), settings, sampleKeys);
    const scaled = await runTier(dialect, scaleUsers, tokens(scaleUsers), settings, sampleKeys);
    tiers.push(base, scaled);
    summary.push(...compare(base, scaled));
  }
  console.log(`\n${summary.join("\n")}`);
  console.log(`load average at end ${loadAverage().join(" ")}`);
  const report = { date: new Date().toISOString(), machine, settings, tiers, summary };
  const path = join(ROOT, "bench", "results", `${report.date.slice(0, 10)}-scale-${dialects.join("-")}.json`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  console.log(`written to ${path}`);
  const failed = tiers.some((tier) => tier.scenarios.some((s) => s.non2xx + s.errors > 0));
  return failed ? 1 : 0;
}

process.exitCode = await main();
