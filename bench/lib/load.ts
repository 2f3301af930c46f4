import autocannon from "autocannon";
import { type ChildServer, cpuBetween, procCPUSeconds, sampleRSS } from "./children.js";
import type { BenchContext, Scenario } from "./scenarios.js";

/** The same for every scenario of a run, so figures compare. */
export interface LoadSettings {
  durationSeconds: number;
  /** Load sent before the measured part, not counted: lets the JIT and caches settle. */
  warmupSeconds: number;
  connections: number;
}

/** What one scenario measured; written to the JSON as is. */
export interface ScenarioFigures {
  name: string;
  server: "bare" | "rekey";
  method: string;
  path: string;
  /** Mean over the seconds of the measured load. */
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; mean: number; max: number };
  /** Responses received in the measured load, any status. */
  responses: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /** Connection errors, timeouts included, and the timeouts alone. */
  errors: number;
  timeouts: number;
  /** Highest VmRSS of the server process while the measured load ran; null off Linux. */
  peakRSSBytes: number | null;
  /** CPU seconds the server used during the measured load (all its threads); null off Linux. */
  serverCPUSeconds?: number | null;
  /** One request sent before any load: its answer shows what a failing scenario gets. */
  probe: { status: number; body: string };
  /** Lines the server logged (level warn and above) during warm-up and load, and the last few. */
  serverLogLineCount: number;
  serverLogTail: string[];
}

/** Hands out 0, 1, 2, … so that every request of a scenario can carry a unique value. */
function counter(): () => number {
  let next = 0;
  return () => next++;
}

function autocannonOptions(
  scenario: Scenario,
  context: BenchContext,
  nextSequence: () => number,
  seconds: number,
  connections: number,
): autocannon.Options {
  const base = scenario.server === "bare" ? context.bareURL : context.rekeyURL;
  const buildBody = scenario.buildBody;
  return {
    url: base + scenario.path,
    method: scenario.method,
    headers: scenario.headers(context),
    body: scenario.body,
    connections,
    duration: seconds,
    requests:
      buildBody === undefined
        ? undefined
        : [{ setupRequest: (request) => ({ ...request, body: buildBody(nextSequence(), context) }) }],
  };
}

async function probe(
  scenario: Scenario,
  context: BenchContext,
  nextSequence: () => number,
): Promise<ScenarioFigures["probe"]> {
  const base = scenario.server === "bare" ? context.bareURL : context.rekeyURL;
  const response = await fetch(base + scenario.path, {
    method: scenario.method,
    headers: scenario.headers(context),
    body: scenario.buildBody === undefined ? scenario.body : scenario.buildBody(nextSequence(), context),
  });
  return { status: response.status, body: (await response.text()).slice(0, 500) };
}

function statusCodes(result: autocannon.Result): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) {
    counts[code] = stats.count ?? 0;
  }
  return counts;
}

/** Runs one scenario against the child that serves it: setup, probe, warm-up, then the measured load. */
export async function runScenario(
  scenario: Scenario,
  context: BenchContext,
  server: ChildServer,
  settings: LoadSettings,
): Promise<ScenarioFigures> {
  await scenario.setup?.(context);
  const nextSequence = counter();
  const linesBefore = server.lineCount();
  const probed = await probe(scenario, context, nextSequence);
  if (settings.warmupSeconds > 0) {
    await autocannon(
      autocannonOptions(scenario, context, nextSequence, settings.warmupSeconds, settings.connections),
    );
  }
  const sampler = sampleRSS(server.pid);
  const cpuBefore = procCPUSeconds(server.pid);
  const result = await autocannon(
    autocannonOptions(scenario, context, nextSequence, settings.durationSeconds, settings.connections),
  );
  const peakRSSBytes = sampler.stop();
  const serverCPUSeconds = cpuBetween(cpuBefore, procCPUSeconds(server.pid));
  const logged = server.lineCount() - linesBefore;
  return {
    name: scenario.name,
    server: scenario.server,
    method: scenario.method,
    path: scenario.path,
    requestsPerSecond: result.requests.average,
    latencyMs: {
      p50: result.latency.p50,
      p99: result.latency.p99,
      mean: result.latency.mean,
      max: result.latency.max,
    },
    responses: result.requests.total,
    non2xx: result.non2xx,
    statusCodes: statusCodes(result),
    errors: result.errors,
    timeouts: result.timeouts,
    peakRSSBytes,
    serverCPUSeconds,
    probe: probed,
    serverLogLineCount: logged,
    serverLogTail: logged === 0 ? [] : server.lines.slice(-Math.min(logged, 5)),
  };
}
