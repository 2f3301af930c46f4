import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixedClock } from "../../src/clock.js";
import { TENANTS_KEY } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  adminCodeFlow,
  CODE_INVALID,
  createIdentity,
  csrfOf,
  defaultTenantId,
  fetchFlow,
  flowAfter,
  harness,
  KratosClient,
  messageIds,
  MODES,
  P,
  signInWithPassword,
  startRecovery,
  submitCode,
  submitEmail,
  TOO_OFTEN,
} from "./helpers.js";
import type { LightMyRequestResponse } from "fastify";

const PASSWORD = "correct-horse-battery-1";

/** A flow in `sent_email` for jane, and the code mailed to her. */
async function codeSent(
  h: Awaited<ReturnType<typeof harness>>,
  client: KratosClient,
): Promise<{ flow: Record<string, any>; code: string }> {
  const started = await startRecovery(client);
  const flow = await flowAfter(client, await submitEmail(client, started, "jane@example.com"));
  return { flow, code: await h.codeFor("jane@example.com") };
}

function wrongCode(code: string): string {
  return code === "000000" ? "111111" : "000000";
}

/** The new flow a retry sends the client to: from the redirect (browser) or continue_with (JSON). */
async function retriedFlow(
  client: KratosClient,
  response: LightMyRequestResponse,
  status: number,
  reason: string,
): Promise<Record<string, any>> {
  if (client.mode === "browser") {
    assert.equal(response.statusCode, 303, response.body);
    const location = new URL(String(response.headers["location"]));
    assert.equal(location.pathname, "/ui/recovery");
    return fetchFlow(client, "recovery", location.searchParams.get("flow")!);
  }
  assert.equal(response.statusCode, status, response.body);
  const body = response.json();
  assert.equal(body.error.reason, reason);
  assert.equal(body.error.details.continue_with.length, 1);
  assert.equal(body.error.details.continue_with[0].action, "show_recovery_ui");
  return fetchFlow(client, "recovery", body.error.details.continue_with[0].flow.id);
}

for (const dialect of DIALECTS) {
  describe(`recovery code redemption on ${dialect}`, () => {
    for (const mode of MODES) {
      test(`${mode}: five wrong codes answer 4060006 on the same flow; the sixth submission, even right, starts over`, async (t) => {
        const h = await harness(t, dialect);
        await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
        const client = new KratosClient(h.rekey, mode);
        const { flow, code } = await codeSent(h, client);
        for (let i = 0; i < 5; i++) {
          const response = await submitCode(client, flow, wrongCode(code));
          if (mode !== "browser") assert.equal(response.statusCode, 200, response.body);
          const shown = await flowAfter(client, response);
          assert.equal(shown.id, flow.id);
          assert.equal(shown.state, "sent_email");
          assert.deepEqual(shown.ui.messages, [{ id: 4060006, text: CODE_INVALID, type: "error" }]);
        }
        const sixth = await submitCode(client, flow, code);
        const fresh = await retriedFlow(client, sixth, 400, TOO_OFTEN);
        assert.notEqual(fresh.id, flow.id);
        assert.equal(fresh.state, "choose_method");
        assert.deepEqual(fresh.ui.messages, [
          { id: 4000001, text: TOO_OFTEN, type: "error", context: { reason: TOO_OFTEN } },
        ]);
        assert.ok(fresh.ui.nodes.some((n: any) => n.attributes.name === "email"));
        if (mode !== "browser") {
          assert.deepEqual(Object.keys(sixth.json().error), [
            "code",
            "status",
            "reason",
            "details",
            "message",
          ]);
          assert.equal(
            sixth.json().error.message,
            "The request was malformed or contained invalid parameters",
          );
        }
      });

      test(`${mode}: a wrong code then the right one recovers; the flow shows one 4060006, none on the code node`, async (t) => {
        const h = await harness(t, dialect);
        await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
        const client = new KratosClient(h.rekey, mode);
        const { flow, code } = await codeSent(h, client);
        await submitCode(client, flow, wrongCode(code));
        const shown = await fetchFlow(client, "recovery", flow.id);
        assert.deepEqual(messageIds(shown), [4060006]);
        assert.deepEqual(shown.ui.nodes.find((n: any) => n.attributes.name === "code").messages, []);
        const right = await submitCode(client, shown, code);
        assert.equal(right.statusCode, mode === "browser" ? 303 : 200, right.body);
        if (mode === "browser")
          assert.match(String(right.headers["location"]), new RegExp(`^${P}/ui/settings\\?flow=`));
      });

      test(`${mode}: an identity deactivated after the code was sent cannot recover`, async (t) => {
        const h = await harness(t, dialect);
        const jane = await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
        const client = new KratosClient(h.rekey, mode);
        const { flow, code } = await codeSent(h, client);
        const patched = await h.rekey.api("PATCH", `/api/v3/core/users/${jane.pk}/`, { is_active: false });
        assert.equal(patched.statusCode, 200, patched.body);
        const response = await submitCode(client, flow, code);
        const fresh = await retriedFlow(client, response, 400, "This account was disabled.");
        assert.deepEqual(fresh.ui.messages, [
          {
            id: 4010011,
            text: "This account has been disabled. Please contact support for assistance.",
            type: "error",
          },
        ]);
        if (mode !== "browser") {
          const error = response.json().error;
          assert.equal(error.id, "identity_disabled");
          assert.equal(error.message, "identity is disabled");
          assert.equal(response.headers["ory-error-id"], "identity_disabled");
        }
        assert.equal(client.cookies.has("ory_kratos_session"), false);
      });
    }

    test("a code past its own expiry is a wrong code even while its flow lives", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:00.000Z"));
      const h = await harness(t, dialect, { clock });
      const jane = await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const admin = await adminCodeFlow(h.rekey, jane.pk, {
        expiresInMs: 2 * 3_600_000,
        codeExpiresInMs: 60_000,
      });
      clock.advance(2 * 60_000);
      const response = await new KratosClient(h.rekey, "api").submit(
        `/self-service/recovery?flow=${admin.flowId}`,
        { code: admin.code },
      );
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json().ui.messages, [{ id: 4060006, text: CODE_INVALID, type: "error" }]);
    });

    test("a flow and its code are unusable from another tenant's host", async (t) => {
      const h = await harness(t, dialect);
      const jane = await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const admin = await adminCodeFlow(h.rekey, jane.pk, { type: "api" });
      const auth = { token: TENANTS_KEY };
      const tenant = await h.rekey.api(
        "POST",
        "/api/v3/tenants/tenants/",
        { schema_name: "t_b", name: "B" },
        auth,
      );
      assert.equal(tenant.statusCode, 201, tenant.body);
      const domain = await h.rekey.api(
        "POST",
        "/api/v3/tenants/domains/",
        { domain: "b.example.com", tenant: tenant.json().tenant_uuid },
        auth,
      );
      assert.equal(domain.statusCode, 201, domain.body);
      const elsewhere = { host: "b.example.com", accept: "application/json" };
      const read = await h.rekey.app.inject({
        method: "GET",
        url: `/self-service/recovery/flows?id=${admin.flowId}`,
        headers: elsewhere,
      });
      assert.equal(read.statusCode, 404);
      const submitted = await h.rekey.app.inject({
        method: "POST",
        url: `/self-service/recovery?flow=${admin.flowId}`,
        headers: { ...elsewhere, "content-type": "application/json" },
        payload: JSON.stringify({ code: admin.code }),
      });
      assert.equal(submitted.statusCode, 404, submitted.body);
      const own = await h.rekey.app.inject({
        method: "GET",
        url: "/self-service/recovery/api",
        headers: elsewhere,
      });
      assert.equal(own.json().ui.action, `http://b.example.com/self-service/recovery?flow=${own.json().id}`);
      const home = await new KratosClient(h.rekey, "api").submit(
        `/self-service/recovery?flow=${admin.flowId}`,
        { code: admin.code },
      );
      assert.equal(home.statusCode, 200, "the code still works in its own tenant");
    });

    test("an empty code is just a wrong code: 4060006 and nothing else", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const client = new KratosClient(h.rekey, "api");
      const { flow } = await codeSent(h, client);
      const response = await client.submit(flow.ui.action, { method: "code", code: "" });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json().ui.messages, [{ id: 4060006, text: CODE_INVALID, type: "error" }]);
    });

    test("a code already used starts over with 'The code was already used.'", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const client = new KratosClient(h.rekey, "api");
      const { flow, code } = await codeSent(h, client);
      const stores = h.rekey.deps.persistence.stores;
      const tenantId = await defaultTenantId(h.rekey);
      const [stored] = await stores.selfServiceRecovery.listRecoveryCodes(tenantId, flow.id);
      assert.ok(await stores.selfServiceRecovery.useRecoveryCode(tenantId, stored!.id, new Date()));
      const response = await submitCode(client, flow, code);
      await retriedFlow(client, response, 400, "The code was already used. Please request another code.");
    });

    test("a flow that passed its challenge cannot be submitted again (4060001)", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const client = new KratosClient(h.rekey, "api");
      const { flow, code } = await codeSent(h, client);
      assert.equal((await submitCode(client, flow, code)).statusCode, 200);
      const again = await submitCode(client, flow, code);
      const fresh = await retriedFlow(
        client,
        again,
        400,
        "The request was already completed successfully and can not be retried.",
      );
      assert.deepEqual(messageIds(fresh), [4060001]);
      client.sessionToken = null;
      const email = await client.submit(flow.ui.action, { method: "code", email: "jane@example.com" });
      assert.equal(email.statusCode, 400, "submitting an address to a completed flow is a 400, not a crash");
    });

    for (const revoke of [true, false]) {
      test(`other sessions are ${revoke ? "ended" : "kept"} after a recovery with REKEY_RECOVERY_REVOKE_SESSIONS=${revoke}`, async (t) => {
        const h = await harness(t, dialect, { env: { REKEY_RECOVERY_REVOKE_SESSIONS: String(revoke) } });
        await createIdentity(h.rekey, "jane", { email: "jane@example.com", password: PASSWORD });
        const attacker = new KratosClient(h.rekey, "api");
        await signInWithPassword(attacker, "jane@example.com", PASSWORD);
        assert.equal((await attacker.get("/sessions/whoami")).statusCode, 200);
        const owner = new KratosClient(h.rekey, "api");
        const { flow, code } = await codeSent(h, owner);
        const recovered = await submitCode(owner, flow, code);
        assert.equal(recovered.statusCode, 200, recovered.body);
        owner.sessionToken = recovered.json().continue_with[0].ory_session_token;
        assert.equal((await attacker.get("/sessions/whoami")).statusCode, revoke ? 401 : 200);
        assert.equal((await owner.get("/sessions/whoami")).statusCode, 200);
      });
    }

    test("a browser recovery's settings flow carries the return_to of the recovery init", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const client = new KratosClient(h.rekey, "spa");
      const started = await startRecovery(client, `?return_to=${encodeURIComponent(`${P}/app/welcome`)}`);
      assert.equal(started.return_to, `${P}/app/welcome`);
      await submitEmail(client, started, "jane@example.com");
      const sent = await fetchFlow(client, "recovery", started.id);
      const response = await submitCode(client, sent, await h.codeFor("jane@example.com"));
      const settingsId = response.json().continue_with[0].flow.id;
      const settings = await fetchFlow(client, "settings", settingsId);
      assert.equal(settings.return_to, `${P}/app/welcome`);
      assert.equal(csrfOf(settings).length > 0, true);
    });

    test("skip_settings=true recovers without a settings flow", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const browser = new KratosClient(h.rekey, "browser");
      const { flow, code } = await (async () => {
        const started = await startRecovery(browser, "?skip_settings=true");
        await submitEmail(browser, started, "jane@example.com");
        return {
          flow: await fetchFlow(browser, "recovery", started.id),
          code: await h.codeFor("jane@example.com"),
        };
      })();
      assert.match(flow.request_url, /skip_settings=true/);
      const response = await submitCode(browser, flow, code);
      assert.equal(response.statusCode, 303);
      assert.equal(response.headers["location"], `${P}/ui/settings`);
      assert.ok(browser.cookies.has("ory_kratos_session"));
    });
  });
}
