import assert from "node:assert/strict";
import fc from "fast-check";
import type { InjectOptions } from "fastify";
import { ADMIN_TOKEN, type TestApp } from "../support/app.js";
import { csrfTokenOf, createKey, createLink, PageClient, signIn } from "../pages/helpers.js";
import {
  adminCodeFlow,
  createIdentity,
  csrfOf,
  KratosClient,
  signInWithPassword,
  startLogin,
  startRecovery,
} from "../selfservice/helpers.js";

/**
 * Random requests for the routes the OpenAPI document does not list: Kratos' admin and public
 * routes, its /ui pages and the authentik-style HTML pages. The route lists are checked against the
 * app (hasRoute), so a renamed route fails the suite instead of going unfuzzed.
 */

export interface RouteSpec {
  path: string;
  methods: string[];
}

const ADMIN_ROUTES: RouteSpec[] = [
  { path: "/recovery/code", methods: ["POST"] },
  { path: "/recovery/link", methods: ["POST"] },
  { path: "/identities", methods: ["GET", "POST"] },
  { path: "/identities/{id}", methods: ["GET", "PATCH", "DELETE"] },
  { path: "/identities/{id}/credentials/{type}", methods: ["DELETE"] },
];

export const KRATOS_ROUTES: RouteSpec[] = [
  ...["recovery", "settings", "login"].flatMap((kind) => [
    { path: `/self-service/${kind}/browser`, methods: ["GET"] },
    { path: `/self-service/${kind}/api`, methods: ["GET"] },
    { path: `/self-service/${kind}/flows`, methods: ["GET"] },
    { path: `/self-service/${kind}`, methods: kind === "recovery" ? ["GET", "POST"] : ["POST"] },
  ]),
  { path: "/sessions/whoami", methods: ["GET"] },
  { path: "/self-service/logout/api", methods: ["DELETE"] },
  { path: "/self-service/logout/browser", methods: ["GET"] },
  { path: "/self-service/logout", methods: ["GET"] },
  { path: "/ui/recovery", methods: ["GET"] },
  { path: "/ui/settings", methods: ["GET"] },
  { path: "/ui/login", methods: ["GET", "POST"] },
  { path: "/ui/error", methods: ["GET"] },
  ...["/admin", "/iam"].flatMap((prefix) => ADMIN_ROUTES.map((r) => ({ ...r, path: `${prefix}${r.path}` }))),
];

export const PAGE_ROUTES: RouteSpec[] = [
  { path: "/if/flow/{slug}/", methods: ["GET", "POST"] },
  { path: "/recovery/use-token/{key}/", methods: ["GET", "POST"] },
  { path: "/if/recovery/", methods: ["GET", "POST"] },
  { path: "/if/recovery/invalid/", methods: ["GET"] },
  { path: "/if/recovery/request/", methods: ["GET", "POST"] },
  { path: "/if/login/", methods: ["GET", "POST"] },
  { path: "/if/user/", methods: ["GET"] },
  { path: "/if/logout/", methods: ["POST"] },
  { path: "/if/user/totp/", methods: ["GET", "POST"] },
  { path: "/if/user/backup-codes/", methods: ["GET", "POST"] },
];

/** Every listed route exists in the app: the lists cannot drift from src/ unnoticed. */
export function assertRoutesExist(rekey: TestApp, routes: RouteSpec[]): void {
  for (const route of routes) {
    for (const method of route.methods) {
      const url = route.path.replace(/\{(\w+)\}/g, ":$1");
      assert.ok(rekey.app.hasRoute({ method: method as "GET", url }), `${method} ${route.path} is a route`);
    }
  }
}

/** Real objects the generated requests may name; re-made after a request that may have used them up. */
export interface EdgeFixtures {
  email: string;
  password: string;
  identityId: string;
  /** Recovery, login and settings flow ids of every client kind, and an admin code flow. */
  flowIds: string[];
  csrfTokens: string[];
  code: string;
  sessionToken: string;
  /** Cookies of a browser with open flows and a Kratos session; of a page browser signed in. */
  kratosCookies: string;
  pageCookies: string;
  pageCSRF: string;
  linkToken: string;
  keyToken: string;
}

export async function createEdgeFixtures(rekey: TestApp, round: number): Promise<EdgeFixtures> {
  const email = `edge${round}@example.com`;
  const password = `edge-password-${round}-Aa1!`;
  const user = await createIdentity(rekey, `edge${round}`, { email, password });
  const spa = new KratosClient(rekey, "spa");
  const api = new KratosClient(rekey, "api");
  const recovery = [await startRecovery(spa), await startRecovery(api)];
  const login = [await startLogin(spa), await startLogin(api)];
  await signInWithPassword(spa, email, password);
  await signInWithPassword(api, email, password);
  const settings = await api.get("/self-service/settings/api");
  assert.equal(settings.statusCode, 200, settings.body);
  const admin = await adminCodeFlow(rekey, user.pk);
  const page = await signIn(rekey, `edge${round}`, password, new PageClient(rekey));
  const form = await page.get("/if/recovery/request/");
  const link = await createLink(rekey, user.pk);
  const key = await createKey(rekey, `edge${round}`);
  return {
    email,
    password,
    identityId: user.uuid,
    flowIds: [...recovery, ...login, settings.json()]
      .map((flow) => flow["id"] as string)
      .concat(admin.flowId),
    csrfTokens: [...recovery, ...login].map(csrfOf),
    code: admin.code,
    sessionToken: api.sessionToken ?? "",
    kratosCookies: [...spa.cookies].map(([n, v]) => `${n}=${v}`).join("; "),
    pageCookies: [...page.cookies].map(([n, v]) => `${n}=${v}`).join("; "),
    pageCSRF: csrfTokenOf(form.body),
    linkToken: link.key,
    keyToken: key.key,
  };
}

// ---------------------------------------------------------------------------------------------
// Generators: abstract values, made concrete against the fixtures of the moment

type Value = { fixture: number } | { text: string } | { json: unknown };

/** A value drawn from the fixtures: flow ids, tokens, the user's own address, password and code. */
function fixtureValue(fixtures: EdgeFixtures, index: number): string {
  const pool = [
    ...fixtures.flowIds,
    ...fixtures.csrfTokens,
    fixtures.email,
    fixtures.password,
    fixtures.code,
    fixtures.identityId,
    fixtures.linkToken,
    fixtures.keyToken,
    fixtures.pageCSRF,
    fixtures.sessionToken,
  ];
  return pool[index % pool.length]!;
}

function concrete(value: Value, fixtures: EdgeFixtures): unknown {
  if ("fixture" in value) return fixtureValue(fixtures, value.fixture);
  if ("text" in value) return value.text;
  return value.json;
}

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    "",
    "x".repeat(5_000),
    "\u0000",
    "<script>",
    "a=b&c",
    "%zz",
    "..",
    "code",
    "password",
    "link",
    "totp",
    "lookup_secret",
    "aal2",
    "true",
  ),
);
const value: fc.Arbitrary<Value> = fc.oneof(
  { weight: 4, arbitrary: fc.nat().map((fixture) => ({ fixture })) },
  { weight: 3, arbitrary: text.map((t) => ({ text: t })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((json) => ({ json })) },
);
// biome-ignore format: value lists read better packed
const FIELDS = [
  "method", "email", "code", "csrf_token", "password", "identifier", "totp_code", "lookup_secret", "token", "flow",
  "identity_id", "expires_in", "flow_type", "schema_id", "traits", "state", "traits.email", "transient_payload",
  "key", "password_repeat", "reset_mfa", "name", "__proto__", "op", "path", "value",
];
// biome-ignore format: value lists read better packed
const QUERY_NAMES = ["flow", "id", "token", "return_to", "aal", "refresh", "page_size", "page_token", "per_page",
  "ids", "credentials_identifier", "include_credential", "flow_token", "next", "x"];
// biome-ignore format: value lists read better packed
const CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x",
  "application/json; charset=utf-8", "application/xml", "APPLICATION/X-WWW-FORM-URLENCODED"];
const ACCEPTS = ["application/json", "text/html", "*/*", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"];
const SEGMENTS = [
  "%zz",
  "%",
  "..",
  "%00",
  "%2F",
  "a%20b",
  "default-recovery-flow",
  "00000000-0000-0000-0000-000000000000",
  "password",
  "totp",
];

type Body =
  | { kind: "none" }
  | { kind: "json" | "form"; fields: [string, Value][] }
  | { kind: "raw"; raw: string }
  | { kind: "patch"; ops: unknown[] };

export interface EdgeRequest {
  route: number;
  /** An index into the route's own methods, or any method at all. */
  method: number | string;
  segments: (Value | { raw: string })[];
  query: [string, Value][];
  body: Body;
  contentType: string | null;
  accept: string | null;
  cookies: "kratos" | "page" | "both" | "none" | "garbage";
  sessionToken: "real" | "garbage" | "none";
  authorization: "admin" | "garbage" | "none";
  ip: string;
}

export function edgeRequestArbitrary(routes: RouteSpec[]): fc.Arbitrary<EdgeRequest> {
  const fields = fc.array(
    fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 10 })), value),
    { maxLength: 7 },
  );
  const body: fc.Arbitrary<Body> = fc.oneof(
    { weight: 1, arbitrary: fc.constant<Body>({ kind: "none" }) },
    { weight: 4, arbitrary: fields.map((f): Body => ({ kind: "json", fields: f })) },
    { weight: 4, arbitrary: fields.map((f): Body => ({ kind: "form", fields: f })) },
    {
      weight: 1,
      arbitrary: fc
        .oneof(fc.string({ maxLength: 200 }), fc.constantFrom("{", "[", "nul", "{}{}"))
        .map((raw): Body => ({ kind: "raw", raw })),
    },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 })
        .map((ops): Body => ({ kind: "patch", ops })),
    },
  );
  return fc.record({
    route: fc.nat({ max: routes.length - 1 }),
    method: fc.oneof(
      { weight: 9, arbitrary: fc.nat() as fc.Arbitrary<number | string> },
      { weight: 1, arbitrary: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD") },
    ),
    segments: fc.array(
      fc.oneof(
        value,
        fc.constantFrom(...SEGMENTS).map((raw) => ({ raw })),
      ),
      { minLength: 2, maxLength: 2 },
    ),
    query: fc.array(
      fc.tuple(
        fc.oneof(
          { weight: 5, arbitrary: fc.constantFrom(...QUERY_NAMES) },
          { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
        ),
        value,
      ),
      { maxLength: 4 },
    ),
    body,
    contentType: fc.oneof(fc.constantFrom(...CONTENT_TYPES), fc.constant(null), fc.string({ maxLength: 20 })),
    accept: fc.oneof(fc.constantFrom(...ACCEPTS), fc.constant(null)),
    cookies: fc.constantFrom("kratos", "page", "both", "none", "garbage"),
    sessionToken: fc.constantFrom("real", "garbage", "none", "none"),
    authorization: fc.oneof(
      { weight: 3, arbitrary: fc.constant("admin" as const) },
      { weight: 1, arbitrary: fc.constantFrom("garbage" as const, "none" as const) },
    ),
    ip: fc.ipV4(),
  });
}

function encode(raw: unknown): string {
  return encodeURIComponent(typeof raw === "string" ? raw : (JSON.stringify(raw) ?? ""));
}

/** Strings as they are, anything else as JSON text: what a form field can carry. */
function formText(raw: unknown): string {
  return typeof raw === "string" ? raw : (JSON.stringify(raw) ?? "");
}

function payloadOf(body: Body, fixtures: EdgeFixtures): string | undefined {
  switch (body.kind) {
    case "none":
      return undefined;
    case "raw":
      return body.raw;
    case "patch":
      return JSON.stringify(body.ops);
    case "json": {
      const object: Record<string, unknown> = {};
      for (const [name, v] of body.fields) {
        Object.defineProperty(object, name, {
          value: concrete(v, fixtures),
          enumerable: true,
          configurable: true,
          writable: true,
        });
      }
      return JSON.stringify(object);
    }
    case "form":
      return new URLSearchParams(
        body.fields.map(([name, v]): [string, string] => [name, formText(concrete(v, fixtures))]),
      ).toString();
  }
}

export function edgeInjectOptions(
  routes: RouteSpec[],
  generated: EdgeRequest,
  fixtures: EdgeFixtures,
): InjectOptions {
  const route = routes[generated.route]!;
  let index = 0;
  const path = route.path.replace(/\{\w+\}/g, () => {
    const segment = generated.segments[index++]!;
    return "raw" in segment ? segment.raw : encode(concrete(segment, fixtures));
  });
  const query = generated.query
    .map(([name, v]) => `${encodeURIComponent(name)}=${encode(concrete(v, fixtures))}`)
    .join("&");
  const headers: Record<string, string> = {};
  if (generated.contentType !== null && generated.body.kind !== "none")
    headers["content-type"] = generated.contentType;
  if (generated.accept !== null) headers["accept"] = generated.accept;
  const cookies = {
    kratos: fixtures.kratosCookies,
    page: fixtures.pageCookies,
    both: `${fixtures.kratosCookies}; ${fixtures.pageCookies}`,
    none: "",
    garbage: "ory_kratos_session=nope; rekey_session=%%%; rekey_csrf=x",
  }[generated.cookies];
  if (cookies !== "") headers["cookie"] = cookies;
  if (generated.sessionToken !== "none")
    headers["x-session-token"] = generated.sessionToken === "real" ? fixtures.sessionToken : "ory_st_nope";
  if (generated.authorization !== "none")
    headers["authorization"] =
      generated.authorization === "admin" ? `Bearer ${ADMIN_TOKEN}` : "Bearer not-a-key";
  const method =
    typeof generated.method === "string"
      ? generated.method
      : route.methods[generated.method % route.methods.length]!;
  return {
    method: method as "GET",
    url: `${path}${query === "" ? "" : `?${query}`}`,
    headers,
    payload: method === "GET" || method === "HEAD" ? undefined : payloadOf(generated.body, fixtures),
    remoteAddress: generated.ip,
  };
}
