import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sha256Hex } from "../../src/crypto/secrets.js";
import { USER_AGENT_MAX_LENGTH } from "../../src/sessions/store.js";
import { PageClient, signIn } from "../pages/helpers.js";
import { DIALECTS } from "../support/databases.js";
import {
  createIdentity,
  defaultTenantId,
  harness,
  KratosClient,
  local,
  startRecovery,
  submitCode,
  submitEmail,
} from "./helpers.js";

const PASSWORD = "correct-horse-battery-1";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The `devices` whoami answers for a session token, checked to be 200 first. */
async function devicesOf(client: KratosClient, token: string): Promise<Record<string, unknown>[]> {
  const response = await client.get("/sessions/whoami", { "x-session-token": token });
  assert.equal(response.statusCode, 200, response.body);
  return response.json().devices;
}

/** Signs in through an API login flow with the given User-Agent; returns the session token. */
async function signInAs(client: KratosClient, userAgent: string | null): Promise<string> {
  const init = await client.get("/self-service/login/api");
  assert.equal(init.statusCode, 200, init.body);
  const headers: Record<string, string> = {};
  if (userAgent !== null) headers["user-agent"] = userAgent;
  const response = await client.send("POST", local(init.json().ui.action), {
    json: { method: "password", identifier: "jane@example.com", password: PASSWORD },
    headers,
  });
  assert.equal(response.statusCode, 200, response.body);
  return response.json().session_token;
}

for (const dialect of DIALECTS) {
  describe(`session devices on ${dialect}`, () => {
    test("a password login records the client's address and User-Agent as the session's one device", async (t) => {
      const { rekey } = await harness(t, dialect);
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const client = new KratosClient(rekey, "api", { remoteAddress: "203.0.113.9" });
      const token = await signInAs(client, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0");
      // whoami from elsewhere still shows where the session was issued.
      const elsewhere = new KratosClient(rekey, "api", { remoteAddress: "198.51.100.1" });
      const devices = await devicesOf(elsewhere, token);
      assert.equal(devices.length, 1);
      const [device] = devices;
      assert.deepEqual(Object.keys(device!), ["id", "ip_address", "user_agent", "location"]);
      assert.match(String(device!["id"]), UUID);
      assert.equal(device!["ip_address"], "203.0.113.9");
      assert.equal(device!["user_agent"], "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0");
      assert.equal(device!["location"], null);
      // The record is stable: a second look gives the same device.
      assert.deepEqual(await devicesOf(elsewhere, token), devices);
    });

    test("two logins are two sessions with two device records", async (t) => {
      const { rekey } = await harness(t, dialect);
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const first = await signInAs(new KratosClient(rekey, "api", { remoteAddress: "192.0.2.1" }), "one");
      const second = await signInAs(new KratosClient(rekey, "api", { remoteAddress: "192.0.2.2" }), "two");
      const reader = new KratosClient(rekey, "api");
      const [a] = await devicesOf(reader, first);
      const [b] = await devicesOf(reader, second);
      assert.deepEqual([a!["ip_address"], a!["user_agent"]], ["192.0.2.1", "one"]);
      assert.deepEqual([b!["ip_address"], b!["user_agent"]], ["192.0.2.2", "two"]);
      assert.notEqual(a!["id"], b!["id"]);
    });

    test("no User-Agent is a null user_agent; a very long one is cut", async (t) => {
      const { rekey } = await harness(t, dialect);
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const client = new KratosClient(rekey, "api");
      // light-my-request adds its own User-Agent unless the header is present; an empty one is "none".
      const none = await signInAs(client, "");
      assert.equal((await devicesOf(client, none))[0]!["user_agent"], null);
      const long = `Agent/${"x".repeat(2000)}`;
      const cut = await signInAs(client, long);
      assert.equal((await devicesOf(client, cut))[0]!["user_agent"], long.slice(0, USER_AGENT_MAX_LENGTH));
    });

    test("a recovery by code records the device that redeemed the code", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const client = new KratosClient(h.rekey, "api", { remoteAddress: "203.0.113.50" });
      const flow = await startRecovery(client);
      const sent = await submitEmail(client, flow, "jane@example.com");
      assert.equal(sent.statusCode, 200, sent.body);
      const redeemed = await submitCode(client, sent.json(), await h.codeFor("jane@example.com"));
      assert.equal(redeemed.statusCode, 200, redeemed.body);
      const token = redeemed.json().continue_with[0].ory_session_token;
      const [device] = await devicesOf(client, token);
      assert.equal(device!["ip_address"], "203.0.113.50");
      assert.equal(device!["user_agent"], "rekey-api-tests");
    });

    test("a login on the pages records its device too", async (t) => {
      const { rekey } = await harness(t, dialect);
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const browser = await signIn(
        rekey,
        "jane",
        PASSWORD,
        new PageClient(rekey, { remoteAddress: "198.51.100.7" }),
      );
      const token = browser.cookies.get("rekey_session");
      assert.ok(token !== undefined);
      const [device] = await devicesOf(new KratosClient(rekey, "api"), token);
      assert.equal(device!["ip_address"], "198.51.100.7");
      assert.equal(device!["user_agent"], "rekey-page-tests");
    });

    test("behind a trusted proxy the device address is the forwarded client's", async (t) => {
      const { rekey } = await harness(t, dialect, { env: { REKEY_TRUST_PROXY: "true" } });
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const client = new KratosClient(rekey, "api", { remoteAddress: "10.0.0.2" });
      const init = await client.get("/self-service/login/api");
      const response = await client.send("POST", local(init.json().ui.action), {
        json: { method: "password", identifier: "jane@example.com", password: PASSWORD },
        headers: { "x-forwarded-for": "203.0.113.77" },
      });
      assert.equal(response.statusCode, 200, response.body);
      const [device] = await devicesOf(client, response.json().session_token);
      assert.equal(device!["ip_address"], "203.0.113.77");
    });

    test("a session stored without a device record answers an empty devices list", async (t) => {
      const { rekey } = await harness(t, dialect);
      const jane = await createIdentity(rekey, "jane", { email: "jane@example.com" });
      const tenantId = await defaultTenantId(rekey);
      const now = rekey.deps.clock.now();
      const token = "ory_st_0123456789abcdefghijABCDEFGHIJ01";
      // As a session issued before migration 005 reads back.
      await rekey.deps.persistence.stores.sessions.createSession(
        {
          id: rekey.deps.random.uuid(),
          tenantId,
          userId: jane.pk,
          kind: "api",
          aal: "aal1",
          authMethods: ["password"],
          authenticatedAt: now,
          issuedAt: now,
          expiresAt: new Date(now.getTime() + 3_600_000),
          lastSeenAt: now,
          device: null,
        },
        sha256Hex(token),
      );
      assert.deepEqual(await devicesOf(new KratosClient(rekey, "api"), token), []);
    });
  });
}
