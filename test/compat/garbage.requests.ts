import assert from "node:assert/strict";
import fc from "fast-check";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { ADMIN_TOKEN, createUser, TENANTS_KEY, type TestApp } from "../support/app.js";

/**
 * Random requests for every /api/v3 route, built from the OpenAPI document Rekey serves: path ids
 * that exist, arbitrary text and garbage; bodies with the route's field names and random values,
 * any JSON or broken JSON; media types; query strings; credentials. garbage.test.ts sends them.
 */

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
const LIST_PARAMS = ["page", "page_size", "ordering", "search", "format"];

interface OpenAPIOperation {
  parameters?: { in: string; name: string }[];
  requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
}

export interface Route {
  /** OpenAPI path, relative to /api/v3, e.g. `/core/users/{id}/`. */
  path: string;
  methods: string[];
  pathParams: string[];
  queryNames: string[];
  fieldNames: string[];
}

export async function readRoutes(rekey: TestApp): Promise<Route[]> {
  const response = await rekey.api("GET", "/api/v3/schema/?format=json");
  assert.equal(response.statusCode, 200);
  const paths = response.json().paths as Record<string, Record<string, OpenAPIOperation>>;
  const routes: Route[] = [];
  for (const [path, operations] of Object.entries(paths)) {
    const route: Route = { path, methods: [], pathParams: [], queryNames: [], fieldNames: [] };
    for (const [method, operation] of Object.entries(operations)) {
      // The document also lists routes outside /api/v3 (Kratos, pages): those are not this suite's.
      if (
        !rekey.app.hasRoute({
          method: method.toUpperCase() as "GET",
          url: `/api/v3${path.replace(/\{(\w+)\}/g, ":$1")}`,
        })
      ) {
        continue;
      }
      route.methods.push(method.toUpperCase());
      for (const parameter of operation.parameters ?? []) {
        const names =
          parameter.in === "path" ? route.pathParams : parameter.in === "query" ? route.queryNames : null;
        if (names !== null && !names.includes(parameter.name)) names.push(parameter.name);
      }
      for (const field of Object.keys(
        operation.requestBody?.content?.["application/json"]?.schema?.properties ?? {},
      )) {
        if (!route.fieldNames.includes(field)) route.fieldNames.push(field);
      }
    }
    if (route.methods.length > 0) {
      routes.push(route);
    }
  }
  return routes;
}

/** Objects the generated requests may name by their real ids; re-created when a request deletes one. */
export interface Fixtures {
  adminPk: number;
  userPk: number;
  username: string;
  groupUuid: string;
  tokenIdentifier: string;
  tenantUuid: string;
  domainId: number;
  eventUuid: string;
}

export async function createFixtures(rekey: TestApp, adminPk: number, round: number): Promise<Fixtures> {
  const username = `victim${round}`;
  const userPk = await createUser(rekey, username);
  const expectCreated = (response: LightMyRequestResponse): Record<string, unknown> => {
    assert.equal(response.statusCode, 201, response.body);
    return response.json();
  };
  const group = expectCreated(
    await rekey.api("POST", "/api/v3/core/groups/", { name: `victims${round}`, users: [userPk] }),
  );
  const tokenIdentifier = `victim-token-${round}`;
  expectCreated(
    await rekey.api("POST", "/api/v3/core/tokens/", { identifier: tokenIdentifier, user: userPk }),
  );
  const tenantsAuth = { token: TENANTS_KEY };
  const tenant = expectCreated(
    await rekey.api(
      "POST",
      "/api/v3/tenants/tenants/",
      { schema_name: `t_victim${round}`, name: "Victim" },
      tenantsAuth,
    ),
  );
  const domain = expectCreated(
    await rekey.api(
      "POST",
      "/api/v3/tenants/domains/",
      { domain: `victim${round}.example.com`, tenant: tenant["tenant_uuid"] },
      tenantsAuth,
    ),
  );
  const events = await rekey.api("GET", "/api/v3/events/events/?page_size=1");
  return {
    adminPk,
    userPk,
    username,
    groupUuid: group["pk"] as string,
    tokenIdentifier,
    tenantUuid: tenant["tenant_uuid"] as string,
    domainId: domain["id"] as number,
    eventUuid: events.json().results[0].pk as string,
  };
}

/** The id of a fixture that fits a path parameter of `route`. */
function existingId(fixtures: Fixtures, route: Route, param: string): string {
  switch (param) {
    case "identifier":
      return fixtures.tokenIdentifier;
    case "group_uuid":
      return fixtures.groupUuid;
    case "tenant_uuid":
      return fixtures.tenantUuid;
    case "event_uuid":
      return fixtures.eventUuid;
    default:
      return String(route.path.startsWith("/tenants/domains/") ? fixtures.domainId : fixtures.userPk);
  }
}

/** Values a body field may take from the database: ids of real objects, as the right type or not. */
function existingValue(fixtures: Fixtures, index: number): unknown {
  const pool = [
    fixtures.userPk,
    fixtures.adminPk,
    fixtures.groupUuid,
    fixtures.tenantUuid,
    fixtures.tokenIdentifier,
    fixtures.username,
    fixtures.domainId,
    fixtures.eventUuid,
  ];
  return pool[index % pool.length];
}

// ---------------------------------------------------------------------------------------------
// Generators

type PathValue = { kind: "existing" } | { kind: "text"; text: string } | { kind: "raw"; raw: string };
type FieldValue = { json: unknown } | { existing: number } | { existingList: number };
type Body =
  | { kind: "none" }
  | { kind: "json"; value: unknown }
  | { kind: "fields"; fields: [string, FieldValue][] }
  | { kind: "raw"; raw: string };
type Credential = "route" | "none" | "garbage" | "other-key" | "doubled";

export interface GeneratedRequest {
  method: string;
  params: PathValue[];
  query: [string, { text: string } | { raw: string }][];
  body: Body;
  contentType: string | null;
  credential: Credential;
}

/** Path segments that name nothing: numbers, non-UUIDs, escapes (some broken), over-long text. */
// biome-ignore format: value lists read better packed
const GARBAGE_SEGMENTS = [
  "0", "-1", "01", "1.5", "1e3", "2147483648", "99999999999999999999999", "9007199254740993",
  "00000000-0000-0000-0000-000000000000", "00000000000000000000000000000000", "ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ",
  "null", "undefined", "%00", "%2e%2e", "a%2Fb", "%F0%9F%92%A9", "%20", "'%20OR%20'1'%3D'1", "~", ";", ",", "me",
  "%zz", "%", "%E0%A4%A", "a".repeat(300), "a".repeat(1100),
];
// biome-ignore format: value lists read better packed
const GARBAGE_QUERY_VALUES = [
  "%zz", "%", "", "0", "-1", "1", "2", "100", "101", "1.5", "1e3", "true", "false", "True",
  "99999999999999999999999", "-created,,-", "__proto__", "%00",
];
// biome-ignore format: value lists read better packed
const GARBAGE_BODIES = [
  "{", "[", '{"a":', "nul", '"unterminated', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}',
  "1e999999", "\uFEFF{}", " ", "{}{}",
];
// biome-ignore format: value lists read better packed
const CONTENT_TYPES = [
  "application/json; charset=utf-8", "APPLICATION/JSON", "application/json;", "text/plain",
  "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
  "application/vnd.api+json", "*/*", "application/jsonx",
];
// biome-ignore format: value lists read better packed
const INTERESTING_VALUES: unknown[] = [
  "", " ", null, 0, -1, 1, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, 1.5, true, false, [], {}, [null], ["a"],
  "a".repeat(300), "2026-03-01T12:00:00Z", "2026-03-01T12:00:00.123456+02:00", "9999-12-31T23:59:59Z",
  "0001-01-01T00:00:00Z", "2026-02-30T00:00", "days=1", "hours=-1", "api", "app_password", "recovery",
  "internal", "internal_service_account", "t_x", "T_x", "a/b", "/users", "user@example.com", "not-an-email",
  "\u0000", "\ud800", "ü", "00000000-0000-0000-0000-000000000000",
];

function textArbitrary(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string(),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.string({ unit: "grapheme", maxLength: 10 }),
  );
}

export function requestArbitrary(route: Route): fc.Arbitrary<GeneratedRequest> {
  const pathValue: fc.Arbitrary<PathValue> = fc.oneof(
    { weight: 4, arbitrary: fc.constant({ kind: "existing" as const }) },
    { weight: 3, arbitrary: textArbitrary().map((text) => ({ kind: "text" as const, text })) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(...GARBAGE_SEGMENTS).map((raw) => ({ kind: "raw" as const, raw })),
    },
  );
  const fieldValue: fc.Arbitrary<FieldValue> = fc.oneof(
    { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((json) => ({ json })) },
    { weight: 3, arbitrary: fc.constantFrom(...INTERESTING_VALUES).map((json) => ({ json })) },
    { weight: 2, arbitrary: textArbitrary().map((json) => ({ json })) },
    { weight: 2, arbitrary: fc.nat().map((existing) => ({ existing })) },
    { weight: 1, arbitrary: fc.nat().map((existingList) => ({ existingList })) },
  );
  const fieldName =
    route.fieldNames.length === 0
      ? fc.string()
      : fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...route.fieldNames) },
          { weight: 1, arbitrary: fc.string() },
        );
  const body: fc.Arbitrary<Body> = fc.oneof(
    { weight: 1, arbitrary: fc.constant({ kind: "none" as const }) },
    { weight: 2, arbitrary: fc.jsonValue().map((value) => ({ kind: "json" as const, value })) },
    {
      weight: 6,
      arbitrary: fc
        .array(fc.tuple(fieldName, fieldValue), { maxLength: 6 })
        .map((fields) => ({ kind: "fields" as const, fields })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...GARBAGE_BODIES).map((raw) => ({ kind: "raw" as const, raw })),
    },
  );
  const queryValue = fc.oneof(
    textArbitrary().map((text) => ({ text })),
    fc.constantFrom(...GARBAGE_QUERY_VALUES).map((raw) => ({ raw })),
    fc
      .oneof(fc.integer(), fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.double())
      .map((number) => ({ text: String(number) })),
  );
  // Each known parameter is there or not, once or repeated; a few unknown ones come along.
  const known = fc
    .subarray([...new Set([...route.queryNames, ...LIST_PARAMS])])
    .chain((names) =>
      fc.tuple(
        ...names.map((name) =>
          fc
            .array(queryValue, { minLength: 1, maxLength: 2 })
            .map((values) => values.map((value) => [name, value] as const)),
        ),
      ),
    );
  const query = fc
    .tuple(known, fc.array(fc.tuple(fc.string(), queryValue), { maxLength: 2 }))
    .map(
      ([named, unknown]) => [...named.flat(), ...unknown] as [string, { text: string } | { raw: string }][],
    );
  return fc.record({
    method: fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom(...route.methods) },
      { weight: 1, arbitrary: fc.constantFrom(...METHODS, "OPTIONS") },
    ),
    params: fc.tuple(...route.pathParams.map(() => pathValue)),
    query,
    body,
    contentType: fc.oneof(
      { weight: 8, arbitrary: fc.constant("application/json") },
      { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
      { weight: 1, arbitrary: fc.oneof(fc.constant(null), fc.string()) },
    ),
    credential: fc.oneof(
      { weight: 12, arbitrary: fc.constant<Credential>("route") },
      { weight: 1, arbitrary: fc.constantFrom<Credential>("none", "garbage", "other-key", "doubled") },
    ),
  });
}

// ---------------------------------------------------------------------------------------------
// Turning a generated request into an HTTP request

/** Percent-encodes UTF-8 bytes (lone surrogates become U+FFFD, as a client's encoder would). */
function encodeComponent(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * A path id that could reach the admin's own user, group or token is replaced: locking the admin out
 * would turn every later request into a 403 and test nothing.
 */
function protect(segment: string, fixtures: Fixtures): string {
  let decoded = segment;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    return segment;
  }
  const isAdminPk = /^\s*\+?\d+\s*$/.test(decoded) && Number(decoded) === fixtures.adminPk;
  return isAdminPk || decoded === "authentik-bootstrap-token" ? `x${segment}` : segment;
}

function materialiseField(value: FieldValue, fixtures: Fixtures): unknown {
  if ("json" in value) return value.json;
  if ("existing" in value) return existingValue(fixtures, value.existing);
  return [existingValue(fixtures, value.existingList)];
}

function payloadOf(body: Body, fixtures: Fixtures): string | undefined {
  switch (body.kind) {
    case "none":
      return undefined;
    case "json":
      return JSON.stringify(body.value);
    case "raw":
      return body.raw;
    case "fields": {
      const object: Record<string, unknown> = {};
      for (const [name, value] of body.fields) {
        Object.defineProperty(object, name, {
          value: materialiseField(value, fixtures),
          enumerable: true,
          configurable: true,
          writable: true,
        });
      }
      return JSON.stringify(object);
    }
  }
}

function credentialHeader(credential: Credential, route: Route): string | undefined {
  const isTenants = route.path.startsWith("/tenants/");
  const own = isTenants ? TENANTS_KEY : ADMIN_TOKEN;
  switch (credential) {
    case "route":
      return `Bearer ${own}`;
    case "none":
      return undefined;
    case "garbage":
      return "Bearer not-a-key";
    case "other-key":
      return `Bearer ${isTenants ? ADMIN_TOKEN : TENANTS_KEY}`;
    case "doubled":
      return `Bearer ${own} ${own}`;
  }
}

export function toInjectOptions(
  route: Route,
  generated: GeneratedRequest,
  fixtures: Fixtures,
): InjectOptions {
  let path = route.path;
  route.pathParams.forEach((param, index) => {
    const value = generated.params[index]!;
    const segment =
      value.kind === "existing"
        ? encodeComponent(existingId(fixtures, route, param))
        : value.kind === "text"
          ? encodeComponent(value.text)
          : value.raw;
    path = path.replace(`{${param}}`, protect(segment, fixtures));
  });
  const query = generated.query
    .map(
      ([name, value]) =>
        `${encodeComponent(name)}=${"raw" in value ? value.raw : encodeComponent(value.text)}`,
    )
    .join("&");
  const headers: Record<string, string> = {};
  const authorization = credentialHeader(generated.credential, route);
  if (authorization !== undefined) headers["authorization"] = authorization;
  if (generated.contentType !== null) headers["content-type"] = generated.contentType;
  return {
    method: generated.method as "GET",
    url: `/api/v3${path}${query === "" ? "" : `?${query}`}`,
    headers,
    payload: payloadOf(generated.body, fixtures),
  };
}
