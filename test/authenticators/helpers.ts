import assert from "node:assert/strict";
import type { LightMyRequestResponse } from "fastify";
import type { TOTPAlgorithm } from "../../src/authenticators/store.js";
import { decodeBase32Secret } from "../../src/authenticators/totp.js";
import { issueSession } from "../../src/sessions/service.js";
import { sha256Hex } from "../../src/crypto/secrets.js";
import { generateTokenKey, storedKey } from "../../src/tokens/service.js";
import type { User } from "../../src/users/store.js";
import { TENANTS_KEY, type TestApp } from "../support/app.js";

/** Helpers shared by the authenticator tests: devices through the API, sessions, a second tenant. */

export const JSON_403 = { detail: "You do not have permission to perform this action." };

export async function findUser(rekey: TestApp, pk: number): Promise<User> {
  const tenant = await rekey.deps.persistence.stores.tenants.defaultTenant();
  const user = await rekey.deps.persistence.stores.users.findUser(tenant.id, pk);
  assert.ok(user !== null, `user ${pk}`);
  return user;
}

export async function adminPk(rekey: TestApp): Promise<number> {
  const me = await rekey.api("GET", "/api/v3/core/users/me/");
  assert.equal(me.statusCode, 200, me.body);
  return me.json().user.pk as number;
}

export interface CreatedDevice {
  pk: number;
  configURL: URL;
  /** The secret read back from config_url, as an authenticator app would. */
  secret: Uint8Array;
  device: { digits: 6 | 8; period: number; algorithm: TOTPAlgorithm };
}

/** POST /authenticators/admin/totp/ as the admin; 201 expected. */
export async function createTOTP(
  rekey: TestApp,
  body: Record<string, unknown>,
  options?: { token?: string },
): Promise<CreatedDevice> {
  const response = await rekey.api("POST", "/api/v3/authenticators/admin/totp/", body, {
    token: options?.token,
  });
  assert.equal(response.statusCode, 201, response.body);
  return parseCreated(response);
}

export function parseCreated(response: LightMyRequestResponse): CreatedDevice {
  const configURL = new URL(response.json().config_url as string);
  const secret = decodeBase32Secret(configURL.searchParams.get("secret")!);
  assert.ok(secret !== null);
  return {
    pk: response.json().pk as number,
    configURL,
    secret,
    device: {
      digits: Number(configURL.searchParams.get("digits")) as 6 | 8,
      period: Number(configURL.searchParams.get("period")),
      algorithm: configURL.searchParams.get("algorithm")!.toLowerCase() as TOTPAlgorithm,
    },
  };
}

/** A live browser session of the user; returns the token's hash, to look the session up later. */
export async function sessionOf(rekey: TestApp, userPk: number): Promise<{ tenantId: string; hash: string }> {
  const user = await findUser(rekey, userPk);
  const { token } = await issueSession(rekey.deps, rekey.deps.persistence.stores, {
    tenantId: user.tenantId,
    userId: user.id,
    kind: "browser",
    aal: "aal1",
    authMethods: ["password"],
  });
  return { tenantId: user.tenantId, hash: sha256Hex(token) };
}

export async function isSessionActive(
  rekey: TestApp,
  session: { tenantId: string; hash: string },
): Promise<boolean> {
  const found = await rekey.deps.persistence.stores.sessions.findActiveSession(
    session.tenantId,
    session.hash,
    rekey.deps.clock.now(),
    86_400_000,
  );
  return found !== null;
}

/** Actions and model pks of the (latest 100) events about devices; order is not meaningful (same-millisecond ties). */
export async function deviceEvents(
  rekey: TestApp,
): Promise<{ action: string; model: string; pk: number; actor: string }[]> {
  const response = await rekey.api("GET", "/api/v3/events/events/?ordering=-created&page_size=100");
  assert.equal(response.statusCode, 200, response.body);
  const events: {
    action: string;
    user: { username: string };
    context: { model?: { model_name: string; pk: number } };
  }[] = response.json().results;
  return events
    .filter((event) => event.context.model?.model_name.endsWith("device") === true)
    .map((event) => ({
      action: event.action,
      model: event.context.model!.model_name,
      pk: event.context.model!.pk,
      actor: event.user.username,
    }));
}

export const HOST_B = "b.example.com";

/**
 * Tenant B at HOST_B with a superuser `akadmin` and its api key, written through the stores (a new
 * tenant has no one to call its API yet). Calls with `call` go to tenant B.
 */
export async function tenantB(rekey: TestApp): Promise<{
  tenantId: string;
  call: (method: string, url: string, body?: unknown) => Promise<LightMyRequestResponse>;
}> {
  const auth = { token: TENANTS_KEY };
  const tenant = await rekey.api("POST", "/api/v3/tenants/tenants/", { schema_name: "t_b", name: "B" }, auth);
  assert.equal(tenant.statusCode, 201, tenant.body);
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
  return {
    tenantId,
    call: (method, url, body) => rekey.api(method, url, body, { token: key, headers: { host: HOST_B } }),
  };
}
