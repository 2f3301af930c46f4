import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createTOTPDevice, regenerateBackupCodes } from "../../src/authenticators/service.js";
import { totpCodeAt } from "../../src/authenticators/totp.js";
import { fixedClock } from "../../src/clock.js";
import type { Audit } from "../../src/events/service.js";
import { SYSTEM_ACTOR } from "../../src/events/store.js";
import { DIALECTS } from "../support/databases.js";
import type { TestApp } from "../support/app.js";
import {
  createIdentity,
  csrfOf,
  defaultTenantId,
  fetchFlow,
  flowAfter,
  type Harness,
  harness,
  KratosClient,
  type Mode,
  P,
  startRecovery,
  submitCode,
  submitEmail,
  userOf,
} from "./helpers.js";

const NOW = new Date("2026-03-01T12:00:00.000Z");
const SECRET = Buffer.from("12345678901234567890");
const DEVICE = { digits: 6 as const, period: 30, algorithm: "sha1" as const };

async function audit(rekey: TestApp): Promise<Audit> {
  return {
    tenantId: await defaultTenantId(rekey),
    actor: SYSTEM_ACTOR,
    clientIP: null,
    httpRequest: null,
    app: "rekey.api",
  };
}

/** Jane with a confirmed TOTP device (RFC 6238's test secret). */
async function janeWithTOTP(rekey: TestApp): Promise<number> {
  const jane = await createIdentity(rekey, "jane", { email: "jane@example.com" });
  await createTOTPDevice(rekey.deps, await audit(rekey), {
    user: await userOf(rekey, jane.pk),
    name: "phone",
    ...DEVICE,
    secret: SECRET,
    confirmed: true,
  });
  return jane.pk;
}

async function recover(h: Harness, mode: Mode): Promise<{ client: KratosClient; settingsId: string }> {
  const client = new KratosClient(h.rekey, mode);
  const sent = await flowAfter(
    client,
    await submitEmail(client, await startRecovery(client), "jane@example.com"),
  );
  const response = await submitCode(client, sent, await h.codeFor("jane@example.com"));
  if (mode === "browser") {
    return { client, settingsId: new URL(String(response.headers["location"])).searchParams.get("flow")! };
  }
  const continueWith = response.json().continue_with as any[];
  if (mode === "api") client.sessionToken = continueWith[0].ory_session_token;
  return { client, settingsId: continueWith[continueWith.length - 1].flow.id };
}

const AAL2_REASON =
  "An active session was found but it does not fulfill the requested Authenticator Assurance Level. Please verify yourself with a second factor to resolve this issue.";

for (const dialect of DIALECTS) {
  describe(`second factors after recovery on ${dialect}`, () => {
    test("with TOTP enrolled, whoami after recovery is 403 session_aal2_required", async (t) => {
      const h = await harness(t, dialect);
      await janeWithTOTP(h.rekey);
      const { client } = await recover(h, "api");
      const response = await client.get("/sessions/whoami");
      assert.equal(response.statusCode, 403, response.body);
      const redirect = `${P}/ui/login?aal=aal2&return_to=${encodeURIComponent(`${P}/ui/settings`)}`;
      assert.deepEqual(response.json(), {
        error: {
          id: "session_aal2_required",
          code: 403,
          status: "Forbidden",
          reason: AAL2_REASON,
          details: { redirect_browser_to: redirect },
          message: "Session does not fulfill the requested Authenticator Assurance Level",
        },
        redirect_browser_to: redirect,
      });
    });

    test("with TOTP enrolled, settings needs the step-up page; a right code there makes the session aal2", async (t) => {
      const clock = fixedClock(NOW);
      const h = await harness(t, dialect, { clock });
      await janeWithTOTP(h.rekey);
      const { client, settingsId } = await recover(h, "browser");
      const blocked = await client.get(`/ui/settings?flow=${settingsId}`);
      assert.equal(blocked.statusCode, 303);
      const stepUp = String(blocked.headers["location"]);
      assert.match(stepUp, /\/ui\/login\?aal=aal2&return_to=/);
      const page = await client.get(stepUp);
      assert.equal(page.statusCode, 200, page.body);
      assert.equal(page.headers["referrer-policy"], "no-referrer");
      const csrf = /name="csrf_token" value="([^"]+)"/.exec(page.body)![1]!;
      const action = /<form method="post" action="([^"]+)"/.exec(page.body)![1]!.replace(/&amp;/g, "&");
      const wrong = await client.send("POST", action, { form: { csrf_token: csrf, totp_code: "000000" } });
      assert.equal(wrong.statusCode, 200);
      assert.match(wrong.body, /data-message-id="4901010">Invalid code\./);
      const code = totpCodeAt(DEVICE, SECRET, clock.now());
      const right = await client.send("POST", action, {
        form: { csrf_token: /name="csrf_token" value="([^"]+)"/.exec(wrong.body)![1]!, totp_code: code },
      });
      assert.equal(right.statusCode, 303, right.body);
      assert.equal(right.headers["location"], `${P}/ui/settings?flow=${settingsId}`);
      const whoami = await client.get("/sessions/whoami", { accept: "application/json" });
      assert.equal(whoami.statusCode, 200, whoami.body);
      assert.equal(whoami.json().authenticator_assurance_level, "aal2");
      assert.deepEqual(
        whoami.json().authentication_methods.map((m: any) => [m.method, m.aal]),
        [
          ["code_recovery", "aal1"],
          ["totp", "aal2"],
        ],
      );
      assert.equal((await client.get(`/ui/settings?flow=${settingsId}`)).statusCode, 200);
    });

    test("an API client steps up through an aal2 login flow with TOTP, keeping its token", async (t) => {
      const clock = fixedClock(NOW);
      const h = await harness(t, dialect, { clock });
      await janeWithTOTP(h.rekey);
      const { client } = await recover(h, "api");
      const response = await client.get("/self-service/login/api?aal=aal2");
      assert.equal(response.statusCode, 200, response.body);
      const flow = response.json();
      assert.equal(flow.requested_aal, "aal2");
      assert.deepEqual(
        flow.ui.messages.map((m: any) => m.id),
        [1010004],
      );
      assert.deepEqual(
        flow.ui.nodes.map((n: any) => n.attributes.name),
        ["csrf_token", "totp_code", "method"],
      );
      const wrong = await client.submit(flow.ui.action, { method: "totp", totp_code: "000000" });
      assert.equal(wrong.statusCode, 400);
      assert.deepEqual(wrong.json().ui.messages, [
        {
          id: 4000008,
          text: "The provided authentication code is invalid, please try again.",
          type: "error",
        },
      ]);
      const right = await client.submit(flow.ui.action, {
        method: "totp",
        totp_code: totpCodeAt(DEVICE, SECRET, clock.now()),
      });
      assert.equal(right.statusCode, 200, right.body);
      assert.equal(right.json().session_token, client.sessionToken);
      assert.equal(right.json().session.authenticator_assurance_level, "aal2");
      assert.equal((await client.get("/sessions/whoami")).statusCode, 200);
    });

    test("a backup code steps up once (lookup_secret); the same code is refused afterwards", async (t) => {
      const h = await harness(t, dialect);
      const pk = await createIdentity(h.rekey, "jane", { email: "jane@example.com" }).then((jane) => jane.pk);
      const { codes } = await regenerateBackupCodes(
        h.rekey.deps,
        await audit(h.rekey),
        await userOf(h.rekey, pk),
      );
      const { client } = await recover(h, "api");
      const flow = (await client.get("/self-service/login/api?aal=aal2")).json();
      assert.deepEqual(
        flow.ui.nodes.map((n: any) => n.attributes.name),
        ["csrf_token", "lookup_secret", "method"],
      );
      const right = await client.submit(flow.ui.action, { method: "lookup_secret", lookup_secret: codes[0] });
      assert.equal(right.statusCode, 200, right.body);
      const again = await client.get("/self-service/login/api?aal=aal2");
      assert.equal(again.statusCode, 401, "an aal2 session has the highest level already");
      const other = new KratosClient(h.rekey, "api");
      other.sessionToken = (await recover(h, "api")).client.sessionToken;
      const second = (await other.get("/self-service/login/api?aal=aal2")).json();
      const reused = await other.submit(second.ui.action, {
        method: "lookup_secret",
        lookup_secret: codes[0],
      });
      assert.equal(reused.statusCode, 400);
      assert.deepEqual(reused.json().ui.messages, [
        { id: 4000016, text: "The backup recovery code is not valid.", type: "error" },
      ]);
      assert.equal(csrfOf(second), "");
    });

    test("the browser aal2 login UI renders the identity's second factor", async (t) => {
      const h = await harness(t, dialect);
      await janeWithTOTP(h.rekey);
      const { client } = await recover(h, "browser");
      const init = await client.get("/self-service/login/browser?aal=aal2");
      assert.equal(init.statusCode, 303, init.body);
      const location = new URL(String(init.headers["location"]));
      const flow = await fetchFlow(client, "login", location.searchParams.get("flow")!);
      assert.deepEqual(
        flow.ui.nodes.map((n: any) => n.attributes.name),
        ["csrf_token", "totp_code", "method"],
      );
      const page = await client.get(`${location.pathname}${location.search}`);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /name="totp_code"/);
    });
  });
}
