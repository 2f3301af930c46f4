/** What every scenario may use: where the servers listen and how to call Rekey's API. */
export interface BenchContext {
  bareURL: string;
  rekeyURL: string;
  /** Key of akadmin's api token (REKEY_BOOTSTRAP_TOKEN). */
  adminToken: string;
  /** Random per run, so identifiers a scenario makes never collide with an earlier run's. */
  runId: string;
}

export type BenchMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * One load to measure. A new scenario (recovery link create+consume, login, TOTP) is one more entry
 * in SCENARIOS; the runner gives every entry the same duration, connections and report columns.
 */
export interface Scenario {
  /** Shown in the table and written as the key of its figures. */
  name: string;
  /** Which child takes the load: the bare fastify route or the real Rekey server. */
  server: "bare" | "rekey";
  method: BenchMethod;
  path: string;
  headers: (context: BenchContext) => Record<string, string>;
  /** The same body for every request. */
  body?: string;
  /** A body per request, for values that must be unique; `sequence` counts from 0 within the scenario. */
  buildBody?: (sequence: number, context: BenchContext) => string;
  /** Runs once against the live servers before any load, e.g. to create what the requests use. */
  setup?: (context: BenchContext) => Promise<void>;
}

function bearer(context: BenchContext): Record<string, string> {
  return { authorization: `Bearer ${context.adminToken}` };
}

function bearerJSON(context: BenchContext): Record<string, string> {
  return { ...bearer(context), "content-type": "application/json" };
}

/** The name of the scenario every ratio is taken against. */
export const BARE_SCENARIO = "bare route GET";

export const SCENARIOS: readonly Scenario[] = [
  { name: BARE_SCENARIO, server: "bare", method: "GET", path: "/", headers: () => ({}) },
  {
    name: "GET /core/users/me/",
    server: "rekey",
    method: "GET",
    path: "/api/v3/core/users/me/",
    headers: bearer,
  },
  {
    name: "POST /core/tokens/",
    server: "rekey",
    method: "POST",
    path: "/api/v3/core/tokens/",
    headers: bearerJSON,
    buildBody: (sequence, context) =>
      JSON.stringify({
        identifier: `bench-${context.runId}-${sequence}`,
        intent: "api",
        description: "bench",
        expiring: true,
      }),
  },
];
