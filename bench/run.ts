// `npm run bench`: the real Rekey server and a bare fastify route, each in its own child process,
// under the same autocannon load, on a fresh SQLite file and on a fresh PostgreSQL database. Prints
// one table per database with every scenario's req/s as a share of the bare route's in the same run,
// and writes the figures to bench/results/<YYYY-MM-DD>-<dialect>.json. Speed is measured here, never
// asserted in a timed test (design.md, "Quality bars").
//
// Settings: BENCH_DURATION (seconds per scenario, default 10), BENCH_CONNECTIONS (default 10),
// BENCH_WARMUP (unmeasured seconds before each, default 1), BENCH_USERS (seeded users, default 1000),
// BENCH_POSTGRES_URL (server to create the database on, default postgres://postgres@127.0.0.1:5432).
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ChildServer,
  freePort,
  procStatusBytes,
  startChild,
  stopChild,
  waitUntilReady,
} from "./lib/children.js";
import { type BenchDatabase, freshPostgres, freshSQLite, POSTGRES_SERVER } from "./lib/databases.js";
import { type LoadSettings, runScenario, type ScenarioFigures } from "./lib/load.js";
import {
  type DatabaseReport,
  describeMachine,
  formatReport,
  loadAverage,
  type Machine,
  machineLine,
  withRatios,
  writeReport,
} from "./lib/report.js";
import { type BenchContext, SCENARIOS } from "./lib/scenarios.js";
import { seedUsers } from "./lib/seed.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS_DIR = join(ROOT, "bench", "results");

function wholeNumberSetting(name: string, fallback: number, min: number): number {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new Error(`${name}: expected a whole number of at least ${min}, got "${value}"`);
  }
  return Number(value);
}

/** This process's environment without REKEY_*: the children get exactly the settings given here. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith("REKEY_")) env[name] = value;
  }
  return env;
}

interface Servers {
  bare: ChildServer;
  rekey: ChildServer;
  context: BenchContext;
}

async function startServers(database: BenchDatabase): Promise<Servers> {
  const barePort = await freePort();
  const rekeyPort = await freePort();
  const adminToken = randomBytes(32).toString("base64url");
  const context: BenchContext = {
    bareURL: `http://127.0.0.1:${barePort}`,
    rekeyURL: `http://127.0.0.1:${rekeyPort}`,
    adminToken,
    runId: randomBytes(4).toString("hex"),
  };
  const env = cleanEnv();
  const bare = startChild(
    "bare fastify",
    ["--import", "tsx", "bench/bare.ts"],
    { ...env, BENCH_BARE_PORT: String(barePort) },
    ROOT,
  );
  const rekey = startChild(
    "rekey serve",
    ["bin/rekey.js", "serve"],
    {
      ...env,
      REKEY_DATABASE_URL: database.url,
      REKEY_LISTEN: `127.0.0.1:${rekeyPort}`,
      REKEY_PUBLIC_URL: context.rekeyURL,
      REKEY_SECRET_KEY: randomBytes(32).toString("base64url"),
      REKEY_BOOTSTRAP_TOKEN: adminToken,
      REKEY_LOG_LEVEL: "warn",
    },
    ROOT,
  );
  try {
    await waitUntilReady(bare, `${context.bareURL}/`, {});
    await waitUntilReady(rekey, `${context.rekeyURL}/api/v3/core/users/me/`, {
      authorization: `Bearer ${adminToken}`,
    });
  } catch (error) {
    await Promise.all([stopChild(bare), stopChild(rekey)]);
    throw error;
  }
  return { bare, rekey, context };
}

function warnAboutFailures(figures: ScenarioFigures): boolean {
  const failed = figures.non2xx > 0 || figures.errors > 0 || figures.probe.status >= 300;
  if (failed) {
    console.warn(
      `\n!!! ${figures.name}: ${figures.non2xx} non-2xx (${JSON.stringify(figures.statusCodes)}), ${figures.errors} errors`,
    );
    console.warn(`!!! probe answered ${figures.probe.status}: ${figures.probe.body}`);
  }
  if (figures.serverLogLineCount > 0) {
    console.warn(
      `!!! the server logged ${figures.serverLogLineCount} lines during "${figures.name}"; the last:`,
    );
    for (const line of figures.serverLogTail) console.warn(`    ${line.slice(0, 400)}`);
  }
  return failed;
}

async function runScenarios(
  servers: Servers,
  settings: LoadSettings,
): Promise<{ figures: ScenarioFigures[]; failed: boolean }> {
  const figures: ScenarioFigures[] = [];
  let failed = false;
  for (const scenario of SCENARIOS) {
    process.stdout.write(`  ${scenario.name} … `);
    const server = scenario.server === "bare" ? servers.bare : servers.rekey;
    const measured = await runScenario(scenario, servers.context, server, settings);
    process.stdout.write(`${measured.requestsPerSecond.toFixed(0)} req/s\n`);
    failed = warnAboutFailures(measured) || failed;
    figures.push(measured);
  }
  return { figures, failed };
}

/** One database from start to finish: servers, seed, scenarios, table, JSON. True when all answered 2xx. */
async function benchDatabase(
  database: BenchDatabase,
  machine: Machine,
  settings: LoadSettings,
  users: number,
): Promise<boolean> {
  console.log(
    `\n== ${database.dialect} (${database.dialect === "sqlite" ? database.url : "fresh database on " + POSTGRES_SERVER})`,
  );
  const servers = await startServers(database);
  try {
    const seedSeconds = await seedUsers(servers.context, users);
    console.log(`  seeded ${users} users through POST /api/v3/core/users/ in ${seedSeconds.toFixed(1)} s`);
    const { figures, failed } = await runScenarios(servers, settings);
    const report: DatabaseReport = {
      date: new Date().toISOString(),
      dialect: database.dialect,
      machine,
      settings,
      seed: { users, seconds: seedSeconds },
      scenarios: withRatios(figures),
      rekeyLifetimePeakRSSBytes: procStatusBytes(servers.rekey.pid, "VmHWM"),
      loadAverageAtEnd: loadAverage(),
    };
    console.log(`\n${formatReport(report)}`);
    console.log(`written to ${writeReport(RESULTS_DIR, report)}`);
    return !failed;
  } finally {
    await Promise.all([stopChild(servers.bare), stopChild(servers.rekey)]);
  }
}

async function databases(): Promise<BenchDatabase[]> {
  const postgres = await freshPostgres();
  if ("unreachable" in postgres) {
    console.warn("\n" + "*".repeat(100));
    console.warn(`*** PostgreSQL at ${POSTGRES_SERVER} is unreachable: ${postgres.unreachable}`);
    console.warn(
      "*** Running on SQLite ONLY. Set BENCH_POSTGRES_URL or start PostgreSQL for the PostgreSQL figures.",
    );
    console.warn("*".repeat(100) + "\n");
    return [freshSQLite()];
  }
  return [freshSQLite(), postgres];
}

async function main(): Promise<number> {
  const settings: LoadSettings = {
    durationSeconds: wholeNumberSetting("BENCH_DURATION", 10, 1),
    warmupSeconds: wholeNumberSetting("BENCH_WARMUP", 1, 0),
    connections: wholeNumberSetting("BENCH_CONNECTIONS", 10, 1),
  };
  const users = wholeNumberSetting("BENCH_USERS", 1000, 0);
  const machine = describeMachine();
  console.log(`machine: ${machineLine(machine)}`);
  const made = await databases();
  let allAnswered = true;
  try {
    for (const database of made) {
      allAnswered = (await benchDatabase(database, machine, settings, users)) && allAnswered;
    }
  } finally {
    for (const database of made) {
      await database
        .drop()
        .catch((error: Error) =>
          console.warn(`could not remove the ${database.dialect} database: ${error.message}`),
        );
    }
  }
  if (!allAnswered) {
    console.warn(
      "\nSome scenarios got non-2xx answers or connection errors: their figures do not measure the intended path.",
    );
  }
  return allAnswered ? 0 : 1;
}

process.exitCode = await main();
