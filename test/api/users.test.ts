import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { fixedClock } from "../../src/clock.js";
import { DIALECTS } from "../support/databases.js";
import { createTokenFor, createUser, TENANTS_KEY, type TestApp, testApp } from "../support/app.js";

/** A JSON response body: tests read whatever shape the wire has and assert on it. */
// biome-ignore lint/suspicious/noExplicitAny: response bodies are untyped JSON, checked by the assertions
type JSONBody = Record<string, any>;

// authentik's User serializer, in its key order (authentik-v3.md §3.2).
const USER_KEYS = [
  "pk",
  "username",
  "name",
  "is_active",
  "last_login",
  "date_joined",
  "is_superuser",
  "groups",
  "groups_obj",
  "roles",
  "roles_obj",
  "email",
  "avatar",
  "attributes",
  "uid",
  "path",
  "type",
  "uuid",
  "password_change_date",
  "last_updated",
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const JANE = { username: "jdoe", name: "Jane Doe", email: "jane@example.com" };

async function defaultTenantId(rekey: TestApp): Promise<string> {
  const tenants = await rekey.api("GET", "/api/v3/tenants/tenants/?search=public", undefined, {
    token: TENANTS_KEY,
  });
  return tenants.json().results[0].tenant_uuid as string;
}

/** The events of this tenant with `action`, newest first. */
async function eventsOf(rekey: TestApp, action: string): Promise<JSONBody[]> {
  const response = await rekey.api("GET", `/api/v3/events/events/?action=${action}&page_size=100`);
  assert.equal(response.statusCode, 200, response.body);
  return response.json().results;
}

async function createRejects(
  rekey: TestApp,
  body: Record<string, unknown>,
  expected: Record<string, string[]>,
): Promise<void> {
  const response = await rekey.api("POST", "/api/v3/core/users/", { ...JANE, ...body });
  assert.equal(response.statusCode, 400, JSON.stringify(body));
  assert.deepEqual(response.json(), expected, JSON.stringify(body));
}

for (const dialect of DIALECTS) {
  describe(`POST /api/v3/core/users/ on ${dialect}`, () => {
    test("answers 201 with every User key in authentik's order and the documented formats", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:00Z"));
      const rekey = await testApp(t, dialect, { clock });
      const response = await rekey.api("POST", "/api/v3/core/users/", JANE);
      assert.equal(response.statusCode, 201, response.body);
      assert.match(response.headers["content-type"] as string, /^application\/json/);
      const user = response.json();
      assert.deepEqual(Object.keys(user), USER_KEYS);
      assert.equal(typeof user.pk, "number");
      const { pk, avatar, uid, uuid, ...rest } = user;
      assert.deepEqual(rest, {
        username: "jdoe",
        name: "Jane Doe",
        is_active: true,
        last_login: null,
        date_joined: "2026-03-01T12:00:00Z",
        is_superuser: false,
        groups: [],
        groups_obj: [],
        roles: [],
        roles_obj: [],
        email: "jane@example.com",
        attributes: {},
        path: "users",
        type: "internal",
        password_change_date: "2026-03-01T12:00:00Z",
        last_updated: "2026-03-01T12:00:00Z",
      });
      assert.match(uuid, UUID);
      const expectedUid = createHash("sha256")
        .update(`${pk}-${await defaultTenantId(rekey)}`)
        .digest("hex");
      assert.equal(uid, expectedUid);
      assert.match(uid, /^[0-9a-f]{64}$/);
      const prefix = "data:image/svg+xml;base64,";
      assert.ok(avatar.startsWith(prefix), avatar);
      const svg = Buffer.from(avatar.slice(prefix.length), "base64").toString("utf8");
      assert.match(svg, /^<svg /);
      assert.match(svg, />JD<\/text>/);
    });

    test("writes milliseconds as six fraction digits and keeps the given fields", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:00.123Z"));
      const rekey = await testApp(t, dialect, { clock });
      const admins = (await rekey.api("GET", "/api/v3/core/groups/?name=authentik%20Admins")).json()
        .results[0];
      const response = await rekey.api("POST", "/api/v3/core/users/", {
        ...JANE,
        is_active: false,
        last_login: "2026-02-01T10:30:00+02:00",
        groups: [admins.pk.toUpperCase()],
        attributes: { team: "blue", nested: { n: 1 } },
        path: "users/staff",
        type: "service_account",
      });
      assert.equal(response.statusCode, 201, response.body);
      const user = response.json();
      assert.equal(user.date_joined, "2026-03-01T12:00:00.123000Z");
      assert.equal(user.last_updated, "2026-03-01T12:00:00.123000Z");
      assert.equal(user.last_login, "2026-02-01T08:30:00Z");
      assert.equal(user.is_active, false);
      assert.deepEqual(user.groups, [admins.pk]);
      assert.deepEqual(user.groups_obj, [
        {
          pk: admins.pk,
          num_pk: admins.num_pk,
          name: "authentik Admins",
          is_superuser: true,
          attributes: {},
        },
      ]);
      assert.equal(user.is_superuser, true);
      assert.deepEqual(user.attributes, { team: "blue", nested: { n: 1 } });
      assert.equal(user.path, "users/staff");
      assert.equal(user.type, "service_account");
    });

    test("reads a date-time without an offset as UTC", async (t) => {
      const rekey = await testApp(t, dialect);
      const pk = await createUser(rekey, "jdoe");
      for (const [given, stored] of [
        ["2026-02-01T08:30:00", "2026-02-01T08:30:00Z"],
        ["2026-02-01T08:30", "2026-02-01T08:30:00Z"],
        ["2026-02-01 08:30:00.5", "2026-02-01T08:30:00.500000Z"],
      ] as const) {
        const response = await rekey.api("PATCH", `/api/v3/core/users/${pk}/`, { last_login: given });
        assert.equal(response.statusCode, 200, `${given}: ${response.body}`);
        assert.equal(response.json().last_login, stored);
      }
      const malformed = await rekey.api("PATCH", `/api/v3/core/users/${pk}/`, { last_login: "yesterday" });
      assert.deepEqual(malformed.json(), {
        last_login: [
          "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
        ],
      });
    });

    test("records model_created with a reference to the new user", async (t) => {
      const rekey = await testApp(t, dialect);
      const pk = (await rekey.api("POST", "/api/v3/core/users/", JANE)).json().pk;
      const created = await eventsOf(rekey, "model_created");
      assert.equal(created.length, 1);
      assert.deepEqual(created[0]!.context.model, {
        app: "authentik_core",
        model_name: "user",
        pk,
        name: "jdoe",
      });
      assert.equal(created[0]!.user.username, "akadmin");
    });

    test("refuses a username that is taken, with DRF's unique message", async (t) => {
      const rekey = await testApp(t, dialect);
      await createRejects(rekey, { username: "akadmin" }, { username: ["This field must be unique."] });
    });

    test("refuses missing, blank and malformed usernames and names", async (t) => {
      const rekey = await testApp(t, dialect);
      const missing = await rekey.api("POST", "/api/v3/core/users/", { email: "x@example.com" });
      assert.equal(missing.statusCode, 400);
      assert.deepEqual(missing.json(), {
        username: ["This field is required."],
        name: ["This field is required."],
      });
      const invalid =
        "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";
      for (const username of ["jane doe", "jane/doe", "jane#1"]) {
        await createRejects(rekey, { username }, { username: [invalid] });
      }
      await createRejects(rekey, { username: "" }, { username: ["This field may not be blank."] });
      await createRejects(
        rekey,
        { username: "a".repeat(151) },
        { username: ["Ensure this field has no more than 150 characters."] },
      );
      const accepted = await rekey.api("POST", "/api/v3/core/users/", {
        username: "jöhn.doe+x@corp-1_a",
        name: "",
      });
      assert.equal(accepted.statusCode, 201, accepted.body);
      assert.equal(accepted.json().name, "");
    });

    test("refuses an invalid email but accepts an empty one", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const email of ["not-an-email", "jane@", "jane doe@example.com"]) {
        await createRejects(rekey, { email }, { email: ["Enter a valid email address."] });
      }
      const empty = await rekey.api("POST", "/api/v3/core/users/", { ...JANE, email: "" });
      assert.equal(empty.statusCode, 201, empty.body);
      assert.equal(empty.json().email, "");
    });

    test("refuses paths with leading or trailing slashes or empty segments", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const path of ["/users", "users/", "/"]) {
        await createRejects(rekey, { path }, { path: ["No leading or trailing slashes allowed."] });
      }
      await createRejects(
        rekey,
        { path: "users//staff" },
        { path: ["No empty segments in user path allowed."] },
      );
    });

    test("refuses the internal_service_account type and unknown types", async (t) => {
      const rekey = await testApp(t, dialect);
      await createRejects(
        rekey,
        { type: "internal_service_account" },
        { type: ["Setting a user to internal service account is not allowed."] },
      );
      const unknown = await rekey.api("POST", "/api/v3/core/users/", { ...JANE, type: "robot" });
      assert.equal(unknown.statusCode, 400);
      assert.deepEqual(Object.keys(unknown.json()), ["type"]);
    });

    test("refuses an unknown group and any role with Invalid pk", async (t) => {
      const rekey = await testApp(t, dialect);
      const ghost = "0c6f7a0e-1111-4222-8333-944455556666";
      await createRejects(
        rekey,
        { groups: [ghost] },
        { groups: [`Invalid pk "${ghost}" - object does not exist.`] },
      );
      await createRejects(
        rekey,
        { roles: [ghost] },
        { roles: [`Invalid pk "${ghost}" - object does not exist.`] },
      );
      const list = await rekey.api("GET", "/api/v3/core/users/?username=jdoe");
      assert.equal(list.json().pagination.count, 0, "a refused user is not saved");
    });
  });

  describe(`GET /api/v3/core/users/{id}/ on ${dialect}`, () => {
    test("answers the same User as create", async (t) => {
      const rekey = await testApp(t, dialect);
      const created = (await rekey.api("POST", "/api/v3/core/users/", JANE)).json();
      const response = await rekey.api("GET", `/api/v3/core/users/${created.pk}/`);
      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), created);
    });

    test("an unknown id is 'No User matches the given query.' and a non-integer id is 'Not found.'", async (t) => {
      const rekey = await testApp(t, dialect);
      const unknown = await rekey.api("GET", "/api/v3/core/users/999/");
      assert.equal(unknown.statusCode, 404);
      assert.deepEqual(unknown.json(), { detail: "No User matches the given query." });
      for (const id of ["abc", "1.5", "-1"]) {
        const malformed = await rekey.api("GET", `/api/v3/core/users/${id}/`);
        assert.equal(malformed.statusCode, 404, id);
        assert.deepEqual(malformed.json(), { detail: "Not found." }, id);
      }
    });
  });

  describe(`PUT and PATCH /api/v3/core/users/{id}/ on ${dialect}`, () => {
    test("PATCH changes the given fields, keeps the others and records model_updated", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:00Z"));
      const rekey = await testApp(t, dialect, { clock });
      const created = (
        await rekey.api("POST", "/api/v3/core/users/", { ...JANE, attributes: { a: 1 }, path: "users/staff" })
      ).json();
      clock.advance(60_000);
      const response = await rekey.api("PATCH", `/api/v3/core/users/${created.pk}/`, { name: "Jane Roe" });
      assert.equal(response.statusCode, 200, response.body);
      const expected = { ...created, name: "Jane Roe", last_updated: "2026-03-01T12:01:00Z" };
      delete expected.avatar;
      const { avatar, ...updated } = response.json();
      assert.deepEqual(updated, expected);
      assert.notEqual(avatar, created.avatar, "the initials follow the name");
      assert.deepEqual((await rekey.api("GET", `/api/v3/core/users/${created.pk}/`)).json(), response.json());
      const updatedEvents = await eventsOf(rekey, "model_updated");
      assert.deepEqual(updatedEvents[0]!.context.model, {
        app: "authentik_core",
        model_name: "user",
        pk: created.pk,
        name: "jdoe",
      });
    });

    test("PUT requires username and name and applies the same rules as create", async (t) => {
      const rekey = await testApp(t, dialect);
      const pk = (await rekey.api("POST", "/api/v3/core/users/", JANE)).json().pk;
      await createUser(rekey, "other");
      const missing = await rekey.api("PUT", `/api/v3/core/users/${pk}/`, { email: "x@example.com" });
      assert.equal(missing.statusCode, 400);
      assert.deepEqual(missing.json(), {
        username: ["This field is required."],
        name: ["This field is required."],
      });
      const taken = await rekey.api("PUT", `/api/v3/core/users/${pk}/`, { username: "other", name: "X" });
      assert.deepEqual(taken.json(), { username: ["This field must be unique."] });
      const badEmail = await rekey.api("PATCH", `/api/v3/core/users/${pk}/`, { email: "nope" });
      assert.deepEqual(badEmail.json(), { email: ["Enter a valid email address."] });
      const same = await rekey.api("PUT", `/api/v3/core/users/${pk}/`, {
        username: "jdoe",
        name: "Jane Q. Doe",
      });
      assert.equal(same.statusCode, 200, "keeping one's own username is not a conflict");
      assert.equal(same.json().name, "Jane Q. Doe");
      assert.equal(same.json().email, "jane@example.com");
    });

    test("an unknown user is 404 even when the body is invalid", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const method of ["PUT", "PATCH"]) {
        const response = await rekey.api(method, "/api/v3/core/users/999/", { username: 5 });
        assert.equal(response.statusCode, 404, method);
        assert.deepEqual(response.json(), { detail: "No User matches the given query." });
      }
    });
  });

  describe(`DELETE /api/v3/core/users/{id}/ on ${dialect}`, () => {
    test("answers 204, removes the user with their tokens and records model_deleted", async (t) => {
      const rekey = await testApp(t, dialect);
      const pk = await createUser(rekey, "jdoe");
      const key = await createTokenFor(rekey, pk, "jdoe-token");
      const response = await rekey.api("DELETE", `/api/v3/core/users/${pk}/`);
      assert.equal(response.statusCode, 204);
      assert.equal(response.body, "");
      assert.equal((await rekey.api("GET", `/api/v3/core/users/${pk}/`)).statusCode, 404);
      const token = await rekey.api("GET", "/api/v3/core/tokens/jdoe-token/");
      assert.equal(token.statusCode, 404);
      assert.deepEqual(token.json(), { detail: "No Token matches the given query." });
      assert.equal(
        (await rekey.api("GET", "/api/v3/core/users/me/", undefined, { token: key })).statusCode,
        403,
      );
      const deleted = await eventsOf(rekey, "model_deleted");
      assert.deepEqual(deleted[0]!.context.model, {
        app: "authentik_core",
        model_name: "user",
        pk,
        name: "jdoe",
      });
      assert.deepEqual((await rekey.api("DELETE", `/api/v3/core/users/${pk}/`)).json(), {
        detail: "No User matches the given query.",
      });
    });

    test("the last superuser cannot be deleted, deactivated or taken out of every admin group", async (t) => {
      const rekey = await testApp(t, dialect);
      const admin = (await rekey.api("GET", "/api/v3/core/users/?username=akadmin")).json().results[0];
      const refused = { non_field_errors: ["Cannot remove the last superuser."] };
      const deleted = await rekey.api("DELETE", `/api/v3/core/users/${admin.pk}/`);
      assert.equal(deleted.statusCode, 400);
      assert.deepEqual(deleted.json(), refused);
      const deactivated = await rekey.api("PATCH", `/api/v3/core/users/${admin.pk}/`, { is_active: false });
      assert.equal(deactivated.statusCode, 400);
      assert.deepEqual(deactivated.json(), refused);
      const ungrouped = await rekey.api("PATCH", `/api/v3/core/users/${admin.pk}/`, { groups: [] });
      assert.equal(ungrouped.statusCode, 400);
      assert.deepEqual(ungrouped.json(), refused);
      const after = await rekey.api("GET", `/api/v3/core/users/${admin.pk}/`);
      assert.equal(after.json().is_active, true);
      assert.equal(after.json().is_superuser, true);
      assert.equal((await eventsOf(rekey, "model_deleted")).length, 0, "a refused delete leaves no event");
    });

    test("a superuser can be deleted while another one remains", async (t) => {
      const rekey = await testApp(t, dialect);
      const second = await createUser(rekey, "second", { superuser: true });
      assert.equal((await rekey.api("GET", `/api/v3/core/users/${second}/`)).json().is_superuser, true);
      const response = await rekey.api("DELETE", `/api/v3/core/users/${second}/`);
      assert.equal(response.statusCode, 204, response.body);
    });
  });
}
