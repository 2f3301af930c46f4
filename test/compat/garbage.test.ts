import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import fc from "fast-check";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  createFixtures,
  type Fixtures,
  type GeneratedRequest,
  readRoutes,
  type Route,
  requestArbitrary,
  toInjectOptions,
} from "./garbage.requests.js";

/**
 * Property tests over every /api/v3 route of the OpenAPI document Rekey serves: random bodies, media
 * types, query strings and path ids never give a 5xx, every 4xx is in authentik's error shape, and a
 * refused request leaves the database as it was.
 */

// A longer hunt: REKEY_FUZZ_RUNS=5000 REKEY_FUZZ_BUDGET_MS=600000 node scripts/test.mjs garbage
const RUNS_PER_ROUTE = Number(process.env["REKEY_FUZZ_RUNS"] ?? 300);
/** The time budget per dialect, shared by the routes: more routes get fewer runs each, never a slower suite. */
const BUDGET_MS = Number(process.env["REKEY_FUZZ_BUDGET_MS"] ?? 45_000);
const TABLES = ["user", "group", "group_member", "token", "tenant", "domain", "event"] as const;
/** Append-only: compared by row count. The others are compared row by row. */
const COUNTED_TABLES: readonly string[] = ["event"];

// ---------------------------------------------------------------------------------------------
// The properties

/** What the database holds: each table's rows (or, for append-only tables, their number). */
async function snapshot(rekey: TestApp): Promise<Record<string, string>> {
  const kysely = rekey.database.db.kysely;
  const tables: Record<string, string> = {};
  for (const table of TABLES) {
    if (COUNTED_TABLES.includes(table)) {
      const row = await kysely
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as("rows"))
        .executeTakeFirstOrThrow();
      tables[table] = `${Number(row.rows)} rows`;
    } else {
      const rows = await kysely.selectFrom(table).selectAll().execute();
      tables[table] = rows
        .map((row) => JSON.stringify(row))
        .sort()
        .join("\n");
    }
  }
  return tables;
}

/** Routes whose documented 404s have an empty body (authentik-v3.md §2.4): the tenants actions. */
function mayAnswerEmpty404(route: Route): boolean {
  return /^\/tenants\/tenants\/\{tenant_uuid\}\/create_(recovery_key|admin_group)\/$/.test(route.path);
}

/** Only the users recovery actions send `non_field_errors` as a bare string (authentik-v3.md §2.4). */
function mayAnswerStringErrors(route: Route): boolean {
  return /^\/core\/users\/\{id\}\/recovery(_email)?\/$/.test(route.path);
}

function assertAuthentikErrorBody(route: Route, response: LightMyRequestResponse, label: string): void {
  if (response.body === "") {
    assert.ok(
      response.statusCode === 404 && mayAnswerEmpty404(route),
      `an empty ${response.statusCode} body: ${label}`,
    );
    return;
  }
  assert.match(String(response.headers["content-type"]), /^application\/json/, `error media type: ${label}`);
  const body: unknown = JSON.parse(response.body);
  assert.ok(
    typeof body === "object" && body !== null && !Array.isArray(body),
    `error body is a JSON object: ${label}`,
  );
  const entries = Object.entries(body);
  assert.ok(entries.length > 0, `error body names at least one problem: ${label}`);
  if ("detail" in body) {
    assert.deepEqual(Object.keys(body), ["detail"], `a detail body has nothing else: ${label}`);
    assert.equal(typeof body.detail, "string", `detail is a string: ${label}`);
    return;
  }
  for (const [field, messages] of entries) {
    if (typeof messages === "string") {
      assert.ok(
        field === "non_field_errors" && mayAnswerStringErrors(route),
        `"${field}" is a bare string: ${label}`,
      );
      continue;
    }
    assert.ok(
      Array.isArray(messages) &&
        messages.length > 0 &&
        messages.every((message) => typeof message === "string"),
      `"${field}" is a list of strings: ${label}`,
    );
  }
}

/** The rows only before and only after, for the failure message. */
function rowChanges(before: string, after: string): string {
  const beforeRows = before.split("\n");
  const afterRows = after.split("\n");
  const gone = beforeRows.filter((row) => !afterRows.includes(row));
  const added = afterRows.filter((row) => !beforeRows.includes(row));
  return `before: ${gone.join(" | ")}; after: ${added.join(" | ")}`;
}

function describeExchange(request: InjectOptions, response: LightMyRequestResponse): string {
  const payload = typeof request.payload === "string" ? request.payload.slice(0, 500) : "";
  return `${request.method} ${request.url} ${JSON.stringify(request.headers)} ${payload} → ${response.statusCode} ${response.body.slice(0, 500)}`;
}

interface FuzzState {
  rekey: TestApp;
  adminPk: number;
  round: number;
  fixtures: Fixtures;
  /** A DELETE succeeded: a fixture may be gone, so make a fresh set before the next request. */
  fixturesMayBeGone: boolean;
  /** The database as the last refused request left it; null when something may have changed since. */
  snapshot: Record<string, string> | null;
}

async function fuzzRoute(t: TestContext, state: FuzzState, route: Route, budgetMs: number): Promise<void> {
  let runs = 0;
  let inFlight: Promise<unknown> = Promise.resolve();
  await fc.assert(
    fc.asyncProperty(requestArbitrary(route), (generated) => {
      runs += 1;
      const run = checkRequest(state, route, generated);
      inFlight = run.catch(() => undefined);
      return run;
    }),
    { numRuns: RUNS_PER_ROUTE, interruptAfterTimeLimit: budgetMs, includeErrorInReport: true },
  );
  // The time limit abandons the run in progress; let it finish before the next route compares the
  // database before and after its own requests.
  await inFlight;
  state.snapshot = null;
  t.diagnostic(`${runs} requests`);
  // The admin is still in charge: the run tested real requests, not a locked-out API.
  assert.equal((await state.rekey.api("GET", "/api/v3/core/users/me/")).statusCode, 200);
}

/** One generated request and the three properties: no 5xx, authentik's error shape, no change when refused. */
async function checkRequest(state: FuzzState, route: Route, generated: GeneratedRequest): Promise<void> {
  const { rekey } = state;
  if (state.fixturesMayBeGone) {
    state.snapshot = null;
    state.round += 1;
    state.fixtures = await createFixtures(rekey, state.adminPk, state.round);
    state.fixturesMayBeGone = false;
  }
  const request = toInjectOptions(route, generated, state.fixtures);
  // After a refused request the database is known to be as it was, so its snapshot serves again.
  const before = state.snapshot ?? (await snapshot(rekey));
  state.snapshot = null;
  const response = await rekey.app.inject(request);
  const label = describeExchange(request, response);
  assert.ok(response.statusCode < 500, `a server error: ${label}`);
  if (response.statusCode >= 400) {
    assertAuthentikErrorBody(route, response, label);
    const after = await snapshot(rekey);
    for (const table of TABLES) {
      assert.ok(
        after[table] === before[table],
        `a refused request changed table "${table}" (${rowChanges(before[table]!, after[table]!)}): ${label}`,
      );
    }
    state.snapshot = after;
  } else if (request.method === "DELETE") {
    state.fixturesMayBeGone = true;
  }
}

/** Path text Fastify cannot route: a broken percent-escape, a parameter over its maxParamLength. */
const UNROUTABLE_SEGMENTS = ["%zz", "%E0%A4%A", "a".repeat(1100)];

for (const dialect of DIALECTS) {
  describe(`/api/v3 under random input on ${dialect}`, () => {
    test("path text Fastify cannot route (a broken percent-escape, an over-long id) answers authentik's 404", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const segment of UNROUTABLE_SEGMENTS) {
        for (const path of [`/api/v3/core/users/${segment}/`, `/api/v3/core/tokens/${segment}/`]) {
          const response = await rekey.api("GET", path);
          assert.equal(response.statusCode, 404, `${path}: ${response.body}`);
          assert.deepEqual(response.json(), { detail: "Not found." }, path);
        }
      }
    });

    test("the OpenAPI document at /api/v3/schema/ lists only routes that exist under /api/v3", async (t) => {
      const rekey = await testApp(t, dialect);
      const paths = (await rekey.api("GET", "/api/v3/schema/?format=json")).json().paths as Record<
        string,
        object
      >;
      const strays = Object.entries(paths).flatMap(([path, operations]) =>
        Object.keys(operations)
          .filter((method) => {
            const url = `/api/v3${path.replace(/\{(\w+)\}/g, ":$1")}`;
            return !rekey.app.hasRoute({ method: method.toUpperCase() as "GET", url });
          })
          .map((method) => `${method.toUpperCase()} ${path}`),
      );
      assert.deepEqual(strays, []);
    });

    test("every route of the OpenAPI document never answers 5xx, answers 4xx in authentik's shape and changes nothing when it refuses", async (t) => {
      const rekey = await testApp(t, dialect);
      const routes = await readRoutes(rekey);
      assert.ok(routes.length >= 19, `the OpenAPI document lists the routes (${routes.length})`);
      const adminPk = (await rekey.api("GET", "/api/v3/core/users/me/")).json().user.pk as number;
      const state: FuzzState = {
        rekey,
        adminPk,
        round: 0,
        fixtures: await createFixtures(rekey, adminPk, 0),
        fixturesMayBeGone: false,
        snapshot: null,
      };
      for (const route of routes) {
        await t.test(`${route.methods.join(", ")} ${route.path}`, (subtest) =>
          fuzzRoute(subtest, state, route, BUDGET_MS / routes.length),
        );
      }
    });
  });
}
