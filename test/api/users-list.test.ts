import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import { type TestApp, testApp } from "../support/app.js";

/** A JSON response body: tests read whatever shape the wire has and assert on it. */
// biome-ignore lint/suspicious/noExplicitAny: response bodies are untyped JSON, checked by the assertions
type JSONBody = Record<string, any>;

interface Seeded {
  alice: { pk: number; uuid: string };
  bob: { pk: number; uuid: string };
  carol: { pk: number; uuid: string };
}

/** akadmin (bootstrap superuser) plus three users that differ in every filtered field. */
async function seedUsers(rekey: TestApp): Promise<Seeded> {
  const bodies = {
    alice: { username: "alice", name: "Alice Liddell", email: "alice@wonder.land", path: "users/wonder" },
    bob: {
      username: "bob",
      name: "Bob Builder",
      email: "bob@example.com",
      is_active: false,
      type: "external",
    },
    carol: {
      username: "carol",
      name: "Carol Danvers",
      email: "carol@example.com",
      type: "service_account",
      path: "users/wonder",
    },
  };
  const seeded: Record<string, { pk: number; uuid: string }> = {};
  for (const [key, body] of Object.entries(bodies)) {
    const response = await rekey.api("POST", "/api/v3/core/users/", body);
    assert.equal(response.statusCode, 201, response.body);
    seeded[key] = { pk: response.json().pk, uuid: response.json().uuid };
  }
  return seeded as unknown as Seeded;
}

async function list(rekey: TestApp, query: string): Promise<JSONBody> {
  const response = await rekey.api("GET", `/api/v3/core/users/${query}`);
  assert.equal(response.statusCode, 200, `${query}: ${response.body}`);
  return response.json();
}

async function usernames(rekey: TestApp, query: string): Promise<string[]> {
  return (await list(rekey, query)).results.map((user: { username: string }) => user.username);
}

async function invalidPage(rekey: TestApp, query: string): Promise<void> {
  const response = await rekey.api("GET", `/api/v3/core/users/${query}`);
  assert.equal(response.statusCode, 404, query);
  assert.deepEqual(response.json(), { detail: "Invalid page." }, query);
}

for (const dialect of DIALECTS) {
  describe(`GET /api/v3/core/users/ filters on ${dialect}`, () => {
    test("username, email and name match exactly and may be repeated", async (t) => {
      const rekey = await testApp(t, dialect);
      await seedUsers(rekey);
      assert.deepEqual(await usernames(rekey, ""), ["akadmin", "alice", "bob", "carol"]);
      assert.deepEqual(await usernames(rekey, "?username=alice"), ["alice"]);
      assert.deepEqual(await usernames(rekey, "?username=carol&username=alice"), ["alice", "carol"]);
      assert.deepEqual(await usernames(rekey, "?username=ali"), []);
      assert.deepEqual(await usernames(rekey, "?email=bob%40example.com"), ["bob"]);
      assert.deepEqual(await usernames(rekey, "?email=bob%40example.com&email=alice%40wonder.land"), [
        "alice",
        "bob",
      ]);
      assert.deepEqual(await usernames(rekey, "?name=Carol%20Danvers"), ["carol"]);
      assert.deepEqual(await usernames(rekey, "?name=Carol"), []);
    });

    test("uuid, path and type match exactly and may be repeated", async (t) => {
      const rekey = await testApp(t, dialect);
      const { alice, bob } = await seedUsers(rekey);
      assert.deepEqual(await usernames(rekey, `?uuid=${alice.uuid}`), ["alice"]);
      assert.deepEqual(await usernames(rekey, `?uuid=${alice.uuid}&uuid=${bob.uuid}`), ["alice", "bob"]);
      assert.deepEqual(await usernames(rekey, "?path=users%2Fwonder"), ["alice", "carol"]);
      assert.deepEqual(await usernames(rekey, "?path=users"), ["akadmin", "bob"]);
      assert.deepEqual(await usernames(rekey, "?type=external"), ["bob"]);
      assert.deepEqual(await usernames(rekey, "?type=external&type=service_account"), ["bob", "carol"]);
      assert.deepEqual(
        await usernames(rekey, "?type=internal&path=users"),
        ["akadmin"],
        "filters combine with AND",
      );
    });

    test("is_active and is_superuser filter on booleans", async (t) => {
      const rekey = await testApp(t, dialect);
      await seedUsers(rekey);
      assert.deepEqual(await usernames(rekey, "?is_active=false"), ["bob"]);
      assert.deepEqual(await usernames(rekey, "?is_active=true"), ["akadmin", "alice", "carol"]);
      assert.deepEqual(await usernames(rekey, "?is_superuser=true"), ["akadmin"]);
      assert.deepEqual(await usernames(rekey, "?is_superuser=false"), ["alice", "bob", "carol"]);
    });

    test("include_groups=false makes groups_obj null and include_roles=false makes roles_obj null", async (t) => {
      const rekey = await testApp(t, dialect);
      await seedUsers(rekey);
      const full = (await list(rekey, "?username=akadmin")).results[0];
      assert.equal(full.groups_obj.length, 1);
      assert.equal(full.groups_obj[0].name, "authentik Admins");
      assert.deepEqual(full.roles_obj, []);
      const noGroups = (await list(rekey, "?include_groups=false")).results;
      assert.equal(noGroups.length, 4);
      for (const user of noGroups) {
        assert.equal(user.groups_obj, null);
        assert.deepEqual(user.roles_obj, []);
      }
      assert.deepEqual(noGroups[0].groups, full.groups, "the uuids stay");
      const noRoles = (await list(rekey, "?include_roles=false&include_groups=true")).results;
      for (const user of noRoles) {
        assert.equal(user.roles_obj, null);
        assert.ok(Array.isArray(user.groups_obj));
        assert.deepEqual(user.roles, []);
      }
    });
  });

  describe(`GET /api/v3/core/users/ search and ordering on ${dialect}`, () => {
    test("search matches username, name or email, case-insensitively, every term", async (t) => {
      const rekey = await testApp(t, dialect);
      await seedUsers(rekey);
      assert.deepEqual(await usernames(rekey, "?search=wonder"), ["alice"]);
      assert.deepEqual(await usernames(rekey, "?search=EXAMPLE"), ["akadmin", "bob", "carol"]);
      assert.deepEqual(await usernames(rekey, "?search=builder"), ["bob"]);
      assert.deepEqual(await usernames(rekey, "?search=bob%20builder"), ["bob"]);
      assert.deepEqual(await usernames(rekey, "?search=alice%20example"), []);
      assert.deepEqual(await usernames(rekey, "?search=%25"), [], "a LIKE wildcard is searched literally");
      assert.equal((await list(rekey, "?search=example")).pagination.count, 3);
    });

    test("ordering accepts names and -names, ignores unknown ones and breaks ties by pk", async (t) => {
      const rekey = await testApp(t, dialect);
      await seedUsers(rekey);
      assert.deepEqual(await usernames(rekey, "?ordering=-username"), ["carol", "bob", "alice", "akadmin"]);
      assert.deepEqual(await usernames(rekey, "?ordering=email"), ["akadmin", "alice", "bob", "carol"]);
      assert.deepEqual(await usernames(rekey, "?ordering=-name"), ["akadmin", "carol", "bob", "alice"]);
      assert.deepEqual(await usernames(rekey, "?ordering=nonsense"), ["akadmin", "alice", "bob", "carol"]);
      assert.deepEqual(await usernames(rekey, "?ordering=path"), ["akadmin", "bob", "alice", "carol"]);
      assert.deepEqual(await usernames(rekey, "?ordering=nonsense,-path"), [
        "alice",
        "carol",
        "akadmin",
        "bob",
      ]);
      assert.deepEqual(await usernames(rekey, "?ordering=is_active,-username"), [
        "bob",
        "carol",
        "alice",
        "akadmin",
      ]);
    });
  });

  describe(`GET /api/v3/core/users/ pagination on ${dialect}`, () => {
    test("all seven pagination fields are numbers and autocomplete is {}", async (t) => {
      const rekey = await testApp(t, dialect);
      await seedUsers(rekey);
      const body = await list(rekey, "?page_size=1&page=2");
      assert.deepEqual(Object.keys(body), ["pagination", "results", "autocomplete"]);
      assert.deepEqual(body.pagination, {
        next: 3,
        previous: 1,
        count: 4,
        current: 2,
        total_pages: 4,
        start_index: 2,
        end_index: 2,
      });
      assert.deepEqual(body.autocomplete, {});
      assert.deepEqual(
        body.results.map((user: { username: string }) => user.username),
        ["alice"],
      );
      const last = await list(rekey, "?page_size=3&page=2");
      assert.deepEqual(last.pagination, {
        next: 0,
        previous: 1,
        count: 4,
        current: 2,
        total_pages: 2,
        start_index: 4,
        end_index: 4,
      });
    });

    test("an empty result is page 1 of 1 with zero indexes", async (t) => {
      const rekey = await testApp(t, dialect);
      const body = await list(rekey, "?username=nobody");
      assert.deepEqual(body, {
        pagination: {
          next: 0,
          previous: 0,
          count: 0,
          current: 1,
          total_pages: 1,
          start_index: 0,
          end_index: 0,
        },
        results: [],
        autocomplete: {},
      });
    });

    test("a page out of range or not a positive integer is 'Invalid page.'", async (t) => {
      const rekey = await testApp(t, dialect);
      await seedUsers(rekey);
      for (const page of ["3&page_size=3", "0", "-1", "abc", "1.5", "99"]) {
        await invalidPage(rekey, `?page=${page}`);
      }
      await invalidPage(rekey, "?page=2&username=nobody");
    });

    test("page_size defaults to 20, is capped at 100 and falls back to 20 when not a positive integer", async (t) => {
      const rekey = await testApp(t, dialect);
      for (let i = 0; i < 104; i++) {
        const response = await rekey.api("POST", "/api/v3/core/users/", {
          username: `user${String(i).padStart(3, "0")}`,
          name: "",
        });
        assert.equal(response.statusCode, 201, response.body);
      }
      const byDefault = await list(rekey, "");
      assert.equal(byDefault.results.length, 20);
      assert.equal(byDefault.pagination.total_pages, 6);
      assert.equal(byDefault.pagination.count, 105);
      const capped = await list(rekey, "?page_size=500");
      assert.equal(capped.results.length, 100);
      assert.deepEqual(capped.pagination, {
        next: 2,
        previous: 0,
        count: 105,
        current: 1,
        total_pages: 2,
        start_index: 1,
        end_index: 100,
      });
      const second = await list(rekey, "?page_size=500&page=2");
      assert.equal(second.results.length, 5);
      assert.equal(second.pagination.start_index, 101);
      assert.equal(second.pagination.end_index, 105);
      for (const size of ["0", "-5", "abc", "2.5", ""]) {
        const fallback = await list(rekey, `?page_size=${size}`);
        assert.equal(fallback.results.length, 20, size);
        assert.equal(fallback.pagination.total_pages, 6, size);
      }
      assert.equal((await list(rekey, "?page_size=100")).results.length, 100);
      assert.equal((await list(rekey, "?page_size=7")).results.length, 7);
    });
  });
}
