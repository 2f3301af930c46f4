import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { generateTokenKey, storedKey } from "../../src/tokens/service.js";
import { DIALECTS } from "../support/databases.js";
import { ADMIN_TOKEN, TENANTS_KEY, type TestApp, testApp } from "../support/app.js";

const HOST_A = "localhost:9000"; // no domain: the default tenant
const HOST_B = "b.example.com";

interface Caller {
  host: string;
  key: string;
}

/** The objects one tenant's admin made through the API. */
interface Made {
  userPk: number;
  groupPk: string;
  token: string;
  eventPk: string;
}

/**
 * Tenant B at HOST_B with a superuser and its api key, written through the stores: a new tenant
 * starts empty, so no API call could authenticate there yet.
 */
async function tenantB(rekey: TestApp): Promise<{ tenantId: string; caller: Caller }> {
  const auth = { token: TENANTS_KEY };
  const tenant = await rekey.api("POST", "/api/v3/tenants/tenants/", { schema_name: "t_b", name: "B" }, auth);
  const tenantId = tenant.json().tenant_uuid as string;
  const domain = await rekey.api(
    "POST",
    "/api/v3/tenants/domains/",
    { domain: HOST_B, tenant: tenantId },
    auth,
  );
  assert.equal(domain.statusCode, 201, domain.body);
  const { deps } = rekey;
  const stores = deps.persistence.stores;
  const now = deps.clock.now();
  const group = await stores.groups.createGroup(tenantId, {
    uuid: deps.random.uuid(),
    name: "authentik Admins",
    isSuperuser: true,
    attributes: {},
    userIds: [],
  });
  const user = await stores.users.createUser(
    tenantId,
    {
      uuid: deps.random.uuid(),
      username: "akadmin",
      name: "B admin",
      email: "admin@b.example.com",
      isActive: true,
      lastLogin: null,
      attributes: {},
      path: "users",
      type: "internal",
      groupIds: [group!.id],
    },
    now,
  );
  const key = generateTokenKey(deps);
  await stores.tokens.createToken(
    {
      id: deps.random.uuid(),
      tenantId,
      identifier: "b-admin",
      managed: null,
      intent: "api",
      userId: user!.id,
      description: "",
      expires: null,
      expiring: false,
      ...storedKey(deps, "api", key),
      ownerMayView: true,
    },
    now,
  );
  return { tenantId, caller: { host: HOST_B, key } };
}

function as(rekey: TestApp, caller: Caller) {
  return (method: string, url: string, body?: unknown) =>
    rekey.api(method, url, body, { token: caller.key, headers: { host: caller.host } });
}

/** A user, a group, a token and (by making them) events, all named after `prefix`. */
async function makeObjects(rekey: TestApp, caller: Caller, prefix: string): Promise<Made> {
  const call = as(rekey, caller);
  const user = await call("POST", "/api/v3/core/users/", { username: `${prefix}-user`, name: prefix });
  assert.equal(user.statusCode, 201, user.body);
  const group = await call("POST", "/api/v3/core/groups/", {
    name: `${prefix}-group`,
    users: [user.json().pk],
  });
  assert.equal(group.statusCode, 201, group.body);
  const token = await call("POST", "/api/v3/core/tokens/", {
    identifier: `${prefix}-token`,
    user: user.json().pk,
  });
  assert.equal(token.statusCode, 201, token.body);
  const events = (
    await call("GET", "/api/v3/events/events/?action=model_created&context_model_name=user")
  ).json();
  return {
    userPk: user.json().pk,
    groupPk: group.json().pk,
    token: `${prefix}-token`,
    eventPk: events.results[0].pk,
  };
}

async function names(rekey: TestApp, caller: Caller, url: string, field: string): Promise<string[]> {
  const response = await as(rekey, caller)("GET", url);
  assert.equal(response.statusCode, 200, response.body);
  return response.json().results.map((row: Record<string, unknown>) => String(row[field]));
}

/** Every read and write of `other`'s objects from `caller` must be as if they did not exist. */
async function assertUntouchable(
  rekey: TestApp,
  caller: Caller,
  other: Made,
  ownGroupPk: string,
): Promise<void> {
  const call = as(rekey, caller);
  const notFound: [string, string, unknown, string][] = [
    ["GET", `/api/v3/core/users/${other.userPk}/`, undefined, "User"],
    ["PATCH", `/api/v3/core/users/${other.userPk}/`, { name: "hijacked" }, "User"],
    ["PUT", `/api/v3/core/users/${other.userPk}/`, { username: "hijacked", name: "x" }, "User"],
    [
      "POST",
      `/api/v3/core/users/${other.userPk}/set_password/`,
      { password: "correct horse battery" },
      "User",
    ],
    ["DELETE", `/api/v3/core/users/${other.userPk}/`, undefined, "User"],
    ["GET", `/api/v3/core/groups/${other.groupPk}/`, undefined, "Group"],
    ["PATCH", `/api/v3/core/groups/${other.groupPk}/`, { name: "hijacked" }, "Group"],
    ["POST", `/api/v3/core/groups/${other.groupPk}/add_user/`, { pk: other.userPk }, "Group"],
    ["DELETE", `/api/v3/core/groups/${other.groupPk}/`, undefined, "Group"],
    ["GET", `/api/v3/core/tokens/${other.token}/`, undefined, "Token"],
    ["PATCH", `/api/v3/core/tokens/${other.token}/`, { description: "hijacked" }, "Token"],
    ["DELETE", `/api/v3/core/tokens/${other.token}/`, undefined, "Token"],
    ["GET", `/api/v3/core/tokens/${other.token}/view_key/`, undefined, "Token"],
    ["GET", `/api/v3/events/events/${other.eventPk}/`, undefined, "Event"],
  ];
  for (const [method, url, body, model] of notFound) {
    const response = await call(method, url, body);
    assert.equal(response.statusCode, 404, `${caller.host} ${method} ${url}: ${response.body}`);
    assert.deepEqual(response.json(), { detail: `No ${model} matches the given query.` }, `${method} ${url}`);
  }
  const member = await call("POST", `/api/v3/core/groups/${ownGroupPk}/add_user/`, { pk: other.userPk });
  assert.equal(member.statusCode, 400);
  assert.deepEqual(member.json(), { pk: [`Invalid pk "${other.userPk}" - object does not exist.`] });
  const grouped = await call("POST", "/api/v3/core/users/", {
    username: "grouped",
    name: "x",
    groups: [other.groupPk],
  });
  assert.deepEqual(grouped.json(), { groups: [`Invalid pk "${other.groupPk}" - object does not exist.`] });
  const owned = await call("POST", "/api/v3/core/tokens/", { identifier: "for-other", user: other.userPk });
  assert.deepEqual(owned.json(), { user: [`Invalid pk "${other.userPk}" - object does not exist.`] });
}

for (const dialect of DIALECTS) {
  describe(`tenant isolation on ${dialect}`, () => {
    test("users, groups, tokens and events of one tenant are invisible from the other's host", async (t) => {
      const rekey = await testApp(t, dialect);
      const a: Caller = { host: HOST_A, key: ADMIN_TOKEN };
      const { caller: b } = await tenantB(rekey);
      await makeObjects(rekey, a, "a");
      await makeObjects(rekey, b, "b");
      assert.deepEqual(await names(rekey, a, "/api/v3/core/users/", "username"), ["a-user", "akadmin"]);
      assert.deepEqual(await names(rekey, b, "/api/v3/core/users/", "username"), ["akadmin", "b-user"]);
      assert.deepEqual(await names(rekey, a, "/api/v3/core/groups/?ordering=name", "name"), [
        "a-group",
        "authentik Admins",
      ]);
      assert.deepEqual(await names(rekey, b, "/api/v3/core/groups/?ordering=name", "name"), [
        "authentik Admins",
        "b-group",
      ]);
      assert.deepEqual(await names(rekey, a, "/api/v3/core/tokens/", "identifier"), [
        "a-token",
        "authentik-bootstrap-token",
      ]);
      assert.deepEqual(await names(rekey, b, "/api/v3/core/tokens/", "identifier"), ["b-admin", "b-token"]);
      const eventsA = (await as(rekey, a)("GET", "/api/v3/events/events/?page_size=100")).json().results;
      const eventsB = (await as(rekey, b)("GET", "/api/v3/events/events/?page_size=100")).json().results;
      const modelNames = (events: { context: { model?: { name: string } } }[]) =>
        events.map((event) => event.context.model?.name).filter((name) => name !== undefined);
      assert.deepEqual(modelNames(eventsB).sort(), ["b-group", "b-token", "b-user"]);
      assert.ok(
        !modelNames(eventsA).some((name) => name.startsWith("b-")),
        JSON.stringify(modelNames(eventsA)),
      );
      assert.ok(modelNames(eventsA).includes("a-user"));
      const filtered = (await as(rekey, b)("GET", "/api/v3/events/events/?username=akadmin")).json().results;
      assert.equal(filtered.length, 3, "b's akadmin made three objects there");
      assert.ok(
        filtered.every((event: { user: { email: string } }) => event.user.email === "admin@b.example.com"),
      );
    });

    test("one tenant's objects answer 404 from the other's host, both ways, and stay unchanged", async (t) => {
      const rekey = await testApp(t, dialect);
      const a: Caller = { host: HOST_A, key: ADMIN_TOKEN };
      const { caller: b } = await tenantB(rekey);
      const madeA = await makeObjects(rekey, a, "a");
      const madeB = await makeObjects(rekey, b, "b");
      await assertUntouchable(rekey, b, madeA, madeB.groupPk);
      await assertUntouchable(rekey, a, madeB, madeA.groupPk);
      for (const [caller, made, prefix] of [
        [a, madeA, "a"],
        [b, madeB, "b"],
      ] as const) {
        const call = as(rekey, caller);
        const user = (await call("GET", `/api/v3/core/users/${made.userPk}/`)).json();
        assert.equal(user.username, `${prefix}-user`);
        assert.deepEqual(user.groups, [made.groupPk]);
        assert.equal(
          (await call("GET", `/api/v3/core/groups/${made.groupPk}/`)).json().name,
          `${prefix}-group`,
        );
        assert.equal((await call("GET", `/api/v3/core/tokens/${made.token}/`)).json().description, "");
      }
    });

    test("usernames, group names and token identifiers are unique per tenant only", async (t) => {
      const rekey = await testApp(t, dialect);
      const { caller: b } = await tenantB(rekey);
      const a: Caller = { host: HOST_A, key: ADMIN_TOKEN };
      for (const caller of [a, b]) {
        const call = as(rekey, caller);
        const user = await call("POST", "/api/v3/core/users/", { username: "shared", name: "Shared" });
        assert.equal(user.statusCode, 201, user.body);
        assert.equal((await call("POST", "/api/v3/core/groups/", { name: "shared" })).statusCode, 201);
        assert.equal(
          (await call("POST", "/api/v3/core/tokens/", { identifier: "shared", user: user.json().pk }))
            .statusCode,
          201,
        );
      }
    });

    test("deleting a tenant removes its domains, users, groups, tokens and events", async (t) => {
      const rekey = await testApp(t, dialect);
      const { tenantId, caller: b } = await tenantB(rekey);
      await makeObjects(rekey, b, "b");
      const kysely = rekey.deps.db.kysely;
      const tables = ["domain", "user", "group", "token", "event"] as const;
      const count = async (table: (typeof tables)[number], tenant: string): Promise<number> => {
        const row = await kysely
          .selectFrom(table)
          .where("tenant_id", "=", tenant)
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow();
        return Number(row.n);
      };
      for (const table of tables) {
        assert.ok((await count(table, tenantId)) > 0, `${table} has rows before`);
      }
      const response = await rekey.api("DELETE", `/api/v3/tenants/tenants/${tenantId}/`, undefined, {
        token: TENANTS_KEY,
      });
      assert.equal(response.statusCode, 204, response.body);
      assert.equal(response.body, "");
      for (const table of tables) {
        assert.equal(await count(table, tenantId), 0, `${table} has no rows after`);
      }
      const memberships = await kysely.selectFrom("group_member").select("user_id").execute();
      assert.equal(memberships.length, 1, "only the default tenant's akadmin membership is left");
      const gone = await rekey.api("GET", `/api/v3/tenants/tenants/${tenantId}/`, undefined, {
        token: TENANTS_KEY,
      });
      assert.deepEqual(gone.json(), { detail: "No Tenant matches the given query." });
      const onB = await as(rekey, b)("GET", "/api/v3/core/users/me/");
      assert.equal(onB.statusCode, 403, "the host now means the default tenant, where b's key is unknown");
      assert.deepEqual(onB.json(), { detail: "Token invalid/expired" });
      const defaultUsers = (await rekey.api("GET", "/api/v3/core/users/")).json();
      assert.deepEqual(
        defaultUsers.results.map((user: { username: string }) => user.username),
        ["akadmin"],
      );
    });
  });
}
