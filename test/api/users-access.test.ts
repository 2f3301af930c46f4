import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixedClock } from "../../src/clock.js";
import { verifyPassword } from "../../src/users/passwords.js";
import { DIALECTS } from "../support/databases.js";
import { createTokenFor, createUser, type TestApp, testApp } from "../support/app.js";

const DENIED = { detail: "You do not have permission to perform this action." };
// authentik's UserSelf serializer, in its key order (authentik-v3.md §3.2).
const USER_SELF_KEYS = [
  "pk",
  "username",
  "name",
  "is_active",
  "is_superuser",
  "is_current",
  "groups",
  "roles",
  "email",
  "avatar",
  "uid",
  "settings",
  "type",
  "system_permissions",
];

async function tenantId(rekey: TestApp): Promise<string> {
  return (await rekey.deps.persistence.stores.tenants.defaultTenant()).id;
}

async function storedHash(rekey: TestApp, pk: number): Promise<string | null> {
  return rekey.deps.persistence.stores.users.passwordHash(await tenantId(rekey), pk);
}

for (const dialect of DIALECTS) {
  describe(`/api/v3/core/users/ permissions on ${dialect}`, () => {
    test("a user who is not a superuser gets 403 on every users route but me, before any lookup", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const key = await createTokenFor(rekey, jdoe, "jdoe-api");
      const routes: [string, string, unknown][] = [
        ["GET", "/api/v3/core/users/", undefined],
        ["POST", "/api/v3/core/users/", { username: "x", name: "x" }],
        ["POST", "/api/v3/core/users/", { username: 1 }],
        ["GET", `/api/v3/core/users/${jdoe}/`, undefined],
        ["GET", "/api/v3/core/users/999/", undefined],
        ["PUT", `/api/v3/core/users/${jdoe}/`, { username: "jdoe", name: "x" }],
        ["PATCH", `/api/v3/core/users/${jdoe}/`, { name: "x" }],
        ["PATCH", "/api/v3/core/users/999/", { name: 5 }],
        ["DELETE", `/api/v3/core/users/${jdoe}/`, undefined],
        ["DELETE", "/api/v3/core/users/abc/", undefined],
        ["POST", `/api/v3/core/users/${jdoe}/set_password/`, { password: "a-long-password-1" }],
        ["POST", "/api/v3/core/users/999/set_password/", {}],
      ];
      for (const [method, url, body] of routes) {
        const response = await rekey.api(method, url, body, { token: key });
        assert.equal(response.statusCode, 403, `${method} ${url}: ${response.body}`);
        assert.deepEqual(response.json(), DENIED, `${method} ${url}`);
      }
      const after = await rekey.api("GET", `/api/v3/core/users/${jdoe}/`);
      assert.equal(after.json().name, "jdoe", "nothing was changed");
      assert.equal(await storedHash(rekey, jdoe), null, "no password was set");
      const me = await rekey.api("GET", "/api/v3/core/users/me/", undefined, { token: key });
      assert.equal(me.statusCode, 200);
    });

    test("without a token every users route answers 403 'not provided'", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const [method, url] of [
        ["GET", "/api/v3/core/users/"],
        ["GET", "/api/v3/core/users/me/"],
        ["GET", "/api/v3/core/users/1/"],
        ["DELETE", "/api/v3/core/users/1/"],
        ["POST", "/api/v3/core/users/1/set_password/"],
      ] as const) {
        const response = await rekey.api(method, url, undefined, { token: null });
        assert.equal(response.statusCode, 403, `${method} ${url}`);
        assert.deepEqual(response.json(), { detail: "Authentication credentials were not provided." });
      }
    });
  });

  describe(`GET /api/v3/core/users/me/ on ${dialect}`, () => {
    test("answers SessionUser with the token's owner as user and as the only entry of users", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe", { email: "jane@example.com" });
      await rekey.api("PATCH", `/api/v3/core/users/${jdoe}/`, { name: "Jane Doe", type: "external" });
      const key = await createTokenFor(rekey, jdoe, "jdoe-api");
      const response = await rekey.api("GET", "/api/v3/core/users/me/", undefined, { token: key });
      assert.equal(response.statusCode, 200);
      const body = response.json();
      assert.deepEqual(Object.keys(body), ["user", "users"]);
      assert.deepEqual(Object.keys(body.user), USER_SELF_KEYS);
      const full = (await rekey.api("GET", `/api/v3/core/users/${jdoe}/`)).json();
      assert.deepEqual(body.user, {
        pk: jdoe,
        username: "jdoe",
        name: "Jane Doe",
        is_active: true,
        is_superuser: false,
        is_current: false,
        groups: [],
        roles: [],
        email: "jane@example.com",
        avatar: full.avatar,
        uid: full.uid,
        settings: {},
        type: "external",
        system_permissions: [],
      });
      assert.deepEqual(body.users, [body.user]);
    });

    test("a superuser's groups appear as {pk, name}", async (t) => {
      const rekey = await testApp(t, dialect);
      const admins = (await rekey.api("GET", "/api/v3/core/groups/?name=authentik%20Admins")).json()
        .results[0];
      const me = (await rekey.api("GET", "/api/v3/core/users/me/")).json();
      assert.equal(me.user.username, "akadmin");
      assert.equal(me.user.is_superuser, true);
      assert.equal(me.user.email, "admin@example.com");
      assert.deepEqual(me.user.groups, [{ pk: admins.pk, name: "authentik Admins" }]);
    });
  });

  describe(`POST /api/v3/core/users/{id}/set_password/ on ${dialect}`, () => {
    test("answers 204, stores an argon2id hash that verifies and moves password_change_date", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:00Z"));
      const rekey = await testApp(t, dialect, { clock });
      const jdoe = await createUser(rekey, "jdoe");
      assert.equal(await storedHash(rekey, jdoe), null, "a new user's password is unusable");
      clock.advance(3_600_000);
      const response = await rekey.api("POST", `/api/v3/core/users/${jdoe}/set_password/`, {
        password: "correct horse battery staple",
      });
      assert.equal(response.statusCode, 204, response.body);
      assert.equal(response.body, "");
      const hash = await storedHash(rekey, jdoe);
      assert.ok(hash?.startsWith("$argon2id$"), String(hash));
      assert.equal(await verifyPassword(hash!, "correct horse battery staple"), true);
      assert.equal(await verifyPassword(hash!, "correct horse battery stapler"), false);
      const user = (await rekey.api("GET", `/api/v3/core/users/${jdoe}/`)).json();
      assert.equal(user.password_change_date, "2026-03-01T13:00:00Z");
      assert.equal(user.date_joined, "2026-03-01T12:00:00Z");
    });

    test("records password_set naming the user, and no key or password", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      await rekey.api("POST", `/api/v3/core/users/${jdoe}/set_password/`, {
        password: "correct horse battery staple",
      });
      const events = (await rekey.api("GET", "/api/v3/events/events/?action=password_set")).json().results;
      assert.equal(events.length, 1);
      assert.equal(events[0].action, "password_set");
      assert.equal(events[0].user.username, "akadmin");
      assert.deepEqual(events[0].context.target, {
        app: "authentik_core",
        model_name: "user",
        pk: jdoe,
        name: "jdoe",
      });
      assert.equal(typeof events[0].context.via, "string");
      assert.ok(!JSON.stringify(events[0]).includes("correct horse"), "the password never reaches the event");
    });

    test("policy violations are field errors on password and change nothing", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe", { email: "jane.doe@example.com" });
      const cases: [unknown, Record<string, string[]>][] = [
        [
          { password: "short" },
          { password: ["The password must be at least 8 characters long, but got 5."] },
        ],
        [
          { password: "x".repeat(1025) },
          { password: ["The password must be at most 1024 characters long, but got 1025."] },
        ],
        [
          { password: "jane.doe@example.co" },
          { password: ["The password can not be used because it is too similar to the identifier."] },
        ],
        [{ password: "" }, { password: ["This field may not be blank."] }],
        [{}, { password: ["This field is required."] }],
        [{ password: 12345678 }, { password: ["Not a valid string."] }],
      ];
      for (const [body, expected] of cases) {
        const response = await rekey.api("POST", `/api/v3/core/users/${jdoe}/set_password/`, body);
        assert.equal(response.statusCode, 400, JSON.stringify(body));
        assert.deepEqual(response.json(), expected, JSON.stringify(body));
      }
      assert.equal(await storedHash(rekey, jdoe), null);
      const events = (await rekey.api("GET", "/api/v3/events/events/?action=password_set")).json();
      assert.equal(events.pagination.count, 0);
    });

    test("an unknown user is 404 before the body is looked at", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const body of [{ password: "correct horse battery staple" }, { password: "x" }, {}]) {
        const response = await rekey.api("POST", "/api/v3/core/users/999/set_password/", body);
        assert.equal(response.statusCode, 404);
        assert.deepEqual(response.json(), { detail: "No User matches the given query." });
      }
      const malformed = await rekey.api("POST", "/api/v3/core/users/abc/set_password/", {});
      assert.equal(malformed.statusCode, 404);
      assert.deepEqual(malformed.json(), { detail: "Not found." });
    });
  });
}
