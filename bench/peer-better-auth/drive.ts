import { readFileSync } from "node:fs";
import autocannon from "autocannon";
import { type ChildServer, sampleRSS } from "../lib/children.js";

/** One request as autocannon sends it; `path` is relative to the server's origin. */
export interface RequestSpec {
  method: "GET" | "POST";
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * One operation on one server. Reads and key creation repeat for a duration; the operations that
 * use a secret once (a recovery flow, a TOTP challenge) draw from a pool made in setup and run for a
 * fixed count instead, so the pool is never exhausted whatever the speed.
 */
export interface PeerOperation {
  /** Hands out the next request; each call may use up one pooled item. */
  next(): RequestSpec;
  /** The status every answer should have; anything else is counted as a failure. */
  expectStatus: number;
  /** null: run for the duration; a number: send exactly this many requests (after the warm-up ones). */
  amount: number | null;
  /** Requests of the warm-up when `amount` is set (the duration-based warm-up applies otherwise). */
  warmupAmount: number;
}

export interface DriveSettings {
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
}

export interface OperationFigures {
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  responses: number;
  /** Answers whose status was not `expectStatus`, and their statuses. */
  unexpected: number;
  statusCodes: Record<string, number>;
  errors: number;
  seconds: number;
  peakRSSBytes: number | null;
  /**
   * Server CPU time (user + system) per answer over the measured load, in ms; null off Linux. Other
   * work on a loaded machine disturbs it far less than req/s, so it is the steadier comparison.
   */
  cpuMsPerRequest: number | null;
  /** Lines the server wrote during warm-up and load (its log level is warn or error), and the last few. */
  serverLogLineCount: number;
  serverLogTail: string[];
  /** The first request's answer, sent before the load: shows what a failing operation gets. */
  probe: { status: number; body: string };
}

function statusCodes(result: autocannon.Result): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) {
    counts[code] = stats.count ?? 0;
  }
  return counts;
}

/** When the first request left and the last answer came: autocannon's own end time is rounded up to its 1 s tick. */
interface Span {
  first: number | null;
  last: number;
}

function options(
  origin: string,
  operation: PeerOperation,
  connections: number,
  limit: { amount: number } | { duration: number },
  span: Span,
): autocannon.Options {
  return {
    url: origin,
    connections,
    ...limit,
    requests: [
      {
        // autocannon asks for every request anew, so each may carry its own secret and address.
        setupRequest: (request) => {
          span.first ??= performance.now();
          const spec = operation.next();
          return { ...request, method: spec.method, path: spec.path, headers: spec.headers, body: spec.body };
        },
        onResponse: () => {
          span.last = performance.now();
        },
      },
    ],
  };
}

async function probe(origin: string, operation: PeerOperation): Promise<OperationFigures["probe"]> {
  const spec = operation.next();
  const response = await fetch(origin + spec.path, {
    method: spec.method,
    headers: spec.headers,
    body: spec.body,
  });
  return { status: response.status, body: (await response.text()).slice(0, 300) };
}

/** CPU seconds the process has used so far, from /proc/<pid>/stat (ticks of 1/100 s on Linux); null elsewhere. */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // utime and stime are fields 14 and 15; the command name before them is parenthesised and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Probe, warm-up (not counted), then the measured load; req/s is answers over wall-clock seconds. */
export async function drive(
  server: ChildServer,
  origin: string,
  operation: PeerOperation,
  settings: DriveSettings,
): Promise<OperationFigures> {
  const linesBefore = server.lineCount();
  const probed = await probe(origin, operation);
  const unmeasured: Span = { first: null, last: 0 };
  if (operation.amount === null && settings.warmupSeconds > 0) {
    await autocannon(
      options(origin, operation, settings.connections, { duration: settings.warmupSeconds }, unmeasured),
    );
  } else if (operation.amount !== null && operation.warmupAmount > 0) {
    await autocannon(
      options(origin, operation, settings.connections, { amount: operation.warmupAmount }, unmeasured),
    );
  }
  const limit =
    operation.amount === null ? { duration: settings.durationSeconds } : { amount: operation.amount };
  const cpuBefore = cpuSeconds(server.pid);
  const sampler = sampleRSS(server.pid);
  const span: Span = { first: null, last: 0 };
  const result = await autocannon(options(origin, operation, settings.connections, limit, span));
  const peakRSSBytes = sampler.stop();
  const cpuAfter = cpuSeconds(server.pid);
  const logged = server.lineCount() - linesBefore;
  const codes = statusCodes(result);
  const expected = codes[String(operation.expectStatus)] ?? 0;
  const seconds = span.first === null ? 0 : (span.last - span.first) / 1000;
  return {
    requestsPerSecond: seconds > 0 ? result.requests.total / seconds : 0,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    responses: result.requests.total,
    unexpected: result.requests.total - expected,
    statusCodes: codes,
    errors: result.errors,
    seconds,
    peakRSSBytes,
    cpuMsPerRequest:
      cpuBefore === null || cpuAfter === null || result.requests.total === 0
        ? null
        : ((cpuAfter - cpuBefore) * 1000) / result.requests.total,
    serverLogLineCount: logged,
    serverLogTail: logged === 0 ? [] : server.lines.slice(-Math.min(logged, 5)),
    probe: probed,
  };
}

/** Hands out a pool's items in order; past the end it says so loudly and starts again (those fail). */
export function poolCursor<T>(name: string, items: readonly T[]): () => T {
  let next = 0;
  let warned = false;
  return () => {
    if (next >= items.length && !warned) {
      warned = true;
      console.warn(`!!! the ${name} pool (${items.length}) ran out: reused items will fail`);
    }
    const item = items[next % items.length]!;
    next += 1;
    return item;
  };
}

/** fetch that fails, with the answer, unless the status is `expect`; resolves to the answer. */
export async function call(
  url: string,
  init: RequestInit,
  expect: number,
): Promise<{ body: string; headers: Headers }> {
  const response = await fetch(url, init);
  const body = await response.text();
  if (response.status !== expect) {
    throw new Error(`${init.method ?? "GET"} ${url} answered ${response.status}: ${body.slice(0, 300)}`);
  }
  return { body, headers: response.headers };
}
