import assert from "node:assert/strict";
import type { LightMyRequestResponse } from "fastify";
import type { Audit } from "../../src/events/service.js";
import { SYSTEM_ACTOR } from "../../src/events/store.js";
import { generateTokenKey, storedKey } from "../../src/tokens/service.js";
import type { User } from "../../src/users/store.js";
import { createTokenFor, createUser, TENANTS_KEY, type TestApp } from "../support/app.js";

/** A JSON response body: tests read whatever shape the wire has and assert on it. */
// biome-ignore lint/suspicious/noExplicitAny: response bodies are untyped JSON, checked by the assertions
export type JSONBody = Record<string, any>;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const NIL_UUID = "00000000-0000-0000-0000-000000000000";
export const PUBLIC_URL = "http://localhost:9000";

/** Kratos' `identity` keys in order (kratos.md §3.1.1), for an identity with an email. */
export const IDENTITY_KEYS = [
  "id",
  "credentials",
  "schema_id",
  "schema_url",
  "state",
  "state_changed_at",
  "traits",
  "verifiable_addresses",
  "recovery_addresses",
  "metadata_public",
  "created_at",
  "updated_at",
];

/** Asserts an errorGeneric answer: status, exact body, and the error headers of kratos.md §2.4. */
export function assertKratosError(response: LightMyRequestResponse, status: number, error: JSONBody): void {
  assert.equal(response.statusCode, status, response.body);
  assert.equal(response.body, JSON.stringify({ error }));
  assert.equal(response.headers["content-type"], "application/json");
  assert.equal(response.headers["ory-error-id"], error["id"] ?? "");
}

export function badRequest(reason: string): JSONBody {
  return {
    code: 400,
    status: "Bad Request",
    reason,
    message: "The request was malformed or contained invalid parameters",
  };
}

/** Creates an identity through the admin API and returns its JSON. */
export async function createIdentity(rekey: TestApp, traits: JSONBody, extra?: JSONBody): Promise<JSONBody> {
  const response = await rekey.api("POST", "/admin/identities", { schema_id: "default", traits, ...extra });
  assert.equal(response.statusCode, 201, response.body);
  return response.json() as JSONBody;
}

/** The user behind an identity id, read from the store. */
export async function userOf(rekey: TestApp, identityId: string): Promise<User> {
  const user = await rekey.deps.persistence.stores.users.findUserByUUID(defaultTenantId(rekey), identityId);
  assert.ok(user !== null, `no user ${identityId}`);
  return user;
}

export function defaultTenantId(rekey: TestApp): string {
  return rekey.deps.installationId;
}

export function systemAudit(tenantId: string): Audit {
  return { tenantId, actor: SYSTEM_ACTOR, clientIP: null, httpRequest: null, app: "rekey.api" };
}

/** An api token of an ordinary (not superuser) user. */
export async function plainUserToken(rekey: TestApp, username = "helpdesk"): Promise<string> {
  const pk = await createUser(rekey, username);
  return createTokenFor(rekey, pk, `${username}-token`);
}

/** A second tenant at `host` with a superuser and its api key, written through the stores. */
export async function secondTenant(rekey: TestApp, host: string): Promise<{ tenantId: string; key: string }> {
  const auth = { token: TENANTS_KEY };
  const tenant = await rekey.api("POST", "/api/v3/tenants/tenants/", { schema_name: "t_b", name: "B" }, auth);
  assert.equal(tenant.statusCode, 201, tenant.body);
  const tenantId = tenant.json().tenant_uuid as string;
  const domain = await rekey.api(
    "POST",
    "/api/v3/tenants/domains/",
    { domain: host, tenant: tenantId },
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
  return { tenantId, key };
}
