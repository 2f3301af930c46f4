import autocannon from "autocannon";
import { type ChildServer, cpuBetween, procCPUSeconds, sampleRSS } from "./children.js";
import type { LoadSettings } from "./load.js";
import type { BenchMethod } from "./scenarios.js";

/**
 * Operations of several requests (create a link, open it, continue; init a login flow, submit it)
 * under autocannon: each connection runs one operation at a time, its steps in order, each step
 * reading what it needs (a flow id, a CSRF token, a cookie) from the answers before it. Every step is
 * timed from the moment it is built (just before autocannon writes it) to its answer, so the table
 * can show what each step costs beside the whole operation.
 */

/** What one operation carries from step to step: values read from earlier answers. */
export interface Operation {
  /** 0, 1, 2, … within one load (warm-up and measured loads count separately). */
  sequence: number;
  values: Record<string, string>;
}

export interface BuiltRequest {
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface FlowStep {
  /** Shown under the flow's row, e.g. "POST /self-service/login". */
  name: string;
  method: BenchMethod;
  build: (operation: Operation) => BuiltRequest;
  /** The status the real client expects here; any other counts as a failed step and operation. */
  expectStatus: number;
  /** Keeps what later steps need; throwing marks the operation failed (the next steps are still sent). */
  read?: (operation: Operation, body: string, headers: ResponseHeaders) => void;
}

export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface FlowScenario {
  name: string;
  /** The limit scenario its ratio is taken against (BARE_SCENARIO or ARGON2_SCENARIO). */
  limit: string;
  /**
   * "request": the flow's requests per second over the limit's (API paths, several requests per
   * operation); "operation": operations per second over the limit's (a login against one verify).
   */
  ratioPer: "request" | "operation";
  steps: FlowStep[];
  /** The first values of operation `sequence` (a user to act on, a session from a pool). */
  start: (sequence: number) => Record<string, string>;
  /**
   * For operations that use up something prepared beforehand (a TOTP step-up uses an aal1 session
   * and a device's current code once): makes `count` more, outside any measured load. Such a flow
   * runs exactly as many operations as were prepared instead of for a duration.
   */
  prepare?: (count: number) => Promise<void>;
  /** Said under the table: how the flow is driven, and why. */
  note?: string;
}

export interface StepFigures {
  name: string;
  expectStatus: number;
  responses: number;
  unexpected: number;
  statusCodes: Record<string, number>;
  latencyMs: Percentiles;
  /** One failed answer of this step, to show what went wrong. */
  firstUnexpected: { status: number; body: string } | null;
}

export interface Percentiles {
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

export interface FlowFigures {
  name: string;
  kind: "flow";
  limit: string;
  ratioPer: "request" | "operation";
  steps: StepFigures[];
  /** Operations whose every step got its expected status, per second of the measured load. */
  operationsPerSecond: number;
  /** Requests of any status per second (what the server answered). */
  requestsPerSecond: number;
  completed: number;
  failed: number;
  seconds: number;
  /** Whole operations, first step sent to last step answered, completed operations only. */
  latencyMs: Percentiles;
  errors: number;
  timeouts: number;
  peakRSSBytes: number | null;
  /** CPU seconds the server used during the measured load (all its threads); null off Linux. */
  serverCPUSeconds: number | null;
  /** How the load was bounded: by time, or by the number of prepared operations. */
  bound: { kind: "duration"; seconds: number } | { kind: "operations"; count: number };
  serverLogLineCount: number;
  serverLogTail: string[];
}

interface StepTally {
  latencies: number[];
  statusCodes: Record<string, number>;
  unexpected: number;
  firstUnexpected: { status: number; body: string } | null;
}

interface Tally {
  steps: StepTally[];
  operations: number[];
  completed: number;
  failed: number;
}

interface InFlight {
  operation: Operation;
  startedAt: number;
  stepStartedAt: number;
  failed: boolean;
}

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: 0, p99: 0, mean: 0, max: 0 };
  const sorted = Float64Array.from(values).sort();
  const at = (share: number): number =>
    sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)]!;
  let sum = 0;
  for (const value of sorted) sum += value;
  const round = (ms: number): number => Math.round(ms * 100) / 100;
  return {
    p50: round(at(0.5)),
    p99: round(at(0.99)),
    mean: round(sum / sorted.length),
    max: round(sorted[sorted.length - 1]!),
  };
}

function newTally(flow: FlowScenario): Tally {
  return {
    steps: flow.steps.map(() => ({ latencies: [], statusCodes: {}, unexpected: 0, firstUnexpected: null })),
    operations: [],
    completed: 0,
    failed: 0,
  };
}

/** autocannon's chained requests: state lives in the per-connection context object it hands back. */
function chainedRequests(flow: FlowScenario, tally: Tally): autocannon.Request[] {
  let nextSequence = 0;
  const last = flow.steps.length - 1;
  return flow.steps.map((step, index) => ({
    method: step.method,
    setupRequest(request: autocannon.Request, context: object): autocannon.Request {
      const connection = context as { current?: InFlight };
      if (index === 0 || connection.current === undefined) {
        const sequence = nextSequence++;
        const operation = { sequence, values: flow.start(sequence) };
        connection.current = { operation, startedAt: performance.now(), stepStartedAt: 0, failed: false };
      }
      const current = connection.current;
      const built = step.build(current.operation);
      current.stepStartedAt = performance.now();
      return { ...request, method: step.method, path: built.path, headers: built.headers, body: built.body };
    },
    onResponse(status: number, body: string, context: object, headers?: ResponseHeaders): void {
      const now = performance.now();
      const current = (context as { current?: InFlight }).current;
      if (current === undefined) return;
      const stepTally = tally.steps[index]!;
      stepTally.latencies.push(now - current.stepStartedAt);
      stepTally.statusCodes[status] = (stepTally.statusCodes[status] ?? 0) + 1;
      if (status !== step.expectStatus) {
        current.failed = true;
        stepTally.unexpected += 1;
        stepTally.firstUnexpected ??= { status, body: body.slice(0, 300) };
      } else {
        try {
          step.read?.(current.operation, body, headers ?? {});
        } catch (error) {
          current.failed = true;
          stepTally.unexpected += 1;
          stepTally.firstUnexpected ??= {
            status,
            body: `${(error as Error).message}: ${body.slice(0, 200)}`,
          };
        }
      }
      if (index === last) {
        if (current.failed) {
          tally.failed += 1;
        } else {
          tally.completed += 1;
          tally.operations.push(now - current.startedAt);
        }
      }
    },
  }));
}

interface LoadRun {
  tally: Tally;
  result: autocannon.Result;
}

async function load(
  flow: FlowScenario,
  url: string,
  connections: number,
  bound: { seconds: number } | { operations: number },
): Promise<LoadRun> {
  const tally = newTally(flow);
  const result = await autocannon({
    url,
    connections,
    ...("seconds" in bound ? { duration: bound.seconds } : { amount: bound.operations * flow.steps.length }),
    requests: chainedRequests(flow, tally),
  });
  return { tally, result };
}

/** A multiple of `connections`, so that with autocannon's `amount` every connection ends on a whole operation. */
function wholeRounds(operations: number, connections: number): number {
  return Math.max(connections, Math.ceil(operations / connections) * connections);
}

/**
 * Warm-up then measured load. A flow with `prepare` is first timed on a small prepared batch, then
 * given as many prepared operations as that rate fills the measured duration with (at most `cap`).
 */
export async function runFlow(
  flow: FlowScenario,
  rekeyURL: string,
  server: ChildServer,
  settings: LoadSettings,
  cap = 20_000,
): Promise<FlowFigures> {
  const linesBefore = server.lineCount();
  let bound: FlowFigures["bound"] = { kind: "duration", seconds: settings.durationSeconds };
  if (flow.prepare === undefined) {
    if (settings.warmupSeconds > 0) {
      await load(flow, rekeyURL, settings.connections, { seconds: settings.warmupSeconds });
    }
  } else {
    const calibration = wholeRounds(20 * settings.connections, settings.connections);
    await flow.prepare(calibration);
    const started = performance.now();
    await load(flow, rekeyURL, settings.connections, { operations: calibration });
    const rate = calibration / ((performance.now() - started) / 1000);
    const count = wholeRounds(
      Math.min(cap, Math.ceil(rate * settings.durationSeconds)),
      settings.connections,
    );
    await flow.prepare(count);
    bound = { kind: "operations", count };
  }
  const sampler = sampleRSS(server.pid);
  const cpuBefore = procCPUSeconds(server.pid);
  const { tally, result } = await load(
    flow,
    rekeyURL,
    settings.connections,
    bound.kind === "duration" ? { seconds: bound.seconds } : { operations: bound.count },
  );
  const peakRSSBytes = sampler.stop();
  const serverCPUSeconds = cpuBetween(cpuBefore, procCPUSeconds(server.pid));
  const logged = server.lineCount() - linesBefore;
  const seconds = result.duration;
  return {
    name: flow.name,
    kind: "flow",
    limit: flow.limit,
    ratioPer: flow.ratioPer,
    steps: flow.steps.map((step, index) => {
      const stepTally = tally.steps[index]!;
      return {
        name: step.name,
        expectStatus: step.expectStatus,
        responses: stepTally.latencies.length,
        unexpected: stepTally.unexpected,
        statusCodes: stepTally.statusCodes,
        latencyMs: percentiles(stepTally.latencies),
        firstUnexpected: stepTally.firstUnexpected,
      };
    }),
    operationsPerSecond: tally.completed / seconds,
    requestsPerSecond: result.requests.total / seconds,
    completed: tally.completed,
    failed: tally.failed,
    seconds,
    latencyMs: percentiles(tally.operations),
    errors: result.errors,
    timeouts: result.timeouts,
    peakRSSBytes,
    serverCPUSeconds,
    bound,
    serverLogLineCount: logged,
    serverLogTail: logged === 0 ? [] : server.lines.slice(-Math.min(logged, 5)),
  };
}
