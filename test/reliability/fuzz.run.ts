import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import fc from "fast-check";
import type { InjectOptions } from "fastify";
import type { Dialect } from "../../src/db/database.js";
import {
  createFixtures,
  type Fixtures,
  type GeneratedRequest,
  type Route,
  readRoutes,
  requestArbitrary,
  toInjectOptions,
} from "../compat/garbage.requests.js";
import { type TestApp, testApp } from "../support/app.js";
import {
  assertUnchanged,
  checkAnswer,
  installWriteCounters,
  type Surface,
  snapshot,
} from "./fuzz.harness.js";
import {
  assertRoutesExist,
  createEdgeFixtures,
  type EdgeFixtures,
  type EdgeRequest,
  edgeInjectOptions,
  edgeRequestArbitrary,
  KRATOS_ROUTES,
  PAGE_ROUTES,
  type RouteSpec,
} from "./fuzz.surfaces.js";

/**
 * One fuzzing run over every surface of one app: /api/v3 from its OpenAPI document (the generators
 * of test/compat/garbage.requests.ts), Kratos' routes and Rekey's pages (./fuzz.surfaces.ts). Each
 * request must pass checkAnswer; each refused one must leave the database as it found it.
 */

type Generated =
  | { surface: "authentik"; route: Route; request: GeneratedRequest }
  | { surface: "kratos" | "pages"; request: EdgeRequest };

const EDGE_ROUTES = { kratos: KRATOS_ROUTES, pages: PAGE_ROUTES };

interface State {
  rekey: TestApp;
  adminPk: number;
  round: number;
  fixtures: Fixtures;
  edge: EdgeFixtures;
  /** A request that succeeded may have deleted or used up an object of the fixtures. */
  stale: { authentik: boolean; edge: boolean };
  counts: Record<Surface, number>;
  refused: number;
  sinceFixtures: number;
  /** Distinct failures by kind, each with its first example: one run reports every kind it met. */
  failures: Map<string, string>;
}

/** Fresh flows and links now and then, so later requests still reach live objects. */
const REFRESH_EVERY = 2_000;

function arbitraryFor(routes: Route[]): fc.Arbitrary<Generated> {
  const authentik = routes.map((route) =>
    requestArbitrary(route).map((request): Generated => ({ surface: "authentik", route, request })),
  );
  const edge = (surface: "kratos" | "pages", list: RouteSpec[]) =>
    edgeRequestArbitrary(list).map((request): Generated => ({ surface, request }));
  // Weighted by the number of routes, so every route gets about the same share.
  return fc.oneof(
    { weight: routes.length, arbitrary: fc.oneof(...authentik) },
    { weight: KRATOS_ROUTES.length, arbitrary: edge("kratos", KRATOS_ROUTES) },
    { weight: PAGE_ROUTES.length * 2, arbitrary: edge("pages", PAGE_ROUTES) },
  );
}

function toRequest(state: State, generated: Generated): InjectOptions {
  return generated.surface === "authentik"
    ? toInjectOptions(generated.route, generated.request, state.fixtures)
    : edgeInjectOptions(EDGE_ROUTES[generated.surface], generated.request, state.edge);
}

/** Requests that may have deleted or used up a fixture when they succeeded. */
function usesUpFixtures(request: InjectOptions): boolean {
  return (
    request.method === "DELETE" || (request.method === "PATCH" && /identities/.test(String(request.url)))
  );
}

async function refresh(state: State): Promise<void> {
  const all = state.sinceFixtures >= REFRESH_EVERY;
  state.round += 1;
  if (all || state.stale.authentik) {
    state.fixtures = await createFixtures(state.rekey, state.adminPk, state.round);
  }
  // The edge fixtures sign in three times (argon2): made again only when needed.
  if (all || state.stale.edge) {
    state.edge = await createEdgeFixtures(state.rekey, state.round);
    state.sinceFixtures = 0;
  }
  state.stale = { authentik: false, edge: false };
}

/** The kind of a failure: what was wrong, on which route template and method, with which status. */
function failureKind(generated: Generated, request: InjectOptions, message: string): string {
  const route =
    generated.surface === "authentik"
      ? generated.route.path
      : EDGE_ROUTES[generated.surface][generated.request.route]!.path;
  const status = / → (\d{3}) /.exec(message)?.[1] ?? "";
  return `${generated.surface} ${request.method} ${route} ${status} ${message.split(":")[0]}`;
}

async function checkOne(state: State, generated: Generated): Promise<void> {
  if (state.stale.authentik || state.stale.edge || state.sinceFixtures >= REFRESH_EVERY) await refresh(state);
  state.sinceFixtures += 1;
  const request = toRequest(state, generated);
  const db = state.rekey.database.db;
  // Taken before every request: one read of the write counters (see snapshot).
  const before = await snapshot(db);
  const response = await state.rekey.app.inject(request);
  state.counts[generated.surface] += 1;
  try {
    if (checkAnswer(generated.surface, request, response)) {
      state.refused += 1;
      const after = await snapshot(db);
      const label = `${request.method} ${request.url} → ${response.statusCode} ${response.body.slice(0, 300)}`;
      assertUnchanged(before, after, label, { url: String(request.url), body: response.body });
    } else if (usesUpFixtures(request)) {
      state.stale[generated.surface === "authentik" ? "authentik" : "edge"] = true;
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const kind = failureKind(generated, request, message);
    if (!state.failures.has(kind)) state.failures.set(kind, message.split("\n")[0]!.slice(0, 1500));
  }
}

/**
 * Sends `runs` generated requests to a fresh app on `dialect`. Failures are collected by kind and
 * reported together at the end, each with the first request that showed it: shrinking would replay
 * requests on a database that earlier ones changed, so it is not used.
 */
export async function fuzzEverySurface(
  t: TestContext,
  dialect: Dialect,
  runs: number,
  seed?: number,
): Promise<void> {
  const rekey = await testApp(t, dialect);
  const routes = await readRoutes(rekey);
  assert.ok(routes.length >= 19, `the OpenAPI document lists the /api/v3 routes (${routes.length})`);
  assertRoutesExist(rekey, KRATOS_ROUTES);
  assertRoutesExist(rekey, PAGE_ROUTES);
  const adminPk = (await rekey.api("GET", "/api/v3/core/users/me/")).json().user.pk as number;
  await installWriteCounters(rekey.database.db);
  const state: State = {
    rekey,
    adminPk,
    round: 0,
    fixtures: await createFixtures(rekey, adminPk, 0),
    edge: await createEdgeFixtures(rekey, 0),
    stale: { authentik: false, edge: false },
    counts: { authentik: 0, kratos: 0, pages: 0 },
    refused: 0,
    sinceFixtures: 0,
    failures: new Map(),
  };
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(arbitraryFor(routes), (generated) => checkOne(state, generated)),
    {
      numRuns: runs,
      endOnFailure: true,
      includeErrorInReport: true,
      ...(seed === undefined ? {} : { seed }),
    },
  );
  const total = state.counts.authentik + state.counts.kratos + state.counts.pages;
  t.diagnostic(
    `${dialect}: ${total} requests (authentik ${state.counts.authentik}, kratos ${state.counts.kratos}, pages ${state.counts.pages}), ${state.refused} refused, ${state.round} fixture rounds, ${Math.round((Date.now() - started) / 1000)} s`,
  );
  const failures = [...state.failures].map(([kind, example]) => `- ${kind}\n    ${example}`);
  assert.equal(failures.length, 0, `${failures.length} kinds of failure:\n${failures.join("\n")}`);
  // Every generated request was sent, and the run reached all three surfaces and both outcomes.
  assert.equal(total, runs);
  assert.ok(state.counts.kratos > 0 && state.counts.pages > 0 && state.counts.authentik > 0);
  assert.ok(state.refused > 0 && state.refused < total, `${state.refused} of ${total} refused`);
  // The admin is still in charge: the run tested real requests, not a locked-out API.
  assert.equal((await rekey.api("GET", "/api/v3/core/users/me/")).statusCode, 200);
}
