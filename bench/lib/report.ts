import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import type { LoadSettings, ScenarioFigures } from "./load.js";
import { BARE_SCENARIO } from "./scenarios.js";

/** The machine the figures belong to: without it a req/s figure means nothing. */
export interface Machine {
  cpuModel: string;
  cpuCount: number;
  totalMemoryBytes: number;
  nodeVersion: string;
  platform: string;
  /** 1, 5 and 15 minute load averages when the run started: other work skews every figure. */
  loadAverageAtStart: number[];
}

/** A scenario's figures beside its share of the bare route's req/s in the same run. */
export interface ReportedScenario extends ScenarioFigures {
  ratioToBare: number | null;
}

export interface DatabaseReport {
  date: string;
  dialect: "sqlite" | "postgres";
  machine: Machine;
  settings: LoadSettings;
  seed: { users: number; seconds: number };
  scenarios: ReportedScenario[];
  /** Rekey's VmHWM when its last scenario ended: startup and seeding included. */
  rekeyLifetimePeakRSSBytes: number | null;
  loadAverageAtEnd: number[];
}

export function describeMachine(): Machine {
  const processors = cpus();
  return {
    cpuModel: processors[0]?.model.trim() ?? "unknown",
    cpuCount: processors.length,
    totalMemoryBytes: totalmem(),
    nodeVersion: process.version,
    platform: `${process.platform} ${release()} ${process.arch}`,
    loadAverageAtStart: loadAverage(),
  };
}

export function loadAverage(): number[] {
  return loadavg().map((load) => Math.round(load * 100) / 100);
}

export function machineLine(machine: Machine): string {
  const memory = (machine.totalMemoryBytes / 2 ** 30).toFixed(1);
  const load = machine.loadAverageAtStart.join(" ");
  return `${machine.cpuCount} × ${machine.cpuModel}, ${memory} GiB, node ${machine.nodeVersion}, ${machine.platform}; load average at start ${load}`;
}

/** Adds each scenario's req/s as a share of the bare route's, measured in the same run. */
export function withRatios(figures: ScenarioFigures[]): ReportedScenario[] {
  const bare = figures.find((scenario) => scenario.name === BARE_SCENARIO);
  const limit = bare === undefined || bare.requestsPerSecond === 0 ? null : bare.requestsPerSecond;
  return figures.map((scenario) => ({
    ...scenario,
    ratioToBare: limit === null ? null : scenario.requestsPerSecond / limit,
  }));
}

function megabytes(bytes: number | null): string {
  return bytes === null ? "n/a" : (bytes / 2 ** 20).toFixed(0);
}

function row(cells: string[], widths: number[]): string {
  const padded: string[] = [];
  for (let i = 0; i < cells.length; i++) {
    padded.push(i === 0 ? cells[i]!.padEnd(widths[i]!) : cells[i]!.padStart(widths[i]!));
  }
  return `| ${padded.join(" | ")} |`;
}

/** The table printed per database: one row per scenario, ratio to the bare route beside req/s. */
export function formatTable(report: DatabaseReport): string {
  const header = ["scenario", "req/s", "× bare", "p50 ms", "p99 ms", "non-2xx", "errors", "peak RSS MiB"];
  const rows = report.scenarios.map((scenario) => [
    scenario.name,
    scenario.requestsPerSecond.toFixed(0),
    scenario.ratioToBare === null ? "n/a" : scenario.ratioToBare.toFixed(3),
    String(scenario.latencyMs.p50),
    String(scenario.latencyMs.p99),
    String(scenario.non2xx),
    String(scenario.errors),
    megabytes(scenario.peakRSSBytes),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((cells) => cells[column]!.length)),
  );
  const rule = `|${widths.map((width, column) => (column === 0 ? "-".repeat(width + 2) : `${"-".repeat(width + 1)}:`)).join("|")}|`;
  const lines = [row(header, widths), rule];
  for (const cells of rows) {
    lines.push(row(cells, widths));
  }
  return lines.join("\n");
}

/** Everything printed for one database: settings, machine, the table, and what does not fit in it. */
export function formatReport(report: DatabaseReport): string {
  const { durationSeconds, warmupSeconds, connections } = report.settings;
  return [
    `${report.dialect}: ${durationSeconds} s per scenario after ${warmupSeconds} s of warm-up, ${connections} connections, ${report.seed.users} users seeded`,
    `machine: ${machineLine(report.machine)}; at end ${report.loadAverageAtEnd.join(" ")}`,
    formatTable(report),
    `rekey peak RSS over its whole life (VmHWM, startup and seeding included): ${megabytes(report.rekeyLifetimePeakRSSBytes)} MiB`,
  ].join("\n");
}

/** Writes bench/results/<YYYY-MM-DD>-<dialect>.json whole or not at all (a .tmp file, then a rename). */
export function writeReport(resultsDir: string, report: DatabaseReport): string {
  mkdirSync(resultsDir, { recursive: true });
  const path = join(resultsDir, `${report.date.slice(0, 10)}-${report.dialect}.json`);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  return path;
}
