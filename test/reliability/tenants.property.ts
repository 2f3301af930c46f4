import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import fc from "fast-check";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import type { Dialect } from "../../src/db/database.js";
import { ADMIN_TOKEN, testApp } from "../support/app.js";
import { HOST_A, PASSWORD, SHARED_EMAIL, type Tenants, tenantState, twoTenants } from "./tenants.setup.js";

/**
 * The tenant property: any sequence of reads, writes and recoveries made in tenant A (A's host, A's
 * credentials, or B's credentials and secrets replayed at A's host) leaves every row of tenant B as
 * it was, and no answer given in A names a B object or secret.
 */

/** Which tenant's object an operation names: A's own, or B's (which A must not reach). */
type Side = "a" | "b";
interface Op {
  kind: number;
  side: Side;
  pick: number;
  text: string;
}

const pickOf = <T>(list: T[], n: number): T => list[n % list.length]!;

/** One operation as a request at A's host. A's admin key unless the operation replays a B credential. */
function requestOf(tenants: Tenants, op: Op, csrf: { token: string; cookie: string }): InjectOptions {
  const o = tenants[op.side];
  const pk = pickOf(o.userPks, op.pick);
  const uuid = pickOf(o.userUUIDs, op.pick);
  const identifier = pickOf(o.tokenIdentifiers, op.pick);
  const json = (method: string, url: string, body?: unknown): InjectOptions => ({
    method: method as "GET",
    url,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    payload: body === undefined ? undefined : JSON.stringify(body),
  });
  const form = (url: string, fields: Record<string, string>, cookie: string): InjectOptions => ({
    method: "POST",
    url,
    headers: { "content-type": "application/x-www-form-urlencoded", cookie },
    payload: new URLSearchParams(fields).toString(),
  });
  const ops: (() => InjectOptions)[] = [
    () => json("GET", `/api/v3/core/users/${pk}/`),
    () =>
      json(
        "GET",
        `/api/v3/core/users/?search=${encodeURIComponent(op.side === "b" ? pickOf(o.usernames, op.pick) : op.text)}`,
      ),
    () => json("PATCH", `/api/v3/core/users/${pk}/`, { name: op.text || "renamed" }),
    () => json("DELETE", `/api/v3/core/users/${pk}/`),
    () => json("POST", `/api/v3/core/users/${pk}/set_password/`, { password: `${op.text}-New-Passw0rd` }),
    () => json("POST", `/api/v3/core/users/${pk}/recovery/`, {}),
    () => json("GET", `/api/v3/core/tokens/${identifier}/view_key/`),
    () => json("DELETE", `/api/v3/core/tokens/${identifier}/`),
    () => json("POST", "/api/v3/core/tokens/", { identifier: `made-${op.pick}`, user: pk, intent: "api" }),
    () => json("POST", `/api/v3/core/groups/${pickOf(o.groupUUIDs, op.pick)}/add_user/`, { pk }),
    () => json("GET", `/api/v3/core/groups/${pickOf(o.groupUUIDs, op.pick)}/`),
    () => json("POST", "/api/v3/core/groups/", { name: `g-${op.pick}`, users: [pk] }),
    () => json("GET", `/api/v3/authenticators/admin/all/?user=${pk}`),
    () => json("DELETE", `/api/v3/authenticators/admin/totp/${pickOf(o.deviceIds, op.pick)}/`),
    () => json("GET", "/api/v3/events/events/?page_size=100"),
    () => json("GET", `/admin/identities/${uuid}`),
    () => json("GET", `/admin/identities?credentials_identifier=${encodeURIComponent(SHARED_EMAIL)}`),
    () => json("PATCH", `/admin/identities/${uuid}`, [{ op: "replace", path: "/state", value: "inactive" }]),
    () => json("DELETE", `/admin/identities/${uuid}`),
    () => json("POST", "/admin/recovery/code", { identity_id: uuid }),
    () => json("POST", "/admin/recovery/link", { identity_id: uuid }),
    // Recoveries at A's host with the other side's secrets, and by the address both tenants hold.
    () => ({
      method: "GET",
      url: `/if/flow/default-recovery-flow/?flow_token=${encodeURIComponent(pickOf(o.linkTokens, 0))}`,
    }),
    () => ({ method: "GET", url: `/recovery/use-token/${encodeURIComponent(pickOf(o.keyTokens, 0))}/` }),
    () => form("/if/recovery/request/", { csrf_token: csrf.token, email: SHARED_EMAIL }, csrf.cookie),
    () =>
      json("POST", `/self-service/recovery?flow=${o.codeFlow.flowId}`, {
        method: "code",
        code: o.codeFlow.code,
      }),
    () =>
      form(
        "/if/login/",
        { csrf_token: csrf.token, identifier: pickOf(o.usernames, op.pick), password: PASSWORD },
        csrf.cookie,
      ),
    // The other side's credentials replayed at A's host.
    () => ({
      method: "GET",
      url: "/api/v3/core/users/me/",
      headers: { authorization: `Bearer ${pickOf(o.tokenKeys, op.pick)}` },
    }),
    () => ({ method: "GET", url: "/sessions/whoami", headers: { "x-session-token": o.sessionToken } }),
    () => ({ method: "GET", url: "/if/user/", headers: { cookie: o.pageCookie } }),
  ];
  const request = pickOf(ops, op.kind)();
  return { ...request, headers: { ...request.headers, host: HOST_A } };
}

export const OPERATION_COUNT = 29;

const opArbitrary: fc.Arbitrary<Op> = fc.record({
  kind: fc.nat({ max: OPERATION_COUNT - 1 }),
  side: fc.constantFrom<Side>("a", "b", "b"),
  pick: fc.nat({ max: 7 }),
  text: fc.string({ maxLength: 12 }),
});

/** A CSRF token and its cookie from A's forgot-password page, for the form operations. */
async function pageCSRF(tenants: Tenants): Promise<{ token: string; cookie: string }> {
  const page = await tenants.rekey.app.inject({
    method: "GET",
    url: "/if/recovery/request/",
    headers: { host: HOST_A },
  });
  return {
    token: /name="csrf_token" value="([^"]+)"/.exec(page.body)![1]!,
    cookie: page.cookies.map((c) => `${c.name}=${c.value}`).join("; "),
  };
}

/** Everything a request carried, raw and decoded: what its answer may echo back. */
function carried(request: InjectOptions): string {
  const raw = `${request.url} ${String(request.payload ?? "")} ${JSON.stringify(request.headers)}`;
  return `${raw} ${decodeURIComponent(raw.replace(/%(?![0-9a-f]{2})/gi, "%25"))}`;
}

/**
 * A's answer names no B object A was not told about, and no B secret but one sent in this request
 * (a form shows back the identifier typed in; A's audit log records usernames A was sent before).
 */
function assertNamesNoB(
  tenants: Tenants,
  told: Set<string>,
  request: InjectOptions,
  response: LightMyRequestResponse,
): void {
  const sent = carried(request);
  for (const name of tenants.bNames) if (sent.includes(name)) told.add(name);
  const answer = `${JSON.stringify(response.headers)}\n${response.body}`;
  const forbidden = [
    ...tenants.bNames.filter((name) => !told.has(name)),
    ...tenants.bSecrets.filter((s) => !sent.includes(s)),
  ];
  for (const secret of forbidden) {
    assert.ok(
      !answer.includes(secret),
      `A's answer names B's "${secret}": ${request.method} ${request.url} → ${response.statusCode} ${response.body.slice(0, 400)}`,
    );
  }
}

export async function checkTenantIsolation(t: TestContext, dialect: Dialect, runs: number): Promise<void> {
  const rekey = await testApp(t, dialect);
  const tenants = await twoTenants(rekey);
  const csrf = await pageCSRF(tenants);
  const bBefore = await tenantState(rekey, tenants.bId);
  // B holds what the property is about, so an unchanged B means something.
  for (const table of [
    "user",
    "token",
    "group",
    "group_member",
    "totp_device",
    "session",
    "recovery_flow",
    "recovery_code",
    "event",
  ]) {
    assert.ok((bBefore[table]?.length ?? 0) > 0, `tenant B has rows in "${table}"`);
  }
  const told = new Set<string>();
  const outcomes = { a: { ok: 0, refused: 0 }, b: { ok: 0, refused: 0 } };
  await fc.assert(
    fc.asyncProperty(fc.array(opArbitrary, { minLength: 1, maxLength: 12 }), async (ops) => {
      for (const op of ops) {
        const request = requestOf(tenants, op, csrf);
        const response = await rekey.app.inject(request);
        assert.ok(
          response.statusCode < 500,
          `${request.method} ${request.url} → ${response.statusCode} ${response.body}`,
        );
        outcomes[op.side][response.statusCode < 400 ? "ok" : "refused"] += 1;
        assertNamesNoB(tenants, told, request, response);
      }
      const bAfter = await tenantState(rekey, tenants.bId);
      for (const table of Object.keys(bBefore)) {
        assert.deepEqual(
          bAfter[table],
          bBefore[table],
          `tenant B's "${table}" changed after ${JSON.stringify(ops)}`,
        );
      }
    }),
    { numRuns: runs, endOnFailure: true, includeErrorInReport: true },
  );
  t.diagnostic(
    `${dialect}: operations naming A's objects ${JSON.stringify(outcomes.a)}, naming B's ${JSON.stringify(outcomes.b)}`,
  );
  // The runs did real work in A, and B's objects really exist for B: the isolation is not vacuous.
  assert.ok(outcomes.a.ok > 0, "some operations on A's own objects succeeded");
  const own = await rekey.app.inject({
    method: "GET",
    url: `/api/v3/core/tokens/${tenants.b.tokenIdentifiers[0]}/`,
    headers: { host: tenants.hostB, authorization: `Bearer ${tenants.b.tokenKeys[0]}` },
  });
  assert.ok(
    own.statusCode === 200 || own.statusCode === 403,
    `B's token is still known in B: ${own.statusCode}`,
  );
  const me = await rekey.app.inject({
    method: "GET",
    url: "/api/v3/core/users/me/",
    headers: { host: tenants.hostB, authorization: `Bearer ${tenants.b.tokenKeys[0]}` },
  });
  assert.equal(me.statusCode, 200, `B's key works at B's host: ${me.body}`);
}
