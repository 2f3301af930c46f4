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
 * One load of single requests to measure. Operations of several chained requests (recovery link
 * create + consume, admin code create + redeem, login, TOTP step-up) are flows instead
 * (bench/lib/flows.ts, bench/lib/flow-scenarios.ts); the runner gives every entry of either kind the
 * same duration, connections and report columns.
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

/** The name of the scenario every API ratio is taken against. */
export const BARE_SCENARIO = "bare route GET";
/** The name of the hash-bound limit: one argon2id verify with Rekey's parameters (login's ratio). */
export const ARGON2_SCENARIO = "bare argon2id verify";
/** The password the argon2 limit route (bench/bare.ts) holds the hash of; logins in the bench use it too. */
export const ARGON2_LIMIT_PASSWORD = "bench-limit-password-1";

export const SCENARIOS: readonly Scenario[] = [
  { name: BARE_SCENARIO, server: "bare", method: "GET", path: "/", headers: () => ({}) },
  {
    name: ARGON2_SCENARIO,
    server: "bare",
    method: "POST",
    path: "/argon2",
    headers: () => ({ "content-type": "application/json" }),
    body: JSON.stringify({ password: ARGON2_LIMIT_PASSWORD }),
  },
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
