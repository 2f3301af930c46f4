import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixedClock } from "../../src/clock.js";
import { DIALECTS } from "../support/databases.js";
import {
  ADMIN_TOKEN,
  createTokenFor,
  createUser,
  TENANTS_KEY,
  type TestApp,
  testApp,
} from "../support/app.js";

const EVENT_KEYS = ["pk", "user", "action", "app", "context", "client_ip", "created", "expires", "brand"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DAY = 86_400_000;
const GHOST = "0c6f7a0e-1111-4222-8333-944455556666";

// biome-ignore lint/suspicious/noExplicitAny: response bodies are untyped JSON, checked by the assertions
type WireEvent = Record<string, any>;

async function events(rekey: TestApp, query: string): Promise<WireEvent[]> {
  const response = await rekey.api("GET", `/api/v3/events/events/${query}`);
  assert.equal(response.statusCode, 200, response.body);
  return response.json().results;
}

function actions(list: WireEvent[]): string[] {
  return list.map((event) => event.action);
}

function modelNames(list: WireEvent[]): string[] {
  return list.map((event) => (event.context.model ?? event.context.target ?? event.context.secret)?.name);
}

/**
 * A small history, one minute apart: akadmin creates jdoe (from 203.0.113.9), creates the group
 * "staff" with jdoe, sets jdoe's password, creates jdoe's token and reads its key (secret_view);
 * then jdoe creates a token of their own.
 */
async function seedHistory(
  rekey: TestApp,
  clock: ReturnType<typeof fixedClock>,
): Promise<{ jdoe: number; group: string }> {
  const created = await rekey.app.inject({
    method: "POST",
    url: "/api/v3/core/users/",
    remoteAddress: "203.0.113.9",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    payload: JSON.stringify({ username: "jdoe", name: "Jane", email: "jane@example.com" }),
  });
  assert.equal(created.statusCode, 201, created.body);
  const jdoe = created.json().pk as number;
  clock.advance(60_000);
  const group = (await rekey.api("POST", "/api/v3/core/groups/", { name: "staff", users: [jdoe] })).json()
    .pk as string;
  clock.advance(60_000);
  await rekey.api("POST", `/api/v3/core/users/${jdoe}/set_password/`, {
    password: "correct horse battery staple",
  });
  clock.advance(60_000);
  await rekey.api("POST", "/api/v3/core/tokens/", { identifier: "jdoe-login", user: jdoe, intent: "api" });
  clock.advance(60_000);
  const key = (await rekey.api("GET", "/api/v3/core/tokens/jdoe-login/view_key/")).json().key as string;
  clock.advance(60_000);
  const own = await rekey.api("POST", "/api/v3/core/tokens/", { identifier: "jdoe-own" }, { token: key });
  assert.equal(own.statusCode, 201, own.body);
  return { jdoe, group };
}

for (const dialect of DIALECTS) {
  describe(`GET /api/v3/events/events/ on ${dialect}`, () => {
    test("an API write is recorded with actor, app, model, request, client IP and a year's retention", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:00.123Z"));
      const rekey = await testApp(t, dialect, { clock });
      const created = await rekey.app.inject({
        method: "POST",
        url: "/api/v3/core/users/?source=script&tag=a&tag=b",
        remoteAddress: "203.0.113.9",
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          "content-type": "application/json",
          "user-agent": "provisioning/1.0",
        },
        payload: JSON.stringify({ username: "jdoe", name: "Jane" }),
      });
      assert.equal(created.statusCode, 201, created.body);
      const admin = (await rekey.api("GET", "/api/v3/core/users/me/")).json().user;
      const [event] = await events(rekey, "?action=model_created");
      assert.ok(event !== undefined);
      assert.deepEqual(Object.keys(event), EVENT_KEYS);
      assert.match(event.pk, UUID);
      assert.deepEqual(Object.keys(event.user), ["pk", "username", "email"]);
      assert.deepEqual(event, {
        pk: event.pk,
        user: { pk: admin.pk, username: "akadmin", email: "admin@example.com" },
        action: "model_created",
        app: "rekey.api",
        context: {
          model: { app: "authentik_core", model_name: "user", pk: created.json().pk, name: "jdoe" },
          http_request: {
            path: "/api/v3/core/users/",
            method: "POST",
            args: { source: "script", tag: ["a", "b"] },
            user_agent: "provisioning/1.0",
          },
        },
        client_ip: "203.0.113.9",
        created: "2026-03-01T12:00:00.123000Z",
        expires: "2027-03-01T12:00:00.123000Z",
        brand: {},
      });
      assert.deepEqual(Object.keys(event.context.http_request), ["path", "method", "args", "user_agent"]);
    });

    test("expires is always created plus 365 days", async (t) => {
      const clock = fixedClock(new Date("2027-12-31T23:59:59Z"));
      const rekey = await testApp(t, dialect, { clock });
      await createUser(rekey, "jdoe");
      const [event] = await events(rekey, "");
      assert.equal(event!.created, "2027-12-31T23:59:59Z");
      assert.equal(
        event!.expires,
        "2028-12-30T23:59:59Z",
        "2028 is a leap year: 365 days, not one calendar year",
      );
      assert.equal(Date.parse(event!.expires) - Date.parse(event!.created), 365 * DAY);
    });

    test("tenants API writes are recorded as rekey:system with authentik_tenants references", async (t) => {
      const rekey = await testApp(t, dialect);
      const tenant = await rekey.api(
        "POST",
        "/api/v3/tenants/tenants/",
        { schema_name: "t_acme", name: "Acme" },
        { token: TENANTS_KEY },
      );
      const id = tenant.json().tenant_uuid as string;
      const [event] = await events(rekey, "?context_model_app=authentik_tenants");
      assert.deepEqual(event!.user, { pk: 0, username: "rekey:system", email: "" });
      assert.equal(event!.action, "model_created");
      assert.deepEqual(event!.context.model, {
        app: "authentik_tenants",
        model_name: "tenant",
        pk: id.replaceAll("-", ""),
        name: "Acme",
      });
    });

    test("the newest event comes first unless ordering says otherwise", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:00Z"));
      const rekey = await testApp(t, dialect, { clock });
      await seedHistory(rekey, clock);
      const newestFirst = await events(rekey, "");
      const created = newestFirst.map((event) => event.created);
      assert.deepEqual(created, [...created].sort().reverse());
      assert.deepEqual(modelNames(newestFirst), [
        "jdoe-own",
        "jdoe-login",
        "jdoe-login",
        "jdoe",
        "staff",
        "jdoe",
      ]);
      assert.deepEqual(actions(newestFirst), [
        "model_created",
        "secret_view",
        "model_created",
        "password_set",
        "model_created",
        "model_created",
      ]);
      const oldestFirst = await events(rekey, "?ordering=created");
      assert.deepEqual(oldestFirst, [...newestFirst].reverse());
      const page = (await rekey.api("GET", "/api/v3/events/events/?page_size=2&page=3")).json();
      assert.deepEqual(page.pagination, {
        next: 0,
        previous: 2,
        count: 6,
        current: 3,
        total_pages: 3,
        start_index: 5,
        end_index: 6,
      });
    });

    test("action is a case-insensitive substring; username and client_ip are exact", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:00Z"));
      const rekey = await testApp(t, dialect, { clock });
      await seedHistory(rekey, clock);
      assert.deepEqual(actions(await events(rekey, "?action=CREATED")), Array(4).fill("model_created"));
      assert.deepEqual(actions(await events(rekey, "?action=word_s")), ["password_set"]);
      assert.deepEqual(actions(await events(rekey, "?action=deleted")), []);
      assert.deepEqual(modelNames(await events(rekey, "?username=jdoe")), ["jdoe-own"]);
      assert.equal((await events(rekey, "?username=akadmin")).length, 5);
      assert.deepEqual(await events(rekey, "?username=akad"), []);
      assert.deepEqual(modelNames(await events(rekey, "?client_ip=203.0.113.9")), ["jdoe"]);
      assert.equal((await events(rekey, "?client_ip=127.0.0.1")).length, 5);
      assert.deepEqual(await events(rekey, "?client_ip=203.0.113"), []);
    });

    test("context_model_pk ignores hyphens; context_model_name and context_model_app are exact", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:00Z"));
      const rekey = await testApp(t, dialect, { clock });
      const { jdoe, group } = await seedHistory(rekey, clock);
      assert.deepEqual(modelNames(await events(rekey, `?context_model_pk=${group}`)), ["staff"]);
      assert.deepEqual(modelNames(await events(rekey, `?context_model_pk=${group.replaceAll("-", "")}`)), [
        "staff",
      ]);
      assert.deepEqual(modelNames(await events(rekey, `?context_model_pk=${jdoe}`)), ["jdoe"]);
      assert.deepEqual(modelNames(await events(rekey, "?context_model_name=token")), [
        "jdoe-own",
        "jdoe-login",
      ]);
      assert.deepEqual(modelNames(await events(rekey, "?context_model_name=group")), ["staff"]);
      assert.equal((await events(rekey, "?context_model_app=authentik_core")).length, 4);
      assert.deepEqual(await events(rekey, "?context_model_app=authentik_tenants"), []);
      assert.deepEqual(
        modelNames(await events(rekey, "?context_model_app=authentik_core&context_model_name=user")),
        ["jdoe"],
      );
    });

    test("search matches action, app, username or client_ip, every term", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:00Z"));
      const rekey = await testApp(t, dialect, { clock });
      await seedHistory(rekey, clock);
      assert.deepEqual(modelNames(await events(rekey, "?search=JDOE")), ["jdoe-own"]);
      assert.deepEqual(modelNames(await events(rekey, "?search=113.9")), ["jdoe"]);
      assert.deepEqual(actions(await events(rekey, "?search=password")), ["password_set"]);
      assert.equal((await events(rekey, "?search=rekey.api")).length, 6);
      assert.deepEqual(modelNames(await events(rekey, "?search=VIEW")), ["jdoe-login"]);
      assert.deepEqual(modelNames(await events(rekey, "?search=created%20akadmin%20127.0")), [
        "jdoe-login",
        "staff",
      ]);
      assert.deepEqual(await events(rekey, "?search=staff"), [], "the model name is not a search field");
    });
  });

  describe(`GET /api/v3/events/events/{event_uuid}/ on ${dialect}`, () => {
    test("answers the event as listed; unknown is 404 and malformed is 'Not found.'", async (t) => {
      const rekey = await testApp(t, dialect);
      await createUser(rekey, "jdoe");
      const [listed] = await events(rekey, "");
      const found = await rekey.api("GET", `/api/v3/events/events/${listed!.pk}/`);
      assert.equal(found.statusCode, 200);
      assert.deepEqual(found.json(), listed);
      const unknown = await rekey.api("GET", `/api/v3/events/events/${GHOST}/`);
      assert.equal(unknown.statusCode, 404);
      assert.deepEqual(unknown.json(), { detail: "No Event matches the given query." });
      const malformed = await rekey.api("GET", "/api/v3/events/events/123/");
      assert.equal(malformed.statusCode, 404);
      assert.deepEqual(malformed.json(), { detail: "Not found." });
    });

    test("events are for superusers only, before any lookup", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const key = await createTokenFor(rekey, jdoe, "jdoe-api");
      const [event] = await events(rekey, "");
      for (const url of [
        "/api/v3/events/events/",
        `/api/v3/events/events/${event!.pk}/`,
        `/api/v3/events/events/${GHOST}/`,
      ]) {
        const denied = await rekey.api("GET", url, undefined, { token: key });
        assert.equal(denied.statusCode, 403, url);
        assert.deepEqual(denied.json(), { detail: "You do not have permission to perform this action." });
        const anonymous = await rekey.api("GET", url, undefined, { token: null });
        assert.deepEqual(anonymous.json(), { detail: "Authentication credentials were not provided." });
      }
    });
  });
}
