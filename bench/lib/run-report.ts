import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FlowFigures } from "./flows.js";
import type { LoadSettings, ScenarioFigures } from "./load.js";
import { loadAverage, type Machine } from "./report.js";
import { ARGON2_SCENARIO, BARE_SCENARIO } from "./scenarios.js";

/**
 * The one report of `npm run bench`: every scenario on every database in one table, the limits
 * measured in the same run beside them, the targets of issue 6 checked, and all of it written to
 * bench/results/<date>.json.
 */

/** What bench/courier.ts --json prints. */
export interface CourierFigures {
  dialect: "sqlite" | "postgres";
  mails: number;
  queueSeconds: number;
  sendSeconds: number;
  mailsPerSecond: number;
  cpuSeconds: number;
  received: number;
  distinct: number;
  emailSentEvents: number;
  rowsHoldingContent: number;
  peakRSSBytes: number;
  correct: boolean;
}

export interface RatedScenario extends ScenarioFigures {
  limit: string;
  ratio: number | null;
  /** The ratio against the limit's first and second measurement, lowest first. */
  ratioSpread: [number, number] | null;
  /** Server CPU milliseconds per request. */
  cpuMsPerOperation: number | null;
  /** The limit's CPU time per request over this row's: the same ratio on a basis load disturbs less. */
  cpuRatio: number | null;
}

export interface RatedFlow extends FlowFigures {
  ratio: number | null;
  ratioSpread: [number, number] | null;
  /** Server CPU milliseconds per operation (every step). */
  cpuMsPerOperation: number | null;
  cpuRatio: number | null;
}

/** Suffix of a limit measured a second time, after every other scenario of the database. */
export const AGAIN = " (again)";

export interface DialectRun {
  dialect: "sqlite" | "postgres";
  seed: { users: number; seconds: number; loginUsers: number; loginSeconds: number };
  scenarios: RatedScenario[];
  flows: RatedFlow[];
  /** Null when BENCH_ONLY left the courier out. */
  courier: CourierFigures | { failed: string } | null;
  /** Rekey's VmHWM when its last scenario ended: startup and seeding included. */
  rekeyLifetimePeakRSSBytes: number | null;
  loadAverageAtEnd: number[];
}

export interface TargetCheck {
  dialect: "sqlite" | "postgres";
  target: string;
  measured: string;
  met: boolean | null;
}

export interface RunReport {
  date: string;
  machine: Machine;
  settings: LoadSettings;
  dialects: DialectRun[];
  targets: TargetCheck[];
  loadAverageAtEnd: number[];
  notes: string[];
}

function isLimit(name: string): boolean {
  const base = name.endsWith(AGAIN) ? name.slice(0, -AGAIN.length) : name;
  return base === BARE_SCENARIO || base === ARGON2_SCENARIO;
}

function cpuMsPer(cpuSeconds: number | null | undefined, count: number): number | null {
  return cpuSeconds === null || cpuSeconds === undefined || count === 0 ? null : (cpuSeconds * 1000) / count;
}

function mean(values: number[]): number | null {
  return values.length === 0 ? null : values.reduce((sum, value) => sum + value, 0) / values.length;
}

/**
 * A limit's req/s and CPU ms per request over its measurements (before the scenarios, and again
 * after them), so a burst of other work on the machine during one of them weighs half.
 */
function limitOf(
  scenarios: ScenarioFigures[],
  name: string,
): { rps: number | null; cpuMs: number | null; each: number[] } {
  const measured = scenarios.filter((s) => s.name === name || s.name === name + AGAIN);
  const each = measured.map((s) => s.requestsPerSecond).filter((rate) => rate > 0);
  const rps = mean(each);
  // Pooled, not a mean of ratios: a measurement that finished few requests (slow verifies on a busy
  // machine) would otherwise weigh as much as one that finished many.
  const timed = measured.filter((s) => s.serverCPUSeconds !== null && s.serverCPUSeconds !== undefined);
  const responses = timed.reduce((sum, s) => sum + s.responses, 0);
  const cpu = cpuMsPer(
    timed.reduce((sum, s) => sum + (s.serverCPUSeconds ?? 0), 0),
    responses,
  );
  return { rps, cpuMs: cpu, each };
}

/** The ratio against each measurement of the limit, lowest first: how much the machine's noise moves it. */
function spread(rate: number, each: number[]): [number, number] | null {
  if (each.length === 0) return null;
  const ratios = each.map((limit) => rate / limit);
  return [Math.min(...ratios), Math.max(...ratios)];
}

/** Single requests against the bare route (the limit rows themselves get no ratio). */
export function rateScenarios(scenarios: ScenarioFigures[]): RatedScenario[] {
  const bare = limitOf(scenarios, BARE_SCENARIO);
  return scenarios.map((scenario) => {
    const limit = isLimit(scenario.name);
    const cpuMs = cpuMsPer(scenario.serverCPUSeconds, scenario.responses);
    return {
      ...scenario,
      limit: limit ? "" : BARE_SCENARIO,
      ratio: limit || bare.rps === null ? null : scenario.requestsPerSecond / bare.rps,
      ratioSpread: limit ? null : spread(scenario.requestsPerSecond, bare.each),
      cpuMsPerOperation: cpuMs,
      cpuRatio: limit || bare.cpuMs === null || cpuMs === null ? null : bare.cpuMs / cpuMs,
    };
  });
}

/** Flows against their limit, per request or per operation as the flow says. */
export function rateFlows(flows: FlowFigures[], scenarios: ScenarioFigures[]): RatedFlow[] {
  return flows.map((flow) => {
    const limit = limitOf(scenarios, flow.limit);
    const perOperation = flow.ratioPer === "operation" ? 1 : flow.steps.length;
    const cpuMs = cpuMsPer(flow.serverCPUSeconds, flow.completed + flow.failed);
    if (flow.completed === 0) {
      // Nothing finished within the load: there is no rate to compare, not a rate of zero.
      return { ...flow, ratio: null, ratioSpread: null, cpuMsPerOperation: cpuMs, cpuRatio: null };
    }
    return {
      ...flow,
      ratio: limit.rps === null ? null : (flow.operationsPerSecond * perOperation) / limit.rps,
      ratioSpread: spread(flow.operationsPerSecond * perOperation, limit.each),
      cpuMsPerOperation: cpuMs,
      cpuRatio: limit.cpuMs === null || cpuMs === null ? null : (limit.cpuMs * perOperation) / cpuMs,
    };
  });
}

const MB = 2 ** 20;

export function mib(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? "n/a" : (bytes / MB).toFixed(0);
}

function check(
  dialect: DialectRun["dialect"],
  target: string,
  measured: string,
  met: boolean | null,
): TargetCheck {
  return { dialect, target, measured, met };
}

/** The targets of issue 6 §4 and issues 3–4, checked against this run's figures. */
export function checkTargets(run: DialectRun): TargetCheck[] {
  const d = run.dialect;
  const checks: TargetCheck[] = [];
  const read = run.scenarios.find((s) => s.name === "GET /core/users/me/");
  const readTarget = d === "sqlite" ? 0.8 : 0.6;
  if (read?.ratio !== undefined && read.ratio !== null) {
    checks.push(
      check(
        d,
        `read ≥ ${readTarget} × bare route`,
        `${read.ratio.toFixed(3)} ×${between(read.ratioSpread)}${onCPU(read.cpuRatio)}`,
        verdict(read.ratio, read.ratioSpread, readTarget),
      ),
    );
  }
  const tokens = run.scenarios.find((s) => s.name === "POST /core/tokens/");
  if (tokens !== undefined && d === "sqlite") {
    const rps = tokens.requestsPerSecond;
    checks.push(
      check(
        d,
        "token creation ≥ 5,000 req/s, p99 < 20 ms",
        `${rps.toFixed(0)} req/s, p99 ${tokens.latencyMs.p99} ms`,
        rps >= 5000 && tokens.latencyMs.p99 < 20,
      ),
    );
  }
  const login = run.flows.find((flow) => flow.limit === ARGON2_SCENARIO);
  if (login?.ratio !== undefined && login.ratio !== null) {
    checks.push(
      check(
        d,
        "login ≥ 0.9 × argon2id limit",
        `${login.ratio.toFixed(3)} ×${between(login.ratioSpread)}${onCPU(login.cpuRatio)}`,
        verdict(login.ratio, login.ratioSpread, 0.9),
      ),
    );
  } else if (login !== undefined) {
    checks.push(
      check(d, "login ≥ 0.9 × argon2id limit", "no figure: no login finished within the load", null),
    );
  }
  if (run.courier !== null && "mailsPerSecond" in run.courier) {
    const { mailsPerSecond, correct, mails, cpuSeconds } = run.courier;
    checks.push(
      check(
        d,
        "courier ≥ 200 mails/s, each mail once",
        `${mailsPerSecond.toFixed(0)} mails/s (${(mails / cpuSeconds).toFixed(0)} per CPU-second of the courier)`,
        mailsPerSecond >= 200 && correct,
      ),
    );
  }
  const peaks = [...run.scenarios.filter((s) => s.server === "rekey"), ...run.flows].map(
    (s) => s.peakRSSBytes ?? 0,
  );
  const peak = Math.max(0, ...peaks);
  checks.push(
    check(d, "server RSS < 200 MB at load", `${mib(peak)} MiB peak`, peak > 0 ? peak < 200e6 : null),
  );
  return checks;
}

/**
 * Met or missed, or null (unclear) when the ratios against the two measurements of the limit fall
 * on both sides of the target: the machine's other work decided it, not Rekey.
 */
function verdict(ratio: number, range: [number, number] | null, target: number): boolean | null {
  if (range !== null && range[0] < target && range[1] >= target) return null;
  return ratio >= target;
}

function between(range: [number, number] | null): string {
  return range === null
    ? ""
    : ` (${range[0].toFixed(3)}–${range[1].toFixed(3)} against each measurement of the limit)`;
}

function onCPU(ratio: number | null): string {
  return ratio === null ? "" : ` (${ratio.toFixed(3)} × on server CPU time per request)`;
}

export function finishReport(
  machine: Machine,
  settings: LoadSettings,
  dialects: DialectRun[],
  notes: string[],
): RunReport {
  return {
    date: new Date().toISOString(),
    machine,
    settings,
    dialects,
    targets: dialects.flatMap(checkTargets),
    loadAverageAtEnd: loadAverage(),
    notes,
  };
}

/** Writes bench/results/<YYYY-MM-DD><suffix>.json whole or not at all (a .tmp file, then a rename). */
export function writeRunReport(resultsDir: string, report: RunReport, suffix = ""): string {
  mkdirSync(resultsDir, { recursive: true });
  const path = join(resultsDir, `${report.date.slice(0, 10)}${suffix}.json`);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  return path;
}
