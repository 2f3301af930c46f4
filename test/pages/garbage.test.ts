import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { InjectOptions } from "fastify";
import { sha256Hex } from "../../src/crypto/secrets.js";
import { createUser, type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  createKey,
  createLink,
  csrfTokenOf,
  type IssuedSecret,
  type PageClient,
  setPassword,
  signIn,
} from "./helpers.js";

/**
 * Property tests over every page route: random paths, query strings, media types and form bodies
 * never give a 5xx, every page answer is a page with its security headers, and a form POST without
 * a valid CSRF token changes nothing.
 */

const RUNS = 150;
const TIME_LIMIT_MS = 20_000;
const FORM_ROUTES = [
  "/if/flow/default-recovery-flow/",
  "/if/recovery/",
  "/if/recovery/request/",
  "/if/login/",
  "/if/logout/",
];
const FIELD_NAMES = [
  "csrf_token",
  "key",
  "password",
  "password_repeat",
  "identifier",
  "email",
  "reset_mfa",
  "code",
  "__proto__",
  "constructor",
];
const CONTENT_TYPES = [
  "application/x-www-form-urlencoded",
  "application/x-www-form-urlencoded; charset=latin1",
  "APPLICATION/X-WWW-FORM-URLENCODED",
  "application/json",
  "text/plain",
  "multipart/form-data; boundary=xyz",
  "text/html",
];
const NASTY_SEGMENTS = ["%", "%zz", "..", "%00", "%2F", "%E0%A4%A", "a%20b", "default-recovery-flow"];

interface Setup {
  rekey: TestApp;
  link: IssuedSecret;
  key: IssuedSecret;
  /** A browser with an open recovery session, a login session and a CSRF cookie. */
  victim: PageClient;
  /** A valid csrf_token for the victim's cookie, so random forms also reach the services. */
  victimToken: string;
  userPk: number;
}

async function setUp(
  t: Parameters<typeof testApp>[0],
  dialect: Parameters<typeof testApp>[1],
): Promise<Setup> {
  const rekey = await testApp(t, dialect);
  const userPk = await createUser(rekey, "jdoe", { email: "jane@example.com" });
  await setPassword(rekey, userPk, "the-current-password-1");
  const victim = await signIn(rekey, "jdoe", "the-current-password-1");
  const opened = await createLink(rekey, userPk);
  const page = await victim.get(opened.path);
  assert.equal((await victim.post(opened.path, { csrf_token: csrfTokenOf(page.body) })).statusCode, 303);
  const link = await createLink(rekey, (await createUser(rekey, "other")) as number);
  const key = await createKey(rekey, "other");
  return { rekey, link, key, victim, victimToken: csrfTokenOf(page.body), userPk };
}

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("", "x".repeat(5_000), "é", "\u0000", "<script>", "a=b&c"),
);
const formBody = fc.array(
  fc.tuple(fc.oneof(fc.constantFrom(...FIELD_NAMES), fc.string({ maxLength: 10 })), text),
  { maxLength: 8 },
);

function pathArbitrary(setup: Setup): fc.Arbitrary<string> {
  const segment = fc.oneof(
    fc.constantFrom(...NASTY_SEGMENTS),
    fc.string({ maxLength: 30 }).map(encodeURIComponent),
  );
  const query = fc.oneof(
    fc.constant(""),
    text.map((value) => `?flow_token=${encodeURIComponent(value)}`),
    fc.constant(`?flow_token=${setup.link.key}&flow_token=x`),
    fc.constant(`?flow_token=${setup.link.key}`),
    fc.string({ maxLength: 30 }).map((raw) => `?${raw}`),
  );
  return fc.oneof(
    fc.tuple(segment, query).map(([slug, q]) => `/if/flow/${slug}/${q}`),
    fc.tuple(fc.constantFrom(...FORM_ROUTES), query).map(([path, q]) => `${path}${q}`),
    segment.map((key) => `/recovery/use-token/${key}/`),
    fc.constantFrom(
      setup.key.path,
      setup.link.path,
      "/if/user/",
      "/if/recovery/invalid/",
      "/static/rekey.css",
    ),
  );
}

const FORM_TYPE = "application/x-www-form-urlencoded";

function requestArbitrary(setup: Setup): fc.Arbitrary<InjectOptions> {
  // Weighted towards well-formed form POSTs carrying the victim's valid token, so that random
  // fields reach the services and not only the media-type and CSRF checks.
  const otherType: fc.Arbitrary<string | null> = fc.option(
    fc.oneof(fc.constantFrom(...CONTENT_TYPES), fc.string({ maxLength: 30 })),
  );
  const contentType = fc.oneof(
    { arbitrary: fc.constant<string | null>(FORM_TYPE), weight: 4 },
    { arbitrary: otherType, weight: 1 },
  );
  const body = fc.oneof(
    {
      arbitrary: formBody.map((pairs) =>
        new URLSearchParams([...pairs, ["csrf_token", setup.victimToken]]).toString(),
      ),
      weight: 4,
    },
    { arbitrary: formBody.map((pairs) => new URLSearchParams(pairs).toString()), weight: 1 },
    { arbitrary: fc.string({ maxLength: 200 }), weight: 1 },
    { arbitrary: fc.constant(`password=${"p".repeat(40_000)}`), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)), weight: 1 },
  );
  return fc
    .record({
      method: fc.oneof(
        { arbitrary: fc.constant("POST"), weight: 4 },
        { arbitrary: fc.constantFrom("GET", "HEAD", "PUT", "DELETE"), weight: 2 },
      ),
      url: pathArbitrary(setup),
      contentType,
      body,
      withVictimCookies: fc.oneof(
        { arbitrary: fc.constant(true), weight: 3 },
        { arbitrary: fc.constant(false), weight: 1 },
      ),
      ip: fc.ipV4(),
    })
    .map(({ method, url, contentType: type, body: payload, withVictimCookies, ip }) => {
      const headers: Record<string, string> = {};
      if (type !== null) headers["content-type"] = type;
      if (withVictimCookies)
        headers["cookie"] = [...setup.victim.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
      const hasBody = method !== "GET" && method !== "HEAD";
      return {
        method: method as "GET",
        url,
        headers,
        payload: hasBody ? payload : undefined,
        remoteAddress: ip,
      };
    });
}

/** What a forged POST must not touch: the link and key stay usable, the sessions open, the password as it was. */
async function snapshot(setup: Setup): Promise<Record<string, unknown>> {
  const stores = setup.rekey.deps.persistence.stores;
  const tenant = await stores.tenants.defaultTenant();
  const now = setup.rekey.deps.clock.now();
  const events = await setup.rekey.api("GET", "/api/v3/events/events/?page_size=1");
  return {
    link: (await stores.recovery.findUsableToken(tenant.id, "link", sha256Hex(setup.link.key), now)) !== null,
    key: (await stores.recovery.findUsableToken(tenant.id, "key", sha256Hex(setup.key.key), now)) !== null,
    recoverySession: (
      await stores.recovery.findOpenFlow(
        tenant.id,
        sha256Hex(setup.victim.cookies.get("rekey_recovery")!),
        now,
      )
    )?.state,
    loginSession: (
      await stores.sessions.findActiveSession(
        tenant.id,
        sha256Hex(setup.victim.cookies.get("rekey_session")!),
        now,
        3_600_000,
      )
    )?.id,
    password: await stores.users.passwordHash(tenant.id, setup.userPk),
    events: events.json().pagination.count,
  };
}

for (const dialect of DIALECTS) {
  describe(`page routes under random input on ${dialect}`, () => {
    test("never answer 5xx, and every page answer carries the security headers", async (t) => {
      const setup = await setUp(t, dialect);
      await fc.assert(
        fc.asyncProperty(requestArbitrary(setup), async (request) => {
          const response = await setup.rekey.app.inject(request);
          assert.ok(
            response.statusCode < 500,
            `${response.statusCode} ${request.method} ${request.url}: ${response.body}`,
          );
          const type = String(response.headers["content-type"] ?? "");
          if (type.startsWith("text/html")) {
            assert.equal(response.headers["referrer-policy"], "no-referrer");
            assert.match(String(response.headers["content-security-policy"]), /^default-src 'none';/);
          }
        }),
        { numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS },
      );
    });

    test("a form POST without a valid CSRF token changes nothing, even with the victim's cookies", async (t) => {
      const setup = await setUp(t, dialect);
      const before = await snapshot(setup);
      assert.deepEqual(
        [before["link"], before["key"], before["recoverySession"]],
        [true, true, "passed_challenge"],
      );
      const forged = fc.record({
        url: fc.constantFrom(...FORM_ROUTES, setup.key.path, `${setup.link.path}`),
        pairs: formBody,
        token: fc.option(fc.oneof(text, fc.base64String({ minLength: 88, maxLength: 88 }))),
        key: fc.constantFrom(setup.link.key, setup.key.key),
        password: fc.constantFrom("a-valid-new-Passw0rd", "the-current-password-1"),
        withCSRFCookie: fc.boolean(),
      });
      await fc.assert(
        fc.asyncProperty(forged, async ({ url, pairs, token, key, password, withCSRFCookie }) => {
          const fields = new URLSearchParams(pairs);
          for (const [name, value] of [
            ["key", key],
            ["identifier", "jdoe"],
            ["password", password],
            ["password_repeat", password],
            ["email", "jane@example.com"],
          ]) {
            fields.set(name!, value!);
          }
          fields.delete("csrf_token");
          if (token !== null) fields.set("csrf_token", token);
          const cookies = [...setup.victim.cookies].filter(
            ([name]) => withCSRFCookie || name !== "rekey_csrf",
          );
          const response = await setup.rekey.app.inject({
            method: "POST",
            url,
            headers: {
              "content-type": "application/x-www-form-urlencoded",
              cookie: cookies.map(([n, v]) => `${n}=${v}`).join("; "),
            },
            payload: fields.toString(),
          });
          assert.equal(response.statusCode, 403, response.body);
        }),
        { numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS },
      );
      assert.deepEqual(await snapshot(setup), before);
    });
  });
}
