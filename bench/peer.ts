// `npm run bench:peer`: Rekey and better-auth side by side (issue 6, benchmarks item 2). For each
// database kind (a SQLite file, then a fresh PostgreSQL database) both servers run in their own child
// processes on databases of that kind; each operation is driven with autocannon on Rekey and then on
// better-auth, one after the other in the same run, with the same connections and warm-up. Prints one
// table per database (req/s, p99, ratio Rekey / better-auth) and writes bench/results/<date>-peer.json.
//
// better-auth lives in bench/peer-better-auth/ with its own package.json: install it once with
// `npm install --no-audit --no-fund` in that folder.
//
// Settings: BENCH_DURATION (seconds per timed operation, default 10), BENCH_WARMUP (default 1),
// BENCH_CONNECTIONS (default 10), BENCH_PEER_AMOUNT (requests per pooled operation — password-reset
// request and TOTP verification use a fresh secret each — default 1000), BENCH_POSTGRES_URL.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { procStatusBytes, stopChild } from "./lib/children.js";
import { describeMachine, loadAverage, type Machine, machineLine } from "./lib/report.js";
import { prepareBetterAuth } from "./peer-better-auth/better-auth-side.js";
import { type DriveSettings, drive, type OperationFigures } from "./peer-better-auth/drive.js";
import { type PeerOperations, ROWS } from "./peer-better-auth/operations.js";
import { prepareRekey } from "./peer-better-auth/rekey-side.js";
import {
  type DatabasePair,
  postgresPair,
  type Running,
  sqlitePair,
  startBetterAuth,
  startRekey,
} from "./peer-better-auth/servers.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

function wholeNumber(name: string, fallback: number, min: number): number {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new Error(`${name}: expected a whole number of at least ${min}, got "${value}"`);
  }
  return Number(value);
}

interface Row {
  operation: string;
  rekeyRequest: string;
  betterAuthRequest: string;
  rekey: OperationFigures;
  betterAuth: OperationFigures;
  /** Rekey's req/s over better-auth's. */
  ratio: number | null;
}

interface DatabaseResult {
  dialect: "sqlite" | "postgres";
  setupSeconds: { rekey: number; betterAuth: number };
  rows: Row[];
  lifetimePeakRSSBytes: { rekey: number | null; betterAuth: number | null };
  loadAverageAtEnd: number[];
}

function cell(figures: OperationFigures): [string, string, string] {
  const failed = figures.unexpected > 0 || figures.errors > 0 ? " !" : "";
  const cpu = figures.cpuMsPerRequest === null ? "n/a" : figures.cpuMsPerRequest.toFixed(2);
  return [figures.requestsPerSecond.toFixed(0) + failed, String(figures.latencyMs.p99), cpu];
}

/** better-auth's CPU per answer over Rekey's: above 1, Rekey spends less server CPU per request. */
function cpuRatio(row: Row): string {
  const rekey = row.rekey.cpuMsPerRequest;
  const betterAuth = row.betterAuth.cpuMsPerRequest;
  return rekey === null || betterAuth === null || rekey === 0 ? "n/a" : `${(betterAuth / rekey).toFixed(2)}×`;
}

function formatTable(result: DatabaseResult): string {
  const header = [
    "operation",
    "Rekey req/s",
    "p99 ms",
    "CPU ms/req",
    "better-auth req/s",
    "p99 ms",
    "CPU ms/req",
    "req/s Rekey/b-a",
    "CPU b-a/Rekey",
  ];
  const rows = result.rows.map((row) => [
    row.operation,
    ...cell(row.rekey),
    ...cell(row.betterAuth),
    row.ratio === null ? "n/a" : `${row.ratio.toFixed(2)}×`,
    cpuRatio(row),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((cells) => cells[column]!.length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((text, column) => (column === 0 ? text.padEnd(widths[column]!) : text.padStart(widths[column]!))).join(" | ")} |`;
  const rule = `|${widths.map((width, column) => (column === 0 ? "-".repeat(width + 2) : `${"-".repeat(width + 1)}:`)).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

function warnIfFailed(server: string, operation: string, figures: OperationFigures): void {
  if (figures.serverLogLineCount > 0) {
    console.warn(`!!! ${server} logged ${figures.serverLogLineCount} lines during "${operation}"; the last:`);
    for (const line of figures.serverLogTail) console.warn(`    ${line.slice(0, 300)}`);
  }
  if (figures.unexpected === 0 && figures.errors === 0) return;
  console.warn(
    `!!! ${server}, ${operation}: ${figures.unexpected} unexpected answers ${JSON.stringify(figures.statusCodes)}, ` +
      `${figures.errors} errors; probe answered ${figures.probe.status}: ${figures.probe.body}`,
  );
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await work();
  return { value, seconds: (performance.now() - started) / 1000 };
}

async function compare(
  rekey: Running,
  betterAuth: Running,
  operations: { rekey: PeerOperations; betterAuth: PeerOperations },
  settings: DriveSettings,
): Promise<Row[]> {
  const rows: Row[] = [];
  const measuredBetterAuth = new Map<string, OperationFigures>();
  for (const row of ROWS) {
    const rekeyOperation = operations.rekey[row.key];
    if (rekeyOperation === undefined) continue;
    process.stdout.write(`  ${row.label} … Rekey `);
    const rekeyFigures = await drive(rekey.child, rekey.origin, rekeyOperation, settings);
    process.stdout.write(`${rekeyFigures.requestsPerSecond.toFixed(0)} req/s, better-auth `);
    // Both Rekey reads compare with the one better-auth read; it is measured once, on its first row.
    const betterAuthOperation = operations.betterAuth[row.key] ?? operations.betterAuth.sessionRead;
    const known = measuredBetterAuth.get(row.betterAuth);
    const betterAuthFigures =
      known ?? (await drive(betterAuth.child, betterAuth.origin, betterAuthOperation, settings));
    measuredBetterAuth.set(row.betterAuth, betterAuthFigures);
    process.stdout.write(
      `${betterAuthFigures.requestsPerSecond.toFixed(0)} req/s${known ? " (same as above)" : ""}\n`,
    );
    warnIfFailed("Rekey", row.label, rekeyFigures);
    warnIfFailed("better-auth", row.label, betterAuthFigures);
    rows.push({
      operation: row.label,
      rekeyRequest: row.rekey,
      betterAuthRequest: row.betterAuth,
      rekey: rekeyFigures,
      betterAuth: betterAuthFigures,
      ratio:
        betterAuthFigures.requestsPerSecond > 0
          ? rekeyFigures.requestsPerSecond / betterAuthFigures.requestsPerSecond
          : null,
    });
  }
  return rows;
}

async function benchPair(
  pair: DatabasePair,
  settings: DriveSettings,
  amount: number,
): Promise<DatabaseResult> {
  console.log(`\n== ${pair.dialect}`);
  const adminToken = randomBytes(32).toString("base64url");
  const runId = randomBytes(4).toString("hex");
  const warmupAmount = Math.max(settings.connections, Math.round(amount / 10));
  // The probe takes one item, and autocannon may ask for a few more than it sends.
  const pool = amount + warmupAmount + 4 * settings.connections + 10;
  const rekey = await startRekey(pair.rekey, adminToken);
  let betterAuth: Running | null = null;
  try {
    betterAuth = await startBetterAuth(pair.betterAuthURL);
    const counts = { amount, warmupAmount };
    const rekeySetup = await timed(() => prepareRekey(rekey.origin, adminToken, runId, pool, counts));
    console.log(
      `  Rekey: ${pool + 1} users, TOTP devices, sessions and flows made in ${rekeySetup.seconds.toFixed(1)} s`,
    );
    const origin = betterAuth.origin;
    const betterSetup = await timed(() => prepareBetterAuth(origin, runId, pool, counts));
    console.log(
      `  better-auth: ${pool + 1} users, 2FA and challenges made in ${betterSetup.seconds.toFixed(1)} s`,
    );
    const rows = await compare(
      rekey,
      betterAuth,
      { rekey: rekeySetup.value, betterAuth: betterSetup.value },
      settings,
    );
    return {
      dialect: pair.dialect,
      setupSeconds: { rekey: rekeySetup.seconds, betterAuth: betterSetup.seconds },
      rows,
      lifetimePeakRSSBytes: {
        rekey: procStatusBytes(rekey.child.pid, "VmHWM"),
        betterAuth: procStatusBytes(betterAuth.child.pid, "VmHWM"),
      },
      loadAverageAtEnd: loadAverage(),
    };
  } finally {
    await Promise.all([
      stopChild(rekey.child),
      betterAuth === null ? undefined : stopChild(betterAuth.child),
    ]);
  }
}

function writeResults(results: object): string {
  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${new Date().toISOString().slice(0, 10)}-peer.json`);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(results, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  return path;
}

async function main(): Promise<number> {
  if (!existsSync(join(ROOT, "bench", "peer-better-auth", "node_modules", "better-auth"))) {
    console.error(
      "better-auth is not installed: run `npm install --no-audit --no-fund` in bench/peer-better-auth/",
    );
    return 2;
  }
  const settings: DriveSettings = {
    durationSeconds: wholeNumber("BENCH_DURATION", 10, 1),
    warmupSeconds: wholeNumber("BENCH_WARMUP", 1, 0),
    connections: wholeNumber("BENCH_CONNECTIONS", 10, 1),
  };
  const amount = wholeNumber("BENCH_PEER_AMOUNT", 1000, 10);
  const machine: Machine = describeMachine();
  console.log(`machine: ${machineLine(machine)}`);
  const results: DatabaseResult[] = [];
  const pairs: (() => Promise<DatabasePair | null>)[] = [async () => sqlitePair(), postgresPair];
  let failed = false;
  for (const makePair of pairs) {
    const pair = await makePair();
    if (pair === null) continue;
    try {
      const result = await benchPair(pair, settings, amount);
      results.push(result);
      console.log(
        `\n${pair.dialect}: ${settings.durationSeconds} s per timed operation, ${amount} requests per pooled one, ` +
          `${settings.connections} connections; load average at end ${result.loadAverageAtEnd.join(" ")}`,
      );
      console.log(formatTable(result));
      failed ||= result.rows.some((row) =>
        [row.rekey, row.betterAuth].some((f) => f.unexpected > 0 || f.errors > 0),
      );
    } finally {
      await pair
        .drop()
        .catch((error: Error) => console.warn(`could not remove the databases: ${error.message}`));
    }
  }
  console.log(`\nmachine: ${machineLine(machine)}`);
  console.log(
    `written to ${writeResults({ date: new Date().toISOString(), machine, settings, amount, results })}`,
  );
  if (failed)
    console.warn("\nRows marked ! had unexpected answers: their figures do not measure the intended path.");
  return failed ? 1 : 0;
}

process.exitCode = await main();
