import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import fc from "fast-check";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { ADMIN_TOKEN, createTokenFor, createUser, type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import { sessionOf } from "./helpers.js";

/**
 * Property tests over every device endpoint: arbitrary ids, query strings, bodies, media types and
 * credentials never give a 5xx; every 4xx is in authentik's error shape; a refused request changes
 * nothing; and no answer but the two that create a secret ever carries one.
 */

const BUDGET_MS = 30_000;
const RUNS_PER_ROUTE = 150;
const TABLES = ["totp_device", "static_device", "static_token", "session"] as const;

interface Route {
  path: string;
  methods: string[];
  fields: string[];
  query: string[];
}

const DEVICE_FIELDS = ["name"];
const CREATE_FIELDS = ["name", "user", "digits", "period", "algorithm", "secret"];
const LIST_QUERY = ["page", "page_size", "ordering", "search", "name", "user"];
const DETAIL = ["GET", "PUT", "PATCH", "DELETE"];

const ROUTES: Route[] = [
  { path: "/authenticators/admin/totp/", methods: ["GET", "POST"], fields: CREATE_FIELDS, query: LIST_QUERY },
  { path: "/authenticators/admin/totp/{id}/", methods: DETAIL, fields: CREATE_FIELDS, query: [] },
  { path: "/authenticators/totp/", methods: ["GET"], fields: DEVICE_FIELDS, query: LIST_QUERY },
  { path: "/authenticators/totp/{id}/", methods: DETAIL, fields: DEVICE_FIELDS, query: [] },
  { path: "/authenticators/totp/{id}/used_by/", methods: ["GET"], fields: [], query: [] },
  { path: "/authenticators/admin/static/", methods: ["GET"], fields: DEVICE_FIELDS, query: LIST_QUERY },
  { path: "/authenticators/admin/static/{id}/", methods: DETAIL, fields: DEVICE_FIELDS, query: [] },
  { path: "/authenticators/static/", methods: ["GET", "POST"], fields: DEVICE_FIELDS, query: LIST_QUERY },
  { path: "/authenticators/static/{id}/", methods: DETAIL, fields: DEVICE_FIELDS, query: [] },
  { path: "/authenticators/static/{id}/used_by/", methods: ["GET"], fields: [], query: [] },
  { path: "/authenticators/all/", methods: ["GET"], fields: [], query: ["user"] },
  { path: "/authenticators/admin/all/", methods: ["GET"], fields: [], query: ["user"] },
];

/** The only answers that may carry a secret: the TOTP create (config_url) and the backup-code POST. */
function mayCarrySecret(route: Route, method: string): boolean {
  return (
    method === "POST" &&
    (route.path === "/authenticators/admin/totp/" || route.path === "/authenticators/static/")
  );
}

interface Fixtures {
  jdoePk: number;
  jdoeKey: string;
  /** Device pks the generated paths may name: the admin's, jdoe's and mary's, of both kinds. */
  ids: number[];
  /** Every secret and code the fixtures hold; no read may show one. */
  secrets: string[];
}

async function createFixtures(rekey: TestApp, round: number): Promise<Fixtures> {
  const jdoePk = await createUser(rekey, `jdoe${round}`);
  const maryPk = await createUser(rekey, `mary${round}`);
  const jdoeKey = await createTokenFor(rekey, jdoePk, `jdoe${round}-key`);
  const ids: number[] = [];
  const secrets: string[] = [];
  for (const user of [undefined, jdoePk, maryPk]) {
    const created = await rekey.api("POST", "/api/v3/authenticators/admin/totp/", {
      name: `phone ${round}`,
      ...(user === undefined ? {} : { user }),
    });
    assert.equal(created.statusCode, 201, created.body);
    ids.push(created.json().pk);
    secrets.push(new URL(created.json().config_url).searchParams.get("secret")!);
  }
  for (const key of [jdoeKey, ADMIN_TOKEN]) {
    const issued = await rekey.api("POST", "/api/v3/authenticators/static/", {}, { token: key });
    assert.equal(issued.statusCode, 201, issued.body);
    ids.push(issued.json().pk);
    secrets.push(...issued.json().token_set.map((entry: { token: string }) => entry.token));
  }
  await sessionOf(rekey, jdoePk);
  return { jdoePk, jdoeKey, ids, secrets };
}

type Credential = "admin" | "jdoe" | "none" | "garbage";

interface Generated {
  method: string;
  id: { existing: number } | { raw: string };
  query: [string, string][];
  body: { none: true } | { json: unknown } | { fields: [string, unknown][] } | { raw: string };
  contentType: string | null;
  credential: Credential;
}

const INTERESTING: unknown[] = [
  "",
  " ",
  null,
  0,
  -1,
  1,
  6,
  7,
  8,
  9,
  10,
  300,
  301,
  2 ** 31,
  2 ** 53,
  1e308,
  1.5,
  true,
  false,
  [],
  {},
  ["a"],
  "a".repeat(65),
  "sha1",
  "sha512",
  "md5",
  "JBSWY3DPEHPK3PXP",
  "JBSWY3DPEHPK3PXPJBSWY3DP",
  "jbsw y3dp ehpk 3pxp ====",
  "\u0000",
  "\ud800",
  "ü",
];
const SEGMENTS = [
  "0",
  "-1",
  "01",
  "1.5",
  "1e3",
  "99999999999",
  "2147483648",
  "null",
  "%00",
  "%20",
  "a%2Fb",
  "me",
  "a".repeat(100),
];
const QUERY_VALUES = [
  "",
  "0",
  "-1",
  "1",
  "2",
  "abc",
  "1.5",
  "name",
  "-name",
  "pk,-name",
  "%00",
  "%zz",
  "99999999999",
  "true",
];

function generated(route: Route): fc.Arbitrary<Generated> {
  const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(...INTERESTING), fc.string());
  const field =
    route.fields.length === 0
      ? fc.string()
      : fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...route.fields) },
          { weight: 1, arbitrary: fc.string() },
        );
  const queryName = fc.oneof(fc.constantFrom(...LIST_QUERY, ...route.query), fc.string({ maxLength: 8 }));
  return fc.record({
    method: fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom(...route.methods) },
      { weight: 1, arbitrary: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE") },
    ),
    id: fc.oneof(
      { weight: 4, arbitrary: fc.nat().map((existing) => ({ existing })) },
      { weight: 2, arbitrary: fc.constantFrom(...SEGMENTS).map((raw) => ({ raw })) },
      {
        weight: 1,
        arbitrary: fc.string({ minLength: 1 }).map((text) => ({ raw: encodeURIComponent(text) })),
      },
    ),
    query: fc.array(
      fc.tuple(queryName, fc.oneof(fc.constantFrom(...QUERY_VALUES), fc.string().map(encodeURIComponent))),
      { maxLength: 4 },
    ),
    body: fc.oneof(
      { weight: 1, arbitrary: fc.constant({ none: true as const }) },
      { weight: 2, arbitrary: fc.jsonValue().map((json) => ({ json })) },
      {
        weight: 6,
        arbitrary: fc.array(fc.tuple(field, value), { maxLength: 6 }).map((fields) => ({ fields })),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom("{", "[", "nul", '{"__proto__":{}}', " ").map((raw) => ({ raw })),
      },
    ),
    contentType: fc.oneof(
      { weight: 8, arbitrary: fc.constant("application/json") },
      { weight: 1, arbitrary: fc.constantFrom("text/plain", "application/x-www-form-urlencoded", null) },
    ),
    credential: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom<Credential>("admin", "jdoe") },
      { weight: 1, arbitrary: fc.constantFrom<Credential>("none", "garbage") },
    ),
  });
}

function payloadOf(body: Generated["body"]): string | undefined {
  if ("none" in body) return undefined;
  if ("raw" in body) return body.raw;
  if ("json" in body) return JSON.stringify(body.json);
  const object: Record<string, unknown> = {};
  for (const [name, value] of body.fields) {
    Object.defineProperty(object, name, { value, enumerable: true, configurable: true, writable: true });
  }
  return JSON.stringify(object);
}

function toRequest(route: Route, request: Generated, fixtures: Fixtures): InjectOptions {
  const id =
    "existing" in request.id
      ? String(fixtures.ids[request.id.existing % fixtures.ids.length])
      : request.id.raw;
  const query = request.query.map(([name, value]) => `${encodeURIComponent(name)}=${value}`).join("&");
  const headers: Record<string, string> = {};
  const key = { admin: ADMIN_TOKEN, jdoe: fixtures.jdoeKey, none: null, garbage: "not-a-key" }[
    request.credential
  ];
  if (key !== null) headers["authorization"] = `Bearer ${key}`;
  if (request.contentType !== null) headers["content-type"] = request.contentType;
  return {
    method: request.method as "GET",
    url: `/api/v3${route.path.replace("{id}", id)}${query === "" ? "" : `?${query}`}`,
    headers,
    payload: payloadOf(request.body),
  };
}

async function snapshot(rekey: TestApp): Promise<string> {
  const kysely = rekey.database.db.kysely;
  const parts: string[] = [];
  for (const table of TABLES) {
    const rows = await kysely.selectFrom(table).selectAll().execute();
    parts.push(
      `${table}: ${rows
        .map((row) => JSON.stringify(row))
        .sort()
        .join(" | ")}`,
    );
  }
  const events = await kysely
    .selectFrom("event")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  parts.push(`events: ${Number(events.n)}`);
  return parts.join("\n");
}

function assertErrorShape(response: LightMyRequestResponse, label: string): void {
  assert.match(String(response.headers["content-type"]), /^application\/json/, label);
  const body: unknown = JSON.parse(response.body);
  assert.ok(typeof body === "object" && body !== null && !Array.isArray(body), label);
  assert.ok(!("code" in body), `no error body carries a code: ${label}`);
  if ("detail" in body) {
    assert.deepEqual(Object.keys(body), ["detail"], label);
    assert.equal(typeof body.detail, "string", label);
    return;
  }
  assert.ok(Object.keys(body).length > 0, label);
  for (const messages of Object.values(body)) {
    assert.ok(
      Array.isArray(messages) && messages.length > 0 && messages.every((text) => typeof text === "string"),
      label,
    );
  }
}

interface State {
  rekey: TestApp;
  round: number;
  fixtures: Fixtures;
  stale: boolean;
  before: string | null;
}

async function check(state: State, route: Route, request: Generated): Promise<void> {
  if (state.stale) {
    state.round += 1;
    state.fixtures = await createFixtures(state.rekey, state.round);
    state.stale = false;
    state.before = null;
  }
  const options = toRequest(route, request, state.fixtures);
  const before = state.before ?? (await snapshot(state.rekey));
  const response = await state.rekey.app.inject(options);
  const label = `${options.method} ${options.url} ${JSON.stringify(options.headers)} ${String(options.payload ?? "").slice(0, 300)} → ${response.statusCode} ${response.body.slice(0, 300)}`;
  assert.ok(response.statusCode < 500, label);
  if (!mayCarrySecret(route, options.method!)) {
    assert.ok(!response.body.includes("otpauth"), `no config_url outside the create answer: ${label}`);
    for (const secret of state.fixtures.secrets) {
      assert.ok(!response.body.includes(secret), `no stored secret or code in any other answer: ${label}`);
    }
  }
  if (response.statusCode >= 400) {
    assertErrorShape(response, label);
    const after = await snapshot(state.rekey);
    assert.equal(after, before, `a refused request changed nothing: ${label}`);
    state.before = after;
    return;
  }
  state.before = null;
  if (response.statusCode === 201) {
    // A new device: its secret or codes join those no later answer may show.
    const created = response.json();
    state.fixtures.ids.push(created.pk);
    if (typeof created.config_url === "string")
      state.fixtures.secrets.push(new URL(created.config_url).searchParams.get("secret")!);
    for (const entry of created.token_set ?? []) state.fixtures.secrets.push(entry.token);
  }
  // A delete may have removed a fixture (and ended its owner's sessions): start afresh.
  if (options.method === "DELETE") state.stale = true;
}

async function fuzz(t: TestContext, state: State, route: Route, budgetMs: number): Promise<void> {
  let runs = 0;
  let inFlight: Promise<unknown> = Promise.resolve();
  await fc.assert(
    fc.asyncProperty(generated(route), (request) => {
      runs += 1;
      const run = check(state, route, request);
      inFlight = run.catch(() => undefined);
      return run;
    }),
    { numRuns: RUNS_PER_ROUTE, interruptAfterTimeLimit: budgetMs, includeErrorInReport: true },
  );
  await inFlight;
  state.before = null;
  t.diagnostic(`${route.path}: ${runs} requests`);
}

for (const dialect of DIALECTS) {
  describe(`device endpoints under arbitrary input on ${dialect}`, () => {
    test("never a 5xx, errors in authentik's shape, nothing changed when refused, no secret where none belongs", async (t) => {
      const rekey = await testApp(t, dialect);
      const state: State = {
        rekey,
        round: 0,
        fixtures: await createFixtures(rekey, 0),
        stale: false,
        before: null,
      };
      for (const route of ROUTES) {
        await fuzz(t, state, route, BUDGET_MS / ROUTES.length);
      }
    });
  });
}
