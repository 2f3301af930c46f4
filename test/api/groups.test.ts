import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import { createTokenFor, createUser, type TestApp, testApp } from "../support/app.js";

/** A JSON response body: tests read whatever shape the wire has and assert on it. */
// biome-ignore lint/suspicious/noExplicitAny: response bodies are untyped JSON, checked by the assertions
type JSONBody = Record<string, any>;

// authentik's Group serializer, in its key order (authentik-v3.md §3.2, Groups).
const GROUP_KEYS = [
  "pk",
  "num_pk",
  "name",
  "is_superuser",
  "parents",
  "parents_obj",
  "users",
  "users_obj",
  "attributes",
  "roles",
  "roles_obj",
  "inherited_roles_obj",
  "children",
  "children_obj",
];
const PARTIAL_USER_KEYS = ["pk", "username", "name", "is_active", "last_login", "email", "attributes", "uid"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const GHOST = "0c6f7a0e-1111-4222-8333-944455556666";
const LAST_SUPERUSER = { non_field_errors: ["Cannot remove the last superuser."] };

async function adminGroup(rekey: TestApp): Promise<JSONBody> {
  return (await rekey.api("GET", "/api/v3/core/groups/?name=authentik%20Admins")).json().results[0];
}

async function groupNames(rekey: TestApp, query: string): Promise<string[]> {
  const response = await rekey.api("GET", `/api/v3/core/groups/${query}`);
  assert.equal(response.statusCode, 200, response.body);
  return response.json().results.map((group: { name: string }) => group.name);
}

async function lastModelEvent(rekey: TestApp, action: string): Promise<Record<string, unknown>> {
  const events = (
    await rekey.api("GET", `/api/v3/events/events/?action=${action}&context_model_name=group`)
  ).json();
  return events.results[0]?.context.model;
}

for (const dialect of DIALECTS) {
  describe(`/api/v3/core/groups/ CRUD on ${dialect}`, () => {
    test("POST answers 201 with every Group key in order, members as PartialUser, and model_created", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const response = await rekey.api("POST", "/api/v3/core/groups/", {
        name: "Staff",
        users: [jdoe],
        attributes: { color: "red" },
      });
      assert.equal(response.statusCode, 201, response.body);
      const group = response.json();
      assert.deepEqual(Object.keys(group), GROUP_KEYS);
      assert.match(group.pk, UUID);
      assert.equal(typeof group.num_pk, "number");
      const user = (await rekey.api("GET", `/api/v3/core/users/${jdoe}/`)).json();
      assert.deepEqual(group, {
        pk: group.pk,
        num_pk: group.num_pk,
        name: "Staff",
        is_superuser: false,
        parents: [],
        parents_obj: [],
        users: [jdoe],
        users_obj: [
          {
            pk: jdoe,
            username: "jdoe",
            name: "jdoe",
            is_active: true,
            last_login: null,
            email: "jdoe@example.com",
            attributes: {},
            uid: user.uid,
          },
        ],
        attributes: { color: "red" },
        roles: [],
        roles_obj: [],
        inherited_roles_obj: [],
        children: [],
        children_obj: [],
      });
      assert.deepEqual(Object.keys(group.users_obj[0]), PARTIAL_USER_KEYS);
      assert.deepEqual(user.groups, [group.pk]);
      assert.deepEqual(await lastModelEvent(rekey, "model_created"), {
        app: "authentik_core",
        model_name: "group",
        pk: group.pk.replaceAll("-", ""),
        name: "Staff",
      });
    });

    test("GET answers the group; an unknown uuid is 404 and a malformed one 'Not found.'", async (t) => {
      const rekey = await testApp(t, dialect);
      const created = (await rekey.api("POST", "/api/v3/core/groups/", { name: "Staff" })).json();
      const found = await rekey.api("GET", `/api/v3/core/groups/${created.pk}/`);
      assert.equal(found.statusCode, 200);
      assert.deepEqual(found.json(), created);
      const upper = await rekey.api("GET", `/api/v3/core/groups/${created.pk.toUpperCase()}/`);
      assert.equal(upper.statusCode, 200, "uuids are case-insensitive");
      const unknown = await rekey.api("GET", `/api/v3/core/groups/${GHOST}/`);
      assert.equal(unknown.statusCode, 404);
      assert.deepEqual(unknown.json(), { detail: "No Group matches the given query." });
      const malformed = await rekey.api("GET", "/api/v3/core/groups/not-a-uuid/");
      assert.equal(malformed.statusCode, 404);
      assert.deepEqual(malformed.json(), { detail: "Not found." });
    });

    test("PATCH keeps omitted fields, PUT requires name, and both record model_updated", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const created = (
        await rekey.api("POST", "/api/v3/core/groups/", {
          name: "Staff",
          users: [jdoe],
          attributes: { a: 1 },
        })
      ).json();
      const patched = await rekey.api("PATCH", `/api/v3/core/groups/${created.pk}/`, {
        attributes: { b: 2 },
      });
      assert.equal(patched.statusCode, 200, patched.body);
      assert.deepEqual(patched.json(), { ...created, attributes: { b: 2 } });
      const missing = await rekey.api("PUT", `/api/v3/core/groups/${created.pk}/`, { users: [] });
      assert.equal(missing.statusCode, 400);
      assert.deepEqual(missing.json(), { name: ["This field is required."] });
      const put = await rekey.api("PUT", `/api/v3/core/groups/${created.pk}/`, { name: "Crew", users: [] });
      assert.equal(put.statusCode, 200, put.body);
      assert.equal(put.json().name, "Crew");
      assert.deepEqual(put.json().users, []);
      assert.deepEqual(put.json().users_obj, []);
      assert.deepEqual(put.json().attributes, { b: 2 });
      assert.deepEqual(await lastModelEvent(rekey, "model_updated"), {
        app: "authentik_core",
        model_name: "group",
        pk: created.pk.replaceAll("-", ""),
        name: "Crew",
      });
      const unknown = await rekey.api("PATCH", `/api/v3/core/groups/${GHOST}/`, { name: 5 });
      assert.equal(unknown.statusCode, 404, "lookup comes before body validation");
    });

    test("DELETE answers 204, leaves the members and records model_deleted", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const created = (
        await rekey.api("POST", "/api/v3/core/groups/", { name: "Staff", users: [jdoe] })
      ).json();
      const response = await rekey.api("DELETE", `/api/v3/core/groups/${created.pk}/`);
      assert.equal(response.statusCode, 204);
      assert.equal(response.body, "");
      assert.equal((await rekey.api("GET", `/api/v3/core/groups/${created.pk}/`)).statusCode, 404);
      const user = await rekey.api("GET", `/api/v3/core/users/${jdoe}/`);
      assert.equal(user.statusCode, 200);
      assert.deepEqual(user.json().groups, []);
      assert.equal((await lastModelEvent(rekey, "model_deleted"))["name"], "Staff");
    });

    test("names are unique within the tenant, on create and on rename", async (t) => {
      const rekey = await testApp(t, dialect);
      const taken = await rekey.api("POST", "/api/v3/core/groups/", { name: "authentik Admins" });
      assert.equal(taken.statusCode, 400);
      assert.deepEqual(taken.json(), { name: ["Group with this name already exists."] });
      const staff = (await rekey.api("POST", "/api/v3/core/groups/", { name: "Staff" })).json();
      const renamed = await rekey.api("PATCH", `/api/v3/core/groups/${staff.pk}/`, {
        name: "authentik Admins",
      });
      assert.deepEqual(renamed.json(), { name: ["Group with this name already exists."] });
      const same = await rekey.api("PUT", `/api/v3/core/groups/${staff.pk}/`, { name: "Staff" });
      assert.equal(same.statusCode, 200, "keeping its own name is not a conflict");
      const blank = await rekey.api("POST", "/api/v3/core/groups/", { name: "" });
      assert.deepEqual(blank.json(), { name: ["This field may not be blank."] });
    });

    test("non-empty parents or roles and unknown users are Invalid pk errors", async (t) => {
      const rekey = await testApp(t, dialect);
      const invalid = `Invalid pk "${GHOST}" - object does not exist.`;
      const parents = await rekey.api("POST", "/api/v3/core/groups/", { name: "Staff", parents: [GHOST] });
      assert.equal(parents.statusCode, 400);
      assert.deepEqual(parents.json(), { parents: [invalid] });
      const roles = await rekey.api("POST", "/api/v3/core/groups/", { name: "Staff", roles: [GHOST] });
      assert.deepEqual(roles.json(), { roles: [invalid] });
      const users = await rekey.api("POST", "/api/v3/core/groups/", { name: "Staff", users: [999] });
      assert.deepEqual(users.json(), { users: ['Invalid pk "999" - object does not exist.'] });
      const empty = await rekey.api("POST", "/api/v3/core/groups/", {
        name: "Staff",
        parents: [],
        roles: [],
      });
      assert.equal(empty.statusCode, 201, empty.body);
      const patched = await rekey.api("PATCH", `/api/v3/core/groups/${empty.json().pk}/`, {
        parents: [GHOST],
      });
      assert.deepEqual(patched.json(), { parents: [invalid] });
    });
  });

  describe(`/api/v3/core/groups/ membership on ${dialect}`, () => {
    test("add_user and remove_user answer 204 and change the members", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const group = (await rekey.api("POST", "/api/v3/core/groups/", { name: "Staff" })).json();
      const added = await rekey.api("POST", `/api/v3/core/groups/${group.pk}/add_user/`, { pk: jdoe });
      assert.equal(added.statusCode, 204, added.body);
      assert.equal(added.body, "");
      assert.deepEqual((await rekey.api("GET", `/api/v3/core/groups/${group.pk}/`)).json().users, [jdoe]);
      const again = await rekey.api("POST", `/api/v3/core/groups/${group.pk}/add_user/`, { pk: jdoe });
      assert.equal(again.statusCode, 204, "adding a member twice is harmless");
      assert.deepEqual((await rekey.api("GET", `/api/v3/core/groups/${group.pk}/`)).json().users, [jdoe]);
      const removed = await rekey.api("POST", `/api/v3/core/groups/${group.pk}/remove_user/`, { pk: jdoe });
      assert.equal(removed.statusCode, 204, removed.body);
      assert.deepEqual((await rekey.api("GET", `/api/v3/core/groups/${group.pk}/`)).json().users, []);
    });

    test("an unknown user is a field error on pk; a bad pk and an unknown group are refused", async (t) => {
      const rekey = await testApp(t, dialect);
      const group = (await rekey.api("POST", "/api/v3/core/groups/", { name: "Staff" })).json();
      for (const action of ["add_user", "remove_user"]) {
        const unknown = await rekey.api("POST", `/api/v3/core/groups/${group.pk}/${action}/`, { pk: 999 });
        assert.equal(unknown.statusCode, 400, action);
        assert.deepEqual(unknown.json(), { pk: ['Invalid pk "999" - object does not exist.'] });
        const text = await rekey.api("POST", `/api/v3/core/groups/${group.pk}/${action}/`, { pk: "abc" });
        assert.deepEqual(text.json(), { pk: ["A valid integer is required."] });
        const missing = await rekey.api("POST", `/api/v3/core/groups/${group.pk}/${action}/`, {});
        assert.deepEqual(missing.json(), { pk: ["This field is required."] });
        const noGroup = await rekey.api("POST", `/api/v3/core/groups/${GHOST}/${action}/`, { pk: 1 });
        assert.equal(noGroup.statusCode, 404);
        assert.deepEqual(noGroup.json(), { detail: "No Group matches the given query." });
      }
    });

    test("a user is a superuser exactly while one of their groups is", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const key = await createTokenFor(rekey, jdoe, "jdoe-api");
      assert.equal(
        (await rekey.api("GET", "/api/v3/core/users/", undefined, { token: key })).statusCode,
        403,
      );
      const group = (await rekey.api("POST", "/api/v3/core/groups/", { name: "Ops", users: [jdoe] })).json();
      assert.equal((await rekey.api("GET", `/api/v3/core/users/${jdoe}/`)).json().is_superuser, false);
      await rekey.api("PATCH", `/api/v3/core/groups/${group.pk}/`, { is_superuser: true });
      assert.equal((await rekey.api("GET", `/api/v3/core/users/${jdoe}/`)).json().is_superuser, true);
      const me = (await rekey.api("GET", "/api/v3/core/users/me/", undefined, { token: key })).json();
      assert.equal(me.user.is_superuser, true);
      assert.equal(
        (await rekey.api("GET", "/api/v3/core/users/", undefined, { token: key })).statusCode,
        200,
      );
      await rekey.api("POST", `/api/v3/core/groups/${group.pk}/remove_user/`, { pk: jdoe });
      assert.equal(
        (await rekey.api("GET", "/api/v3/core/users/", undefined, { token: key })).statusCode,
        403,
      );
    });

    test("the last superuser cannot lose their group by remove_user, PATCH, PUT or DELETE", async (t) => {
      const rekey = await testApp(t, dialect);
      const admins = await adminGroup(rekey);
      const admin = admins.users[0];
      const attempts: [string, string, unknown][] = [
        ["POST", `/api/v3/core/groups/${admins.pk}/remove_user/`, { pk: admin }],
        ["PATCH", `/api/v3/core/groups/${admins.pk}/`, { is_superuser: false }],
        ["PATCH", `/api/v3/core/groups/${admins.pk}/`, { users: [] }],
        ["PUT", `/api/v3/core/groups/${admins.pk}/`, { name: "authentik Admins", users: [] }],
        ["DELETE", `/api/v3/core/groups/${admins.pk}/`, undefined],
      ];
      for (const [method, url, body] of attempts) {
        const response = await rekey.api(method, url, body);
        assert.equal(response.statusCode, 400, `${method} ${JSON.stringify(body)}: ${response.body}`);
        assert.deepEqual(response.json(), LAST_SUPERUSER);
      }
      assert.deepEqual(await adminGroup(rekey), admins, "nothing changed");
      assert.equal((await rekey.api("GET", "/api/v3/core/users/me/")).json().user.is_superuser, true);
      const second = await createUser(rekey, "second", { superuser: true });
      const removed = await rekey.api("POST", `/api/v3/core/groups/${admins.pk}/remove_user/`, {
        pk: second,
      });
      assert.equal(removed.statusCode, 204, "another superuser may leave");
    });
  });

  describe(`GET /api/v3/core/groups/ on ${dialect}`, () => {
    test("filters by name, is_superuser and members_by_username, ordered by name", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const bob = await createUser(rekey, "bob");
      // Lower-case names sort the same under every collation (SQLite's binary, PostgreSQL's locale).
      await rekey.api("POST", "/api/v3/core/groups/", { name: "staff", users: [jdoe] });
      await rekey.api("POST", "/api/v3/core/groups/", { name: "builders", users: [bob] });
      await rekey.api("POST", "/api/v3/core/groups/", {
        name: "root",
        is_superuser: true,
        users: [jdoe, bob],
      });
      assert.deepEqual(await groupNames(rekey, ""), ["authentik Admins", "builders", "root", "staff"]);
      assert.deepEqual(await groupNames(rekey, "?name=staff"), ["staff"]);
      assert.deepEqual(await groupNames(rekey, "?name=sta"), []);
      assert.deepEqual(await groupNames(rekey, "?is_superuser=true"), ["authentik Admins", "root"]);
      assert.deepEqual(await groupNames(rekey, "?is_superuser=false"), ["builders", "staff"]);
      assert.deepEqual(await groupNames(rekey, "?members_by_username=jdoe"), ["root", "staff"]);
      assert.deepEqual(await groupNames(rekey, "?members_by_username=jdoe&members_by_username=akadmin"), [
        "authentik Admins",
        "root",
        "staff",
      ]);
      assert.deepEqual(await groupNames(rekey, "?members_by_username=nobody"), []);
      assert.deepEqual(await groupNames(rekey, "?search=BUIL"), ["builders"]);
      assert.deepEqual(await groupNames(rekey, "?ordering=-name"), [
        "staff",
        "root",
        "builders",
        "authentik Admins",
      ]);
      const page = (await rekey.api("GET", "/api/v3/core/groups/?page_size=3&page=2")).json();
      assert.deepEqual(page.pagination, {
        next: 0,
        previous: 1,
        count: 4,
        current: 2,
        total_pages: 2,
        start_index: 4,
        end_index: 4,
      });
    });

    test("include_users=false makes users_obj null in lists and on retrieve", async (t) => {
      const rekey = await testApp(t, dialect);
      const admins = await adminGroup(rekey);
      assert.equal(admins.users_obj.length, 1);
      assert.equal(admins.users_obj[0].username, "akadmin");
      const listed = (await rekey.api("GET", "/api/v3/core/groups/?include_users=false")).json().results;
      assert.equal(listed.length, 1);
      assert.equal(listed[0].users_obj, null);
      assert.deepEqual(listed[0].users, admins.users);
      const one = (await rekey.api("GET", `/api/v3/core/groups/${admins.pk}/?include_users=false`)).json();
      assert.equal(one.users_obj, null);
      assert.deepEqual(one.users, admins.users);
    });

    test("a NUL in include_users refuses POST, PATCH and PUT before anything is written", async (t) => {
      // Found by the random-input suite: the write ran, then the answer's include_users was refused.
      const rekey = await testApp(t, dialect);
      const staff = (await rekey.api("POST", "/api/v3/core/groups/", { name: "Staff" })).json();
      const eventsBefore = (await rekey.api("GET", "/api/v3/events/events/")).json().pagination.count;
      const refused = [
        await rekey.api("POST", "/api/v3/core/groups/?include_users=%00", { name: "Other" }),
        await rekey.api("PATCH", `/api/v3/core/groups/${staff.pk}/?include_users=%00`, { name: "Renamed" }),
        await rekey.api("PUT", `/api/v3/core/groups/${staff.pk}/?include_users=%00`, { name: "Renamed" }),
      ];
      for (const response of refused) {
        assert.equal(response.statusCode, 400, response.body);
        assert.deepEqual(response.json(), { include_users: ["Null characters are not allowed."] });
      }
      assert.deepEqual(await groupNames(rekey, "?ordering=name"), ["Staff", "authentik Admins"]);
      const eventsAfter = (await rekey.api("GET", "/api/v3/events/events/")).json().pagination.count;
      assert.equal(eventsAfter, eventsBefore, "no event was recorded");
    });

    test("a user who is not a superuser gets 403 on every groups route", async (t) => {
      const rekey = await testApp(t, dialect);
      const admins = await adminGroup(rekey);
      const jdoe = await createUser(rekey, "jdoe");
      const key = await createTokenFor(rekey, jdoe, "jdoe-api");
      const routes: [string, string, unknown][] = [
        ["GET", "/api/v3/core/groups/", undefined],
        ["POST", "/api/v3/core/groups/", { name: "Mine" }],
        ["GET", `/api/v3/core/groups/${admins.pk}/`, undefined],
        ["GET", `/api/v3/core/groups/${GHOST}/`, undefined],
        ["PATCH", `/api/v3/core/groups/${admins.pk}/`, { name: "x" }],
        ["PUT", `/api/v3/core/groups/${admins.pk}/`, { name: "x" }],
        ["DELETE", `/api/v3/core/groups/${admins.pk}/`, undefined],
        ["POST", `/api/v3/core/groups/${admins.pk}/add_user/`, { pk: jdoe }],
        ["POST", `/api/v3/core/groups/${admins.pk}/remove_user/`, { pk: jdoe }],
      ];
      for (const [method, url, body] of routes) {
        const response = await rekey.api(method, url, body, { token: key });
        assert.equal(response.statusCode, 403, `${method} ${url}`);
        assert.deepEqual(response.json(), { detail: "You do not have permission to perform this action." });
      }
      assert.deepEqual(await adminGroup(rekey), admins);
    });
  });
}
