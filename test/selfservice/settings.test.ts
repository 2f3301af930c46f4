import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixedClock } from "../../src/clock.js";
import { DIALECTS } from "../support/databases.js";
import {
  createIdentity,
  csrfOf,
  fetchFlow,
  flowAfter,
  type Harness,
  harness,
  KratosClient,
  type Mode,
  MODES,
  P,
  signInWithPassword,
  startRecovery,
  submitCode,
  submitEmail,
} from "./helpers.js";

const NOW = new Date("2026-03-01T12:00:00.000Z");
const MINUTE = 60_000;
const OLD_PASSWORD = "old-Secret-password-1";
const NEW_PASSWORD = "n3w-Secret-pass-word";

/** Recovers jane with a mailed code; returns her client (signed in) and the settings flow. */
async function recovered(
  h: Harness,
  mode: Mode,
): Promise<{ client: KratosClient; settings: Record<string, any> }> {
  const client = new KratosClient(h.rekey, mode);
  const flow = await startRecovery(client);
  const sent = await flowAfter(client, await submitEmail(client, flow, "jane@example.com"));
  const response = await submitCode(client, sent, await h.codeFor("jane@example.com"));
  let settingsId: string;
  if (mode === "browser") {
    settingsId = new URL(String(response.headers["location"])).searchParams.get("flow")!;
  } else {
    const continueWith = response.json().continue_with as any[];
    if (mode === "api") client.sessionToken = continueWith[0].ory_session_token;
    settingsId = continueWith[continueWith.length - 1].flow.id;
  }
  return { client, settings: await fetchFlow(client, "settings", settingsId) };
}

function passwordMessages(flow: Record<string, any>): unknown[] {
  return flow.ui.nodes.find((n: any) => n.attributes.name === "password").messages;
}

async function submitPassword(client: KratosClient, settings: Record<string, any>, password: string) {
  return client.submit(settings.ui.action, { method: "password", password, csrf_token: csrfOf(settings) });
}

for (const dialect of DIALECTS) {
  describe(`settings flow on ${dialect}`, () => {
    for (const mode of MODES) {
      test(`${mode}: after recovery a new password is saved (1050001), works, and password_set is logged`, async (t) => {
        const h = await harness(t, dialect);
        await createIdentity(h.rekey, "jane", { email: "jane@example.com", password: OLD_PASSWORD });
        const { client, settings } = await recovered(h, mode);
        assert.deepEqual(Object.keys(settings), [
          "id",
          "type",
          "expires_at",
          "issued_at",
          "request_url",
          "ui",
          "identity",
          "state",
        ]);
        assert.equal(settings.state, "show_form");
        // The password part; the totp and lookup_secret parts follow (settings-mfa.test.ts).
        assert.deepEqual(
          settings.ui.nodes
            .filter((n: any) => ["default", "password"].includes(n.group))
            .map((n: any) => [n.group, n.attributes.name, n.attributes.type, n.meta.label?.id ?? null]),
          [
            ["default", "csrf_token", "hidden", null],
            ["password", "password", "password", 1070001],
            ["password", "method", "submit", 1070003],
          ],
        );
        assert.equal(settings.identity.traits.email, "jane@example.com");
        assert.equal(settings.identity.credentials, undefined);
        const response = await submitPassword(client, settings, NEW_PASSWORD);
        const saved = await flowAfter(client, response, "settings");
        if (mode !== "browser") assert.equal(response.statusCode, 200, response.body);
        assert.equal(saved.state, "success");
        assert.deepEqual(saved.ui.messages, [
          { id: 1050001, text: "Your changes have been saved!", type: "success" },
        ]);
        if (mode === "spa") {
          assert.deepEqual(response.json().continue_with, [
            { action: "redirect_browser_to", redirect_browser_to: `${P}/ui/settings?flow=${settings.id}` },
          ]);
        }
        if (mode === "api") assert.equal(response.json().continue_with, undefined);
        await signInWithPassword(new KratosClient(h.rekey, "api"), "jane@example.com", NEW_PASSWORD);
        const events = await h.rekey.api("GET", "/api/v3/events/events/?action=password_set");
        const viaSettings = (events.json().results as any[]).filter(
          (event) => event.context.via === "settings",
        );
        assert.equal(viaSettings.length, 1);
        assert.equal(viaSettings[0].user.username, "jane");
      });
    }

    test("the password policy answers on the password node: empty, short, long, like the email, unchanged", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com", password: OLD_PASSWORD });
      const { client, settings } = await recovered(h, "api");
      const cases: [string, unknown][] = [
        [
          "",
          {
            id: 4000002,
            text: "Property password is missing.",
            type: "error",
            context: { property: "password" },
          },
        ],
        [
          "short12",
          {
            id: 4000032,
            text: "The password must be at least 8 characters long, but got 7.",
            type: "error",
            context: { min_length: 8, actual_length: 7 },
          },
        ],
        [
          "x".repeat(1100),
          {
            id: 4000033,
            text: "The password must be at most 1024 characters long, but got 1100.",
            type: "error",
            context: { max_length: 1024, actual_length: 1100 },
          },
        ],
        [
          "jane@example.co",
          {
            id: 4000031,
            text: "The password can not be used because it is too similar to the identifier.",
            type: "error",
          },
        ],
        [
          OLD_PASSWORD,
          { id: 4000039, text: "The new password must be different from the old password.", type: "error" },
        ],
      ];
      for (const [password, message] of cases) {
        const response = await submitPassword(client, settings, password);
        assert.equal(response.statusCode, 400, response.body);
        assert.deepEqual(passwordMessages(response.json()), [message]);
        assert.equal(response.json().ui.messages, undefined);
      }
    });

    test("a browser form refused by the policy comes back to the same flow with the message", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const { client, settings } = await recovered(h, "browser");
      const response = await submitPassword(client, settings, "short12");
      assert.equal(response.statusCode, 303);
      assert.equal(response.headers["location"], `${P}/ui/settings?flow=${settings.id}`);
      const page = await client.get(`/ui/settings?flow=${settings.id}`);
      assert.match(page.body, /data-message-id="4000032"/);
    });

    for (const mode of ["api", "browser"] as const) {
      test(`${mode}: a session authenticated over an hour ago may not change the password`, async (t) => {
        const clock = fixedClock(NOW);
        const h = await harness(t, dialect, { clock, env: { REKEY_SESSION_IDLE_TIMEOUT: "86400" } });
        await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
        const { client } = await recovered(h, mode);
        clock.advance(61 * MINUTE);
        const init = await client.get(
          mode === "api" ? "/self-service/settings/api" : "/self-service/settings/browser",
        );
        const settings =
          mode === "api"
            ? init.json()
            : await fetchFlow(
                client,
                "settings",
                new URL(String(init.headers["location"])).searchParams.get("flow")!,
              );
        const response = await submitPassword(client, settings, NEW_PASSWORD);
        if (mode === "browser") {
          assert.equal(response.statusCode, 303);
          assert.equal(response.headers["location"], `${P}/ui/recovery`);
          return;
        }
        assert.equal(response.statusCode, 403);
        assert.deepEqual(response.json(), {
          error: {
            id: "session_refresh_required",
            code: 403,
            status: "Forbidden",
            reason:
              "The login session is too old and thus not allowed to update these fields. Please re-authenticate.",
            message: "The requested action was forbidden",
          },
          redirect_browser_to: `${P}/ui/recovery`,
        });
      });
    }

    test("an expired settings flow is replaced: 410 for API clients, a new flow with 4050001 for browsers", async (t) => {
      const clock = fixedClock(NOW);
      // Two recoveries of one identity: the second must not end the first one's session.
      const h = await harness(t, dialect, {
        clock,
        env: { REKEY_SESSION_IDLE_TIMEOUT: "86400", REKEY_RECOVERY_REVOKE_SESSIONS: "false" },
      });
      await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const api = await recovered(h, "api");
      const browser = await recovered(h, "browser");
      clock.advance(61.5 * MINUTE);
      const apiResponse = await submitPassword(api.client, api.settings, NEW_PASSWORD);
      assert.equal(apiResponse.statusCode, 410, apiResponse.body);
      assert.equal(apiResponse.json().error.id, "self_service_flow_expired");
      const browserResponse = await submitPassword(browser.client, browser.settings, NEW_PASSWORD);
      assert.equal(browserResponse.statusCode, 303);
      const fresh = await fetchFlow(
        browser.client,
        "settings",
        new URL(String(browserResponse.headers["location"])).searchParams.get("flow")!,
      );
      assert.equal(fresh.ui.messages[0].id, 4050001);
      assert.equal(
        fresh.ui.messages[0].text,
        "The settings flow expired 1.50 minutes ago, please try again.",
      );
    });

    test("without a session: 401 session_inactive for JSON, the recovery UI for browsers", async (t) => {
      const { rekey } = await harness(t, dialect);
      const api = await new KratosClient(rekey, "api").get("/self-service/settings/api");
      assert.equal(api.statusCode, 401);
      assert.deepEqual(api.json(), {
        error: {
          id: "session_inactive",
          code: 401,
          status: "Unauthorized",
          reason: "No active session was found in this request.",
          message: "request does not have a valid authentication session",
        },
      });
      const browser = await new KratosClient(rekey, "browser").get("/self-service/settings/browser");
      assert.equal(browser.statusCode, 303);
      assert.equal(browser.headers["location"], `${P}/ui/recovery`);
    });

    test("a settings flow is read with the session as X-Session-Token, cookie or Bearer; another identity's is refused", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com", password: OLD_PASSWORD });
      await createIdentity(h.rekey, "june", { email: "june@example.com", password: OLD_PASSWORD });
      const jane = new KratosClient(h.rekey, "api");
      await signInWithPassword(jane, "jane@example.com", OLD_PASSWORD);
      const flow = (await jane.get("/self-service/settings/api")).json();
      const token = jane.sessionToken!;
      const anonymous = new KratosClient(h.rekey, "api");
      for (const headers of [
        { "x-session-token": token },
        { authorization: `Bearer ${token}` },
        { cookie: `ory_kratos_session=${token}` },
      ] as Record<string, string>[]) {
        const response = await anonymous.get(`/self-service/settings/flows?id=${flow.id}`, headers);
        assert.equal(response.statusCode, 200, response.body);
      }
      const june = new KratosClient(h.rekey, "api");
      await signInWithPassword(june, "june@example.com", OLD_PASSWORD);
      const mismatch = await june.get(`/self-service/settings/flows?id=${flow.id}`);
      assert.equal(mismatch.statusCode, 403);
      assert.deepEqual(mismatch.json().error, {
        id: "security_identity_mismatch",
        code: 403,
        status: "Forbidden",
        reason: "The request was made for another identity and has been blocked for security reasons.",
        message: "The requested action was forbidden",
      });
      const unknown = await jane.get("/self-service/settings/flows?id=6f3e1d2c-0000-4000-8000-000000000000");
      assert.equal(unknown.statusCode, 404);
    });
  });
}
