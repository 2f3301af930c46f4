import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixedClock } from "../../src/clock.js";
import { DIALECTS } from "../support/databases.js";
import {
  createIdentity,
  csrfOf,
  fetchFlow,
  harness,
  KratosClient,
  MODES,
  P,
  signInWithPassword,
  startLogin,
} from "./helpers.js";

const PASSWORD = "correct-horse-battery-1";
const LOGIN_FAILED = {
  id: 4000006,
  text: "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.",
  type: "error",
};
const NOW = new Date("2026-03-01T12:00:00.000Z");

function login(client: KratosClient, flow: Record<string, any>, identifier: string, password: string) {
  return client.submit(flow.ui.action, {
    method: "password",
    identifier,
    password,
    csrf_token: csrfOf(flow),
  });
}

for (const dialect of DIALECTS) {
  describe(`login flow on ${dialect}`, () => {
    for (const mode of MODES) {
      test(`${mode}: the password form signs in at aal1`, async (t) => {
        const { rekey } = await harness(t, dialect);
        const jane = await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
        const client = new KratosClient(rekey, mode);
        const flow = await startLogin(client);
        assert.deepEqual(Object.keys(flow), [
          "id",
          "type",
          "expires_at",
          "issued_at",
          "request_url",
          "refresh",
          "requested_aal",
          "state",
          "ui",
          "created_at",
          "updated_at",
        ]);
        assert.equal(flow.type, mode === "api" ? "api" : "browser");
        assert.equal(flow.requested_aal, "aal1");
        assert.equal(flow.refresh, false);
        assert.equal(flow.state, "choose_method");
        assert.equal(flow.ui.action, `${P}/self-service/login?flow=${flow.id}`);
        assert.deepEqual(
          flow.ui.nodes.map((n: any) => [
            n.group,
            n.attributes.name,
            n.attributes.type,
            n.meta.label?.id ?? null,
          ]),
          [
            ["default", "csrf_token", "hidden", null],
            ["default", "identifier", "text", 1070004],
            ["password", "password", "password", 1070001],
            ["password", "method", "submit", 1010001],
          ],
        );
        const response = await login(client, flow, "Jane@Example.com", PASSWORD);
        if (mode === "browser") {
          assert.equal(response.statusCode, 303, response.body);
          assert.equal(response.headers["location"], `${P}/ui/settings`);
          assert.ok(client.cookies.has("ory_kratos_session"));
        } else if (mode === "spa") {
          assert.equal(response.statusCode, 200, response.body);
          assert.deepEqual(Object.keys(response.json()), ["session", "continue_with"]);
          assert.deepEqual(response.json().continue_with, [
            { action: "redirect_browser_to", redirect_browser_to: `${P}/ui/settings` },
          ]);
        } else {
          assert.equal(response.statusCode, 200, response.body);
          const body = response.json();
          assert.deepEqual(Object.keys(body), ["session_token", "session"]);
          assert.match(body.session_token, /^ory_st_[A-Za-z0-9]{32}$/);
          assert.equal(body.session.authenticator_assurance_level, "aal1");
          assert.deepEqual(
            body.session.authentication_methods.map((m: any) => m.method),
            ["password"],
          );
          assert.equal(body.session.identity.id, jane.uuid);
          client.sessionToken = body.session_token;
        }
        const whoami = await client.get("/sessions/whoami", { accept: "application/json" });
        assert.equal(whoami.statusCode, 200, whoami.body);
        assert.equal(whoami.json().identity.id, jane.uuid);
      });

      test(`${mode}: a wrong password and an unknown identifier get the same 4000006`, async (t) => {
        const { rekey } = await harness(t, dialect);
        await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
        const client = new KratosClient(rekey, mode);
        const answers = [];
        for (const identifier of ["jane@example.com", "nobody@example.com"]) {
          const flow = await startLogin(client);
          const response = await login(client, flow, identifier, "wrong-password-123");
          const shown =
            mode === "browser"
              ? await fetchFlow(
                  client,
                  "login",
                  new URL(String(response.headers["location"])).searchParams.get("flow")!,
                )
              : response.json();
          if (mode !== "browser") assert.equal(response.statusCode, 400);
          assert.deepEqual(shown.ui.messages, [LOGIN_FAILED]);
          answers.push(response.statusCode);
        }
        assert.equal(answers[0], answers[1]);
        const events = await rekey.api("GET", "/api/v3/events/events/?action=login_failed");
        assert.equal(events.json().results.length, 2);
      });
    }

    test("a deactivated identity with the right password is told the account is disabled (4010011)", async (t) => {
      const { rekey } = await harness(t, dialect);
      const jane = await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      await rekey.api("PATCH", `/api/v3/core/users/${jane.pk}/`, { is_active: false });
      const client = new KratosClient(rekey, "api");
      const response = await login(client, await startLogin(client), "jane", PASSWORD);
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json().ui.messages, [
        {
          id: 4010011,
          text: "This account has been disabled. Please contact support for assistance.",
          type: "error",
        },
      ]);
    });

    test("missing identifier and password are named on their nodes", async (t) => {
      const { rekey } = await harness(t, dialect);
      const client = new KratosClient(rekey, "api");
      const response = await client.submit((await startLogin(client)).ui.action, { method: "password" });
      assert.equal(response.statusCode, 400);
      const nodes = response.json().ui.nodes as any[];
      assert.deepEqual(nodes.find((n) => n.attributes.name === "identifier").messages[0].id, 4000002);
      assert.deepEqual(
        nodes.find((n) => n.attributes.name === "password").messages[0].text,
        "Property password is missing.",
      );
    });

    test("a signed-in client needs refresh=true; refreshing keeps the session token and renews authenticated_at", async (t) => {
      const clock = fixedClock(NOW);
      const { rekey } = await harness(t, dialect, { clock });
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const client = new KratosClient(rekey, "api");
      await signInWithPassword(client, "jane", PASSWORD);
      const refused = await client.get("/self-service/login/api");
      assert.equal(refused.statusCode, 400);
      assert.deepEqual(refused.json(), {
        error: {
          id: "session_already_available",
          code: 400,
          status: "Bad Request",
          reason:
            "A valid session was detected and thus login is not possible. Did you forget to set `?refresh=true`?",
          message: "The request was malformed or contained invalid parameters",
        },
      });
      clock.advance(10 * 60_000);
      const flow = await startLogin(client, "?refresh=true");
      assert.equal(flow.refresh, true);
      assert.deepEqual(
        flow.ui.messages.map((m: any) => m.id),
        [1010003],
      );
      const token = client.sessionToken;
      const response = await login(client, flow, "jane", PASSWORD);
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json().session_token, token);
      assert.equal(response.json().session.authenticated_at, "2026-03-01T12:10:00Z");
    });

    test("aal2 without a session is session_aal1_required; with a session and no second factor, already fulfilled", async (t) => {
      const { rekey } = await harness(t, dialect);
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const client = new KratosClient(rekey, "api");
      const anonymous = await client.get("/self-service/login/api?aal=aal2");
      assert.equal(anonymous.statusCode, 401);
      assert.deepEqual(anonymous.json(), {
        error: {
          id: "session_aal1_required",
          code: 401,
          status: "Unauthorized",
          reason: "You can not requested a higher AAL (AAL2/AAL3) without an active session.",
          message: "The request could not be authorized",
        },
      });
      await signInWithPassword(client, "jane", PASSWORD);
      const fulfilled = await client.get("/self-service/login/api?aal=aal2");
      assert.equal(fulfilled.statusCode, 401);
      assert.equal(fulfilled.json().error.id, "session_aal_already_fulfilled");
      const bad = await client.get("/self-service/login/api?aal=aal3");
      assert.equal(bad.statusCode, 400);
    });

    test("failed attempts are rate limited per identity: 429 with Retry-After, as JSON or as a page", async (t) => {
      const { rekey } = await harness(t, dialect);
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const client = new KratosClient(rekey, "api");
      let last = null;
      for (let i = 0; i < 11; i++) {
        last = await login(client, await startLogin(client), "jane", "wrong-password-123");
      }
      assert.equal(last!.statusCode, 429);
      assert.ok(Number(last!.headers["retry-after"]) > 0);
      assert.deepEqual(last!.json(), {
        error: {
          code: 429,
          status: "Too Many Requests",
          reason: "Too many attempts. Please try again later.",
          message: "Too many requests",
        },
      });
      const browser = new KratosClient(rekey, "browser");
      const page = await login(browser, await startLogin(browser), "jane", PASSWORD);
      assert.equal(page.statusCode, 429);
      assert.match(String(page.headers["content-type"]), /^text\/html/);
      assert.ok(Number(page.headers["retry-after"]) > 0);
    });

    test("a browser login returns to the flow's return_to", async (t) => {
      const { rekey } = await harness(t, dialect);
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const browser = new KratosClient(rekey, "browser");
      const flow = await startLogin(browser, `?return_to=${encodeURIComponent(`${P}/app`)}`);
      const response = await login(browser, flow, "jane", PASSWORD);
      assert.equal(response.statusCode, 303);
      assert.equal(response.headers["location"], `${P}/app`);
    });

    test("an expired login flow: 410 for an api client, a new flow with 4010001 for a browser", async (t) => {
      const clock = fixedClock(NOW);
      const { rekey } = await harness(t, dialect, { clock });
      const api = new KratosClient(rekey, "api");
      const apiFlow = await startLogin(api);
      const browser = new KratosClient(rekey, "browser");
      const browserFlow = await startLogin(browser);
      clock.advance(62 * 60_000);
      const expired = await login(api, apiFlow, "jane", PASSWORD);
      assert.equal(expired.statusCode, 410);
      assert.equal(expired.json().error.id, "self_service_flow_expired");
      assert.match(expired.json().use_flow_id, /^[0-9a-f-]{36}$/);
      const redirected = await login(browser, browserFlow, "jane", PASSWORD);
      assert.equal(redirected.statusCode, 303);
      const fresh = await fetchFlow(
        browser,
        "login",
        new URL(String(redirected.headers["location"])).searchParams.get("flow")!,
      );
      assert.equal(fresh.ui.messages[0].id, 4010001);
      assert.equal(fresh.ui.messages[0].text, "The login flow expired 2.00 minutes ago, please try again.");
    });
  });
}
