import type { TestContext } from "node:test";
import { fixedClock } from "../../src/clock.js";
import type { Dialect } from "../../src/db/database.js";
import type { Audit } from "../../src/events/service.js";
import { SYSTEM_ACTOR } from "../../src/events/store.js";
import { generateTokenKey, storedKey } from "../../src/tokens/service.js";
import type { TokenIntent } from "../../src/tokens/store.js";
import { createTokenFor, createUser, TENANTS_KEY, type TestApp, testApp } from "./app.js";

/** The instant token tests stand at: a non-zero fraction, so date-time texts show their microseconds. */
export const NOW = new Date("2026-03-01T12:00:00.123Z");
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** The nine keys of authentik's `Token`, in the order its serializer sends them. */
export const TOKEN_KEYS = [
  "pk",
  "managed",
  "identifier",
  "intent",
  "user",
  "user_obj",
  "description",
  "expires",
  "expiring",
];

/** `NOW` moved by `ms`, as authentik prints date-times (`…T12:00:00.123000Z`). */
export function wireTime(ms: number): string {
  return new Date(NOW.getTime() + ms)
    .toISOString()
    .replace(".000Z", "Z")
    .replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** The real app standing at NOW on a clock the test moves. */
export async function tokenApp(
  t: TestContext,
  dialect: Dialect,
): Promise<{ rekey: TestApp; clock: ReturnType<typeof fixedClock> }> {
  const clock = fixedClock(NOW);
  const rekey = await testApp(t, dialect, { clock });
  return { rekey, clock };
}

/**
 * A non-superuser (or, with `superuser`, an admin) and an api key to call the API as them. The
 * login token, `<username>-login`, is created by akadmin, so its owner may not view its key.
 */
export async function signedInUser(
  rekey: TestApp,
  username: string,
  options?: { superuser?: boolean; attributes?: Record<string, unknown> },
): Promise<{ pk: number; key: string }> {
  const pk = await createUser(rekey, username, options);
  const key = await createTokenFor(rekey, pk, `${username}-login`);
  return { pk, key };
}

/**
 * A token of an intent the API cannot create (recovery, verification), written straight through the
 * store as the recovery features will write them: hash-only. Returns the key.
 */
export async function createStoredToken(
  rekey: TestApp,
  userPk: number,
  identifier: string,
  intent: TokenIntent,
): Promise<string> {
  const tenant = await rekey.deps.persistence.stores.tenants.defaultTenant();
  const key = generateTokenKey(rekey.deps);
  await rekey.deps.persistence.stores.tokens.createToken(
    {
      id: rekey.deps.random.uuid(),
      tenantId: tenant.id,
      identifier,
      managed: null,
      intent,
      userId: userPk,
      description: "",
      expires: new Date(rekey.deps.clock.now().getTime() + HOUR),
      expiring: true,
      ...storedKey(rekey.deps, intent, key),
      ownerMayView: true,
    },
    rekey.deps.clock.now(),
  );
  return key;
}

export interface WireEvent {
  pk: string;
  user: { pk: number; username: string; email: string };
  action: string;
  app: string;
  context: Record<string, unknown>;
}

/** Events with exactly this action, newest first, read through the events API as akadmin. */
export async function eventsOf(rekey: TestApp, action: string): Promise<WireEvent[]> {
  const response = await rekey.api("GET", `/api/v3/events/events/?action=${action}&page_size=100`);
  if (response.statusCode !== 200) throw new Error(`eventsOf: ${response.statusCode} ${response.body}`);
  return (response.json().results as WireEvent[]).filter((event) => event.action === action);
}

/** The model reference an event names a token by (authentik-v3.md §3.7). */
export function tokenReference(token: { pk: string; identifier: string }): Record<string, unknown> {
  return {
    app: "authentik_core",
    model_name: "token",
    pk: token.pk.replaceAll("-", ""),
    name: token.identifier,
  };
}

/** The audit of the background jobs, as the scheduler builds it. */
export function systemAudit(tenantId: string): Audit {
  return { tenantId, actor: SYSTEM_ACTOR, clientIP: null, httpRequest: null, app: "rekey.tasks" };
}

/** The username of whoever a key authenticates as, or the 403 body when it does not. */
export async function whoAmI(rekey: TestApp, key: string): Promise<string | { detail: string }> {
  const response = await rekey.api("GET", "/api/v3/core/users/me/", undefined, { token: key });
  return response.statusCode === 200
    ? (response.json().user.username as string)
    : (response.json() as { detail: string });
}

/**
 * A second tenant reached at `domain`, with a superuser `boss` and that user's api key, written
 * through the stores (a new tenant has no admin for the API to authenticate).
 */
export async function secondTenantAdmin(
  rekey: TestApp,
  domain: string,
): Promise<{ tenantId: string; key: string }> {
  const auth = { token: TENANTS_KEY };
  const tenant = await rekey.api(
    "POST",
    "/api/v3/tenants/tenants/",
    { schema_name: "t_second", name: "Second" },
    auth,
  );
  if (tenant.statusCode !== 201) throw new Error(`secondTenantAdmin: ${tenant.statusCode} ${tenant.body}`);
  const tenantId = tenant.json().tenant_uuid as string;
  const added = await rekey.api("POST", "/api/v3/tenants/domains/", { domain, tenant: tenantId }, auth);
  if (added.statusCode !== 201) throw new Error(`secondTenantAdmin: ${added.statusCode} ${added.body}`);
  const { deps } = rekey;
  const now = deps.clock.now();
  const user = await deps.persistence.stores.users.createUser(
    tenantId,
    {
      uuid: deps.random.uuid(),
      username: "boss",
      name: "Boss",
      email: "boss@example.com",
      isActive: true,
      lastLogin: null,
      attributes: {},
      path: "users",
      type: "internal",
      groupIds: [],
    },
    now,
  );
  const group = await deps.persistence.stores.groups.createGroup(tenantId, {
    uuid: deps.random.uuid(),
    name: "authentik Admins",
    isSuperuser: true,
    attributes: {},
    userIds: [],
  });
  if (user === null || group === null) throw new Error("secondTenantAdmin: no user or group");
  await deps.persistence.stores.groups.addMember(group.id, user.id);
  const key = generateTokenKey(deps);
  await deps.persistence.stores.tokens.createToken(
    {
      id: deps.random.uuid(),
      tenantId,
      identifier: "boss-login",
      managed: null,
      intent: "api",
      userId: user.id,
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
