// `npm run bench`: the real Rekey server and the limits (a bare fastify route, a bare argon2id
// verify), each in its own child process, under the same autocannon load, on a fresh SQLite file and
// on a fresh PostgreSQL database; then the courier, in a process of its own, to an SMTP sink. Prints
// ONE table (every scenario on both databases, each beside its limit measured in the same run), the
// targets met or missed, and writes it all to bench/results/<YYYY-MM-DD>.json. Speed is measured
// here, never asserted in a timed test (design.md, "Quality bars").
//
// Settings: BENCH_DURATION (seconds per scenario, default 10), BENCH_CONNECTIONS (default 10),
// BENCH_WARMUP (unmeasured seconds before each, default 1), BENCH_USERS (seeded users, default 1000),
// BENCH_LOGIN_USERS (of those, how many get a password for the login scenario, default 10),
// BENCH_COURIER_MAILS (default 2000), BENCH_POSTGRES_URL (server to create the database on, default
// postgres://postgres@127.0.0.1:5432). For looking into one figure: BENCH_ONLY (comma-separated
// parts of scenario names, "courier" included; the limits always run) and BENCH_DIALECTS
// (sqlite,postgres); such a partial run is written to bench/results/<date>-partial.json.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ChildServer,
  childEnv,
  freePort,
  procStatusBytes,
  startChild,
  stopChild,
  waitUntilReady,
} from "./lib/children.js";
import { type BenchDatabase, freshPostgres, freshSQLite, POSTGRES_SERVER } from "./lib/databases.js";
import { flowScenarios } from "./lib/flow-scenarios.js";
import { type FlowFigures, runFlow } from "./lib/flows.js";
import { type LoadSettings, runScenario, type ScenarioFigures } from "./lib/load.js";
import { describeMachine, loadAverage, machineLine } from "./lib/report.js";
import {
  AGAIN,
  type CourierFigures,
  type DialectRun,
  finishReport,
  rateFlows,
  rateScenarios,
  writeRunReport,
} from "./lib/run-report.js";
import { formatRunReport } from "./lib/run-table.js";
import { ARGON2_LIMIT_PASSWORD, type BenchContext, SCENARIOS } from "./lib/scenarios.js";
import { type SeededUser, seedUserRecords, setPasswords } from "./lib/seed.js";
import { totpPool } from "./lib/totp-pool.js";
import { warnAboutFailures, warnAboutFlow } from "./lib/warnings.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS_DIR = join(ROOT, "bench", "results");

const ONLY = (process.env["BENCH_ONLY"] ?? "")
  .split(",")
  .map((part) => part.trim().toLowerCase())
  .filter((part) => part !== "");

/** Whether BENCH_ONLY lets scenario `name` run (every one when it is unset). */
function selected(name: string): boolean {
  return ONLY.length === 0 || ONLY.some((part) => name.toLowerCase().includes(part));
}

function wholeNumberSetting(name: string, fallback: number, min: number): number {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new Error(`${name}: expected a whole number of at least ${min}, got "${value}"`);
  }
  return Number(value);
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
  const env = childEnv();
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
      // Operations carry X-Forwarded-For from 198.18.0.0/15, one address each (bench/lib/seed.ts).
      REKEY_TRUST_PROXY: "true",
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

interface Measured {
  scenarios: ScenarioFigures[];
  flows: FlowFigures[];
  failed: boolean;
  /** What the flows say about how they are driven, printed under the table. */
  notes: string[];
}

async function runAll(
  servers: Servers,
  settings: LoadSettings,
  users: SeededUser[],
  loginUsers: string[],
): Promise<Measured> {
  const measured: Measured = { scenarios: [], flows: [], failed: false, notes: [] };
  for (const scenario of SCENARIOS.filter((s) => s.server === "bare" || selected(s.name))) {
    process.stdout.write(`  ${scenario.name} … `);
    const server = scenario.server === "bare" ? servers.bare : servers.rekey;
    const figures = await runScenario(scenario, servers.context, server, settings);
    process.stdout.write(`${figures.requestsPerSecond.toFixed(0)} req/s\n`);
    measured.failed = warnAboutFailures(figures) || measured.failed;
    measured.scenarios.push(figures);
  }
  const flows = flowScenarios({
    bench: servers.context,
    users,
    loginUsers,
    totpPool: totpPool(servers.context),
  });
  for (const flow of flows.filter((f) => selected(f.name))) {
    if (flow.note !== undefined) measured.notes.push(flow.note);
    process.stdout.write(`  ${flow.name} … `);
    const figures = await runFlow(flow, servers.context.rekeyURL, servers.rekey, settings);
    process.stdout.write(
      `${figures.operationsPerSecond.toFixed(0)} ops/s (${figures.completed} in ${figures.seconds} s)\n`,
    );
    measured.failed = warnAboutFlow(figures) || measured.failed;
    measured.flows.push(figures);
  }
  // The limits again: the machine's other work changes over a run, and a ratio to a limit measured
  // at one moment would carry that moment's noise.
  for (const scenario of SCENARIOS.filter((s) => s.server === "bare")) {
    const again = { ...scenario, name: scenario.name + AGAIN };
    process.stdout.write(`  ${again.name} … `);
    const figures = await runScenario(again, servers.context, servers.bare, settings);
    process.stdout.write(`${figures.requestsPerSecond.toFixed(0)} req/s\n`);
    measured.failed = warnAboutFailures(figures) || measured.failed;
    measured.scenarios.push(figures);
  }
  return measured;
}

/** bench/courier.ts in a process of its own ("from one process"), on a fresh database of the dialect. */
async function measureCourier(
  dialect: "sqlite" | "postgres",
  mails: number,
): Promise<CourierFigures | { failed: string }> {
  const args = ["--import", "tsx", "bench/courier.ts", String(mails), "--json"];
  if (dialect === "postgres") args.push("--postgres");
  try {
    const { stdout } = await promisify(execFile)(process.execPath, args, {
      cwd: ROOT,
      env: childEnv(),
      timeout: 300_000,
    });
    const json = stdout.split("\n").find((line) => line.startsWith("{"));
    if (json === undefined) return { failed: `no figures in its output: ${stdout.slice(0, 300)}` };
    return JSON.parse(json) as CourierFigures;
  } catch (error) {
    const failure = error as { message: string; stdout?: string; stderr?: string };
    return { failed: `${failure.message} ${failure.stdout ?? ""} ${failure.stderr ?? ""}`.slice(0, 600) };
  }
}

interface Counts {
  users: number;
  loginUsers: number;
  mails: number;
}

/** One database from start to finish: servers, seed, scenarios, flows, then the courier. */
async function benchDatabase(
  database: BenchDatabase,
  settings: LoadSettings,
  counts: Counts,
): Promise<{ run: DialectRun; failed: boolean; flowNotes: string[] }> {
  console.log(
    `\n== ${database.dialect} (${database.dialect === "sqlite" ? database.url : "fresh database on " + POSTGRES_SERVER})`,
  );
  const servers = await startServers(database);
  let measured: Measured;
  let seed: DialectRun["seed"];
  let rekeyLifetimePeakRSSBytes: number | null;
  try {
    const seedStarted = performance.now();
    const users = await seedUserRecords(servers.context, counts.users);
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    console.log(
      `  seeded ${users.length} users through POST /api/v3/core/users/ in ${seedSeconds.toFixed(1)} s`,
    );
    const passwordStarted = performance.now();
    const loginUsers = users.slice(0, counts.loginUsers);
    await setPasswords(servers.context, loginUsers, ARGON2_LIMIT_PASSWORD);
    const loginSeconds = (performance.now() - passwordStarted) / 1000;
    seed = { users: users.length, seconds: seedSeconds, loginUsers: loginUsers.length, loginSeconds };
    measured = await runAll(
      servers,
      settings,
      users,
      loginUsers.map((user) => user.username),
    );
    rekeyLifetimePeakRSSBytes = procStatusBytes(servers.rekey.pid, "VmHWM");
  } finally {
    await Promise.all([stopChild(servers.bare), stopChild(servers.rekey)]);
  }
  let courier: DialectRun["courier"] = null;
  if (selected("courier")) {
    process.stdout.write(`  courier, ${counts.mails} mails … `);
    courier = await measureCourier(database.dialect, counts.mails);
    process.stdout.write(
      "mailsPerSecond" in courier
        ? `${courier.mailsPerSecond.toFixed(0)} mails/s\n`
        : `FAILED: ${courier.failed}\n`,
    );
  }
  const run: DialectRun = {
    dialect: database.dialect,
    seed,
    scenarios: rateScenarios(measured.scenarios),
    flows: rateFlows(measured.flows, measured.scenarios),
    courier,
    rekeyLifetimePeakRSSBytes,
    loadAverageAtEnd: loadAverage(),
  };
  const failed = measured.failed || (courier !== null && !("correct" in courier && courier.correct));
  return { run, failed, flowNotes: measured.notes };
}

async function databases(): Promise<{ made: BenchDatabase[]; notes: string[] }> {
  const wanted = (process.env["BENCH_DIALECTS"] ?? "sqlite,postgres").split(",").map((d) => d.trim());
  if (!wanted.includes("postgres")) return { made: [freshSQLite()], notes: [] };
  const postgres = await freshPostgres();
  if ("unreachable" in postgres) {
    console.warn("\n" + "*".repeat(100));
    console.warn(`*** PostgreSQL at ${POSTGRES_SERVER} is unreachable: ${postgres.unreachable}`);
    console.warn(
      "*** Running on SQLite ONLY. Set BENCH_POSTGRES_URL or start PostgreSQL for the PostgreSQL figures.",
    );
    console.warn("*".repeat(100) + "\n");
    return {
      made: [freshSQLite()],
      notes: [`PostgreSQL was unreachable (${postgres.unreachable}): SQLite only.`],
    };
  }
  return { made: wanted.includes("sqlite") ? [freshSQLite(), postgres] : [postgres], notes: [] };
}

async function main(): Promise<number> {
  const settings: LoadSettings = {
    durationSeconds: wholeNumberSetting("BENCH_DURATION", 10, 1),
    warmupSeconds: wholeNumberSetting("BENCH_WARMUP", 1, 0),
    connections: wholeNumberSetting("BENCH_CONNECTIONS", 10, 1),
  };
  const counts: Counts = {
    users: wholeNumberSetting("BENCH_USERS", 1000, 1),
    loginUsers: wholeNumberSetting("BENCH_LOGIN_USERS", 10, 1),
    mails: wholeNumberSetting("BENCH_COURIER_MAILS", 2000, 1),
  };
  counts.loginUsers = Math.min(counts.loginUsers, counts.users);
  const machine = describeMachine();
  console.log(`machine: ${machineLine(machine)}`);
  const { made, notes } = await databases();
  const runs: DialectRun[] = [];
  let allAnswered = true;
  try {
    for (const database of made) {
      const { run, failed, flowNotes } = await benchDatabase(database, settings, counts);
      runs.push(run);
      notes.push(...flowNotes);
      allAnswered = !failed && allAnswered;
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
  const report = finishReport(machine, settings, runs, [...new Set(notes)]);
  const partial = ONLY.length > 0 || process.env["BENCH_DIALECTS"] !== undefined;
  const written = writeRunReport(RESULTS_DIR, report, partial ? "-partial" : "");
  console.log(`\n${formatRunReport(report)}`);
  console.log(`written to ${written}`);
  if (!allAnswered) {
    console.warn(
      "\nSome scenarios got unexpected answers or connection errors, or finished no operation: their figures do not measure the intended path.",
    );
  }
  return allAnswered ? 0 : 1;
}

process.exitCode = await main();
