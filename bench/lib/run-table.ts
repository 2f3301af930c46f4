import { machineLine } from "./report.js";
import { AGAIN, mib, type RunReport } from "./run-report.js";
import { ARGON2_SCENARIO, BARE_SCENARIO } from "./scenarios.js";

/** The printed form of a RunReport: one table for every database, a legend, the targets. */

function row(cells: string[], widths: number[]): string {
  return `| ${cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(" | ")} |`;
}

function cpuText(ms: number | null): string {
  return ms === null ? "n/a" : ms.toFixed(3);
}

function ratioText(ratio: number | null, limit: string): string {
  if (ratio === null) return limit === "" ? "limit" : "n/a";
  return `${ratio.toFixed(3)}${limit === ARGON2_SCENARIO ? " a" : ""}`;
}

/** One table: scenario, database, then the figures; a flow's steps follow it, indented. */
export function formatRunTable(report: RunReport): string {
  const header = [
    "scenario",
    "db",
    "ops/s",
    "× limit",
    "CPU ms/op",
    "× limit CPU",
    "mean ms",
    "p50 ms",
    "p99 ms",
    "non-2xx",
    "errors",
    "RSS MiB",
  ];
  const rows: string[][] = [];
  const measured = new Set(
    report.dialects.flatMap((run) => [...run.scenarios.map((s) => s.name), ...run.flows.map((f) => f.name)]),
  );
  // A limit measured again after the scenarios is shown right under its first measurement.
  const names = [...measured]
    .filter((name) => !name.endsWith(AGAIN))
    .flatMap((name) => (measured.has(name + AGAIN) ? [name, name + AGAIN] : [name]));
  for (const name of names) {
    for (const run of report.dialects) {
      const scenario = run.scenarios.find((s) => s.name === name);
      if (scenario !== undefined) {
        const { latencyMs } = scenario;
        rows.push([
          name,
          run.dialect,
          scenario.requestsPerSecond.toFixed(0),
          ratioText(scenario.ratio, scenario.limit),
          cpuText(scenario.cpuMsPerOperation),
          ratioText(scenario.cpuRatio, scenario.limit),
          latencyMs.mean.toFixed(2),
          String(latencyMs.p50),
          String(latencyMs.p99),
          String(scenario.non2xx),
          String(scenario.errors),
          mib(scenario.peakRSSBytes),
        ]);
      }
      const flow = run.flows.find((f) => f.name === name);
      if (flow === undefined) continue;
      const unexpected = flow.steps.reduce((sum, step) => sum + step.unexpected, 0);
      rows.push([
        `${name} (${flow.steps.length} req)`,
        run.dialect,
        flow.operationsPerSecond.toFixed(0),
        ratioText(flow.ratio, flow.limit),
        cpuText(flow.cpuMsPerOperation),
        ratioText(flow.cpuRatio, flow.limit),
        flow.latencyMs.mean.toFixed(2),
        flow.latencyMs.p50.toFixed(1),
        flow.latencyMs.p99.toFixed(1),
        String(unexpected),
        String(flow.errors),
        mib(flow.peakRSSBytes),
      ]);
      for (const step of flow.steps) {
        rows.push([
          `  ↳ ${step.name}`,
          "",
          "",
          "",
          "",
          "",
          step.latencyMs.mean.toFixed(2),
          step.latencyMs.p50.toFixed(1),
          step.latencyMs.p99.toFixed(1),
          String(step.unexpected),
          "",
          "",
        ]);
      }
    }
  }
  for (const run of report.dialects) {
    const courier = run.courier;
    if (courier === null) continue;
    if ("failed" in courier) {
      // The whole reason is in the results file and was printed when it happened.
      const cells = ["courier → SMTP sink: FAILED", run.dialect];
      rows.push([...cells, ...header.slice(cells.length).map(() => "")]);
      continue;
    }
    rows.push([
      `courier → SMTP sink (${courier.mails} mails, 1 process)`,
      run.dialect,
      courier.mailsPerSecond.toFixed(0),
      "",
      ((courier.cpuSeconds * 1000) / courier.mails).toFixed(3),
      "",
      "",
      "",
      "",
      String(courier.mails - courier.received),
      "",
      mib(courier.peakRSSBytes),
    ]);
  }
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((cells) => cells[column]!.length)),
  );
  const rule = `|${widths.map((width, column) => (column < 2 ? "-".repeat(width + 2) : `${"-".repeat(width + 1)}:`)).join("|")}|`;
  return [row(header, widths), rule, ...rows.map((cells) => row(cells, widths))].join("\n");
}

const LEGEND = [
  "ops/s: requests per second for single requests; whole operations per second for flows (every step got its expected status); mails per second for the courier.",
  `× limit: share of the limit measured in the same run: "${BARE_SCENARIO}" for API paths (for flows, the flow's requests per second over the bare route's), "${ARGON2_SCENARIO}" for login (marked a: logins per second over verifies per second).`,
  "CPU ms/op: CPU time the server process used (all threads) during the measured load, per request (per operation for flows; the courier's own per mail); × limit CPU: the same ratio as × limit, on CPU time per request instead of requests per second, which other work on a busy machine disturbs far less. Limits are measured before the scenarios and again after them; ratios use the mean req/s of the two and their pooled CPU time per request.",
  "latency: autocannon's for single requests (whole ms); for flows the whole operation and, under it, each step (the time from building the request to its answer).",
  "non-2xx: for flows, answers whose status was not the one the real client expects (303 for the Continue form); for the courier, mails not received.",
  "RSS: peak resident set of the server under the measured load (the courier process's own peak for the courier row).",
];

export function formatRunReport(report: RunReport): string {
  const { durationSeconds, warmupSeconds, connections } = report.settings;
  const lines = [
    `${durationSeconds} s per scenario after ${warmupSeconds} s of warm-up, ${connections} connections`,
    `machine: ${machineLine(report.machine)}; at end ${report.loadAverageAtEnd.join(" ")}`,
    formatRunTable(report),
    ...LEGEND,
    ...report.notes,
    "",
    "targets (unclear: the ratios against the two measurements of the limit fall on both sides of it):",
  ];
  for (const target of report.targets) {
    const verdict = target.met === null ? "unclear" : target.met ? "met" : "MISSED";
    lines.push(`  [${verdict}] ${target.dialect}: ${target.target}: ${target.measured}`);
  }
  for (const run of report.dialects) {
    lines.push(
      `${run.dialect}: ${run.seed.users} users seeded in ${run.seed.seconds.toFixed(1)} s, ${run.seed.loginUsers} given a password in ${run.seed.loginSeconds.toFixed(1)} s; rekey lifetime peak RSS ${mib(run.rekeyLifetimePeakRSSBytes)} MiB`,
    );
  }
  return lines.join("\n");
}
