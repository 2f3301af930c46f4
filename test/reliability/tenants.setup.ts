import assert from "node:assert/strict";
import type { LightMyRequestResponse } from "fastify";
import { sql } from "kysely";
import { ADMIN_TOKEN, TENANTS_KEY, type TestApp } from "../support/app.js";
import { secondTenantAdmin } from "../support/tokens.js";

/**
 * Two tenants with the same kinds of data: A is the default tenant (any unknown host), B answers at
 * its own domain. Both hold a user with the same address, so a recovery by address in A has a B
 * account it could wrongly reach. B's objects are recorded to be named from A.
 */

export const HOST_A = "localhost";
export const SHARED_EMAIL = "shared@example.com";
export const PASSWORD = "tenant-password-1!Aa";

export interface TenantObjects {
  userPks: number[];
  userUUIDs: string[];
  usernames: string[];
  tokenIdentifiers: string[];
  tokenKeys: string[];
  groupUUIDs: string[];
  deviceIds: number[];
  linkTokens: string[];
  keyTokens: string[];
  /** An admin-issued Kratos recovery flow and its code. */
  codeFlow: { flowId: string; code: string };
  sessionToken: string;
  pageCookie: string;
}

export interface Tenants {
  rekey: TestApp;
  bId: string;
  hostB: string;
  a: TenantObjects;
  b: TenantObjects;
  /** Names of B objects: none may appear in an answer given in A, unless A was told them before. */
  bNames: string[];
  /** B's secrets: none may appear in an answer given in A, unless sent in that very request. */
  bSecrets: string[];
}

type Call = (
  method: string,
  url: string,
  body?: unknown,
  headers?: Record<string, string>,
) => Promise<LightMyRequestResponse>;

// biome-ignore lint/suspicious/noExplicitAny: wire JSON, read field by field as the tests need it
function expectOK(response: LightMyRequestResponse, what: string): Record<string, any> {
  assert.ok(response.statusCode < 300, `${what}: ${response.statusCode} ${response.body}`);
  return response.body === "" ? {} : response.json();
}

/** A password sign-in through Kratos' API login flow: the session token. */
async function kratosSession(call: Call, identifier: string): Promise<string> {
  const flow = expectOK(await call("GET", "/self-service/login/api"), "login flow");
  const action = new URL(flow["ui"]["action"] as string);
  const done = await call("POST", `${action.pathname}${action.search}`, {
    method: "password",
    identifier,
    password: PASSWORD,
  });
  return expectOK(done, "login").session_token as string;
}

/** A page sign-in: the `rekey_session` cookie. */
async function pageSession(call: Call, identifier: string): Promise<string> {
  const page = await call("GET", "/if/login/");
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(page.body)![1]!;
  const cookie = page.cookies.map((c) => `${c.name}=${c.value}`).join("; ");
  const body = new URLSearchParams({ csrf_token: csrf, identifier, password: PASSWORD }).toString();
  const done = await call("POST", "/if/login/", body, {
    "content-type": "application/x-www-form-urlencoded",
    cookie,
  });
  assert.equal(done.statusCode, 303, done.body);
  const session = done.cookies.find((c) => c.name === "rekey_session");
  assert.ok(session !== undefined, "page sign-in set a session cookie");
  return `rekey_session=${session.value}`;
}

/** Users, tokens, a group, a TOTP device, a recovery link and key, a code flow and two sessions. */
async function populate(
  call: Call,
  tenantUUID: string,
  prefix: string,
  email: string,
): Promise<TenantObjects> {
  const objects: TenantObjects = {
    userPks: [],
    userUUIDs: [],
    usernames: [],
    tokenIdentifiers: [],
    tokenKeys: [],
    groupUUIDs: [],
    deviceIds: [],
    linkTokens: [],
    keyTokens: [],
    codeFlow: { flowId: "", code: "" },
    sessionToken: "",
    pageCookie: "",
  };
  for (const [i, address] of [email, `${prefix}-only@example.com`].entries()) {
    const username = `${prefix}-user-${i}`;
    const user = expectOK(
      await call("POST", "/api/v3/core/users/", { username, name: username, email: address }),
      "user",
    );
    objects.userPks.push(user["pk"]);
    objects.userUUIDs.push(user["uuid"]);
    objects.usernames.push(username);
    expectOK(
      await call("POST", `/api/v3/core/users/${user["pk"]}/set_password/`, { password: PASSWORD }),
      "password",
    );
    for (const intent of ["api", "app_password"]) {
      const identifier = `${prefix}-${intent}-${i}`;
      expectOK(await call("POST", "/api/v3/core/tokens/", { identifier, intent, user: user["pk"] }), "token");
      objects.tokenIdentifiers.push(identifier);
      objects.tokenKeys.push(
        expectOK(await call("GET", `/api/v3/core/tokens/${identifier}/view_key/`), "key")["key"],
      );
    }
  }
  const group = expectOK(
    await call("POST", "/api/v3/core/groups/", { name: `${prefix}-group`, users: objects.userPks }),
    "group",
  );
  objects.groupUUIDs.push(group["pk"]);
  const device = expectOK(
    await call("POST", "/api/v3/authenticators/admin/totp/", { name: "phone", user: objects.userPks[0] }),
    "totp",
  );
  objects.deviceIds.push(device["pk"]);
  const link = expectOK(await call("POST", `/api/v3/core/users/${objects.userPks[1]}/recovery/`, {}), "link");
  objects.linkTokens.push(new URL(link["link"]).searchParams.get("flow_token")!);
  const key = expectOK(
    await call(
      "POST",
      `/api/v3/tenants/tenants/${tenantUUID}/create_recovery_key/`,
      { user: objects.usernames[1], duration_days: 1 },
      { authorization: `Bearer ${TENANTS_KEY}` },
    ),
    "recovery key",
  );
  objects.keyTokens.push(
    decodeURIComponent(/\/use-token\/([^/]+)\//.exec(new URL(key["url"]).pathname)![1]!),
  );
  const code = expectOK(
    await call("POST", "/admin/recovery/code", { identity_id: objects.userUUIDs[0] }),
    "recovery code",
  );
  objects.codeFlow = {
    flowId: new URL(code["recovery_link"]).searchParams.get("flow")!,
    code: code["recovery_code"],
  };
  objects.sessionToken = await kratosSession(call, objects.usernames[0]!);
  objects.pageCookie = await pageSession(call, objects.usernames[1]!);
  return objects;
}

export async function twoTenants(rekey: TestApp): Promise<Tenants> {
  const hostB = "b.example.com";
  const b = await secondTenantAdmin(rekey, hostB);
  const bAdminKey = b.key;
  const aUUID = (await rekey.deps.persistence.stores.tenants.defaultTenant()).id;
  const callIn =
    (host: string, key: string): Call =>
    (method, url, body, headers) =>
      rekey.app.inject({
        method: method as "GET",
        url,
        headers: {
          host,
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...headers,
        },
        payload: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
  const a = await populate(callIn(HOST_A, ADMIN_TOKEN), aUUID, "a", SHARED_EMAIL);
  const bObjects = await populate(callIn(hostB, bAdminKey), b.tenantId, "b", SHARED_EMAIL);
  const bNames = [
    b.tenantId,
    ...bObjects.userUUIDs,
    ...bObjects.usernames,
    ...bObjects.tokenIdentifiers,
    ...bObjects.groupUUIDs,
    bObjects.codeFlow.flowId,
    "b-only@example.com",
  ];
  const bSecrets = [
    bAdminKey,
    ...bObjects.tokenKeys,
    ...bObjects.linkTokens,
    ...bObjects.keyTokens,
    bObjects.codeFlow.code.length >= 8 ? bObjects.codeFlow.code : "",
    bObjects.sessionToken,
    bObjects.pageCookie.replace(/^rekey_session=/, ""),
  ].filter((secret) => secret !== "");
  return { rekey, bId: b.tenantId, hostB, a, b: bObjects, bNames, bSecrets };
}

/** Tables a tenant's state does not live in: counters keyed by address or IP, job leases. */
const NOT_TENANT_STATE = new Set(["rate_limit", "job_lock", "kysely_migration", "kysely_migration_lock"]);

/** Every row of tenant `tenantId`, table by table, as sorted JSON lines. */
export async function tenantState(rekey: TestApp, tenantId: string): Promise<Record<string, string[]>> {
  const kysely = rekey.database.db.kysely;
  const state: Record<string, string[]> = {};
  for (const table of await kysely.introspection.getTables()) {
    if (NOT_TENANT_STATE.has(table.name)) continue;
    const columns = table.columns.map((column) => column.name);
    const query = columns.includes("tenant_id")
      ? sql`select * from ${sql.table(table.name)} where tenant_id = ${tenantId}`
      : table.name === "tenant"
        ? sql`select * from tenant where id = ${tenantId}`
        : table.name === "group_member"
          ? sql`select m.* from group_member m join ${sql.table("group")} g on g.id = m.group_id where g.tenant_id = ${tenantId}`
          : null;
    assert.ok(
      query !== null,
      `table "${table.name}" has no tenant column: say how its rows belong to a tenant`,
    );
    const rows = (await query.execute(kysely)).rows;
    state[table.name] = rows
      .map((row) => JSON.stringify(row, (_k, v) => (typeof v === "bigint" ? String(v) : v)))
      .sort();
  }
  return state;
}
