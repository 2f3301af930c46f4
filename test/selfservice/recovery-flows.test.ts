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
  P,
  signInWithPassword,
  startRecovery,
  submitCode,
  submitEmail,
  userOf,
} from "./helpers.js";

const NOW = new Date("2026-03-01T12:00:00.000Z");
const MINUTE = 60_000;
const UNKNOWN = "6f3e1d2c-0000-4000-8000-000000000000";
const CSRF_REASON =
  "Please retry the flow and optionally clear your cookies. The request was rejected to protect you from Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and other serious security issues.";

for (const dialect of DIALECTS) {
  describe(`recovery flow handler on ${dialect}`, () => {
    test("API init makes an api flow; SPA init a browser flow as JSON; browser init redirects to the UI", async (t) => {
      const { rekey } = await harness(t, dialect);
      const api = await new KratosClient(rekey, "api").get("/self-service/recovery/api");
      assert.equal(api.statusCode, 200);
      assert.equal(api.headers["content-type"], "application/json; charset=utf-8");
      assert.equal(api.json().type, "api");
      assert.equal(api.headers["set-cookie"], undefined);
      const spa = await new KratosClient(rekey, "spa").get("/self-service/recovery/browser");
      assert.equal(spa.statusCode, 200);
      assert.equal(spa.json().type, "browser");
      const browser = await new KratosClient(rekey, "browser").get("/self-service/recovery/browser");
      assert.equal(browser.statusCode, 303);
      assert.match(
        String(browser.headers["location"]),
        new RegExp(`^${P}/ui/recovery\\?flow=[0-9a-f-]{36}$`),
      );
      assert.match(
        String(browser.headers["set-cookie"]),
        /^rekey_csrf=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/,
      );
    });

    test("a browser flow is readable only with its anti-CSRF cookie", async (t) => {
      const { rekey } = await harness(t, dialect);
      const owner = new KratosClient(rekey, "spa");
      const flow = await startRecovery(owner);
      const stranger = await new KratosClient(rekey, "spa").get(`/self-service/recovery/flows?id=${flow.id}`);
      assert.equal(stranger.statusCode, 403);
      assert.equal(stranger.json().error.id, "security_csrf_violation");
      assert.equal(stranger.json().error.reason, CSRF_REASON);
      assert.equal(stranger.headers["ory-error-id"], "security_csrf_violation");
      const read = await fetchFlow(owner, "recovery", flow.id);
      assert.ok(csrfOf(read).length > 0);
      assert.notEqual(csrfOf(read), csrfOf(flow), "the masked token differs on every render");
      assert.equal(read.ui.action, `${P}/self-service/recovery?flow=${flow.id}`);
    });

    test("an unknown or malformed flow id is a 404", async (t) => {
      const { rekey } = await harness(t, dialect);
      for (const id of [UNKNOWN, "nope"]) {
        const response = await new KratosClient(rekey, "api").get(`/self-service/recovery/flows?id=${id}`);
        assert.equal(response.statusCode, 404);
        assert.deepEqual(response.json(), {
          error: { code: 404, status: "Not Found", message: "Unable to locate the resource" },
        });
      }
    });

    test("an expired browser flow is a 410 pointing at the init endpoint with its return_to", async (t) => {
      const clock = fixedClock(NOW);
      const { rekey } = await harness(t, dialect, { clock });
      const client = new KratosClient(rekey, "spa");
      const returnTo = `${P}/done`;
      const flow = await startRecovery(client, `?return_to=${encodeURIComponent(returnTo)}`);
      clock.advance(61 * MINUTE);
      const response = await client.get(`/self-service/recovery/flows?id=${flow.id}`);
      assert.equal(response.statusCode, 410);
      assert.deepEqual(response.json(), {
        error: {
          code: 410,
          status: "Gone",
          reason:
            "The recovery flow has expired. Redirect the user to the recovery flow init endpoint to initialize a new recovery flow.",
          details: {
            redirect_to: `${P}/self-service/recovery/browser?return_to=${encodeURIComponent(returnTo)}`,
            return_to: returnTo,
          },
          message:
            "The requested resource is no longer available because it has expired or is otherwise invalid.",
        },
      });
    });

    test("an expired api flow is a 410 ExpiredError with the api init URL and no new flow", async (t) => {
      const clock = fixedClock(NOW);
      const { rekey } = await harness(t, dialect, { clock });
      const client = new KratosClient(rekey, "api");
      const flow = await startRecovery(client);
      clock.advance(62 * MINUTE);
      const response = await client.get(`/self-service/recovery/flows?id=${flow.id}`);
      assert.equal(response.statusCode, 410);
      const body = response.json();
      assert.deepEqual(Object.keys(body), ["error", "expired_at", "since", "use_flow_id"]);
      assert.equal(body.error.id, "self_service_flow_expired");
      assert.equal(
        body.error.reason,
        "The self-service flow expired 2.00 minutes ago, initialize a new one.",
      );
      assert.deepEqual(body.error.details, { api: `${P}/self-service/recovery/api` });
      assert.equal(body.use_flow_id, "00000000-0000-0000-0000-000000000000");
      assert.equal(body.since, 2 * MINUTE * 1e6);
      assert.equal(body.expired_at, "2026-03-01T13:00:00Z");
    });

    for (const mode of ["browser", "spa", "api"] as const) {
      test(`${mode}: an address submitted to an expired flow gets a new flow saying it expired`, async (t) => {
        const clock = fixedClock(NOW);
        const { rekey } = await harness(t, dialect, { clock });
        const client = new KratosClient(rekey, mode);
        const flow = await startRecovery(client);
        clock.advance(62 * MINUTE);
        const response = await submitEmail(client, flow, "jane@example.com");
        let fresh: Record<string, any>;
        if (mode === "api") {
          assert.equal(response.statusCode, 410, response.body);
          const body = response.json();
          assert.equal(body.error.id, "self_service_flow_expired");
          assert.equal(body.error.details.continue_with[0].action, "show_recovery_ui");
          assert.equal(body.use_flow_id, body.error.details.continue_with[0].flow.id);
          fresh = await fetchFlow(client, "recovery", body.use_flow_id);
        } else {
          assert.equal(response.statusCode, 303, response.body);
          const location = new URL(String(response.headers["location"]));
          if (mode === "spa") {
            assert.equal(location.pathname, "/self-service/recovery/flows");
            fresh = await fetchFlow(client, "recovery", location.searchParams.get("id")!);
          } else {
            assert.equal(location.pathname, "/ui/recovery");
            fresh = await fetchFlow(client, "recovery", location.searchParams.get("flow")!);
          }
        }
        assert.notEqual(fresh.id, flow.id);
        assert.equal(fresh.type, flow.type);
        assert.equal(fresh.request_url, flow.request_url);
        assert.equal(fresh.ui.messages[0].id, 4060005);
        assert.equal(
          fresh.ui.messages[0].text,
          "The recovery flow expired 2.00 minutes ago, please try again.",
        );
        assert.deepEqual(fresh.ui.messages[0].context, {
          expired_at: "2026-03-01T13:00:00Z",
          expired_at_unix: Date.parse("2026-03-01T13:00:00Z") / 1000,
        });
      });
    }

    for (const mode of ["browser", "spa", "api"] as const) {
      test(`${mode}: a code submitted after the flow expired does not recover; the address stays unverified`, async (t) => {
        const clock = fixedClock(NOW);
        const h = await harness(t, dialect, { clock });
        const jane = await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
        const client = new KratosClient(h.rekey, mode);
        const flow = await startRecovery(client);
        await submitEmail(client, flow, "jane@example.com");
        const sent = await fetchFlow(client, "recovery", flow.id);
        const code = await h.codeFor("jane@example.com");
        clock.advance(62 * MINUTE);
        const response = await submitCode(client, sent, code);
        let freshId: string;
        if (mode === "api") {
          assert.equal(response.statusCode, 410, response.body);
          freshId = response.json().use_flow_id;
        } else {
          assert.equal(response.statusCode, 303);
          const location = new URL(String(response.headers["location"]));
          freshId = location.searchParams.get(mode === "spa" ? "id" : "flow")!;
        }
        const fresh = await fetchFlow(client, "recovery", freshId);
        assert.equal(
          fresh.ui.messages[0].text,
          "The recovery flow expired 2.00 minutes ago, please try again.",
        );
        assert.equal((await userOf(h.rekey, jane.pk)).emailVerified, false);
        assert.equal(client.cookies.has("ory_kratos_session"), false);
      });
    }

    test("a return_to of another origin is refused; an allowed prefix is accepted", async (t) => {
      const { rekey } = await harness(t, dialect, {
        env: { REKEY_ALLOWED_RETURN_URLS: "https://app.example.com/" },
      });
      const client = new KratosClient(rekey, "spa");
      const refused = await client.get(
        `/self-service/recovery/browser?return_to=${encodeURIComponent("https://evil.example/")}`,
      );
      assert.equal(refused.statusCode, 400);
      assert.deepEqual(refused.json(), {
        error: {
          id: "self_service_flow_return_to_forbidden",
          code: 400,
          status: "Bad Request",
          reason: 'Requested return_to URL "https://evil.example/" is not allowed.',
          message: "The request was malformed or contained invalid parameters",
        },
      });
      const allowed = await client.get(
        `/self-service/recovery/browser?return_to=${encodeURIComponent("https://app.example.com/after")}`,
      );
      assert.equal(allowed.statusCode, 200, allowed.body);
      assert.equal(allowed.json().return_to, "https://app.example.com/after");
    });

    test("a signed-in client cannot start recovery: 400 JSON, or the default return URL for a browser", async (t) => {
      const { rekey } = await harness(t, dialect);
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: "correct-horse-battery-1" });
      const api = new KratosClient(rekey, "api");
      await signInWithPassword(api, "jane@example.com", "correct-horse-battery-1");
      const refused = await api.get("/self-service/recovery/api");
      assert.equal(refused.statusCode, 400);
      assert.equal(refused.json().error.id, "session_already_available");
      const browser = new KratosClient(rekey, "browser");
      await signInWithPassword(browser, "jane@example.com", "correct-horse-battery-1");
      const redirected = await browser.get("/self-service/recovery/browser");
      assert.equal(redirected.statusCode, 303);
      assert.equal(redirected.headers["location"], `${P}/ui/settings`);
    });

    test("an api flow refuses submissions that carry an Origin header or cookies", async (t) => {
      const { rekey } = await harness(t, dialect);
      const api = new KratosClient(rekey, "api");
      const flow = await startRecovery(api);
      const withOrigin = await api.send("POST", flow.ui.action, {
        json: { method: "code", email: "a@example.com" },
        headers: { origin: "https://evil.example" },
      });
      assert.equal(withOrigin.statusCode, 400);
      assert.match(
        withOrigin.json().error.reason,
        /^The HTTP Request Header included the "Origin" key, indicating that this request was made as part of an AJAX request in a Browser\./,
      );
      const flow2 = await startRecovery(api);
      const withCookie = await api.send("POST", flow2.ui.action, {
        json: { method: "code", email: "a@example.com" },
        headers: { cookie: "session=1" },
      });
      assert.equal(withCookie.statusCode, 400);
      assert.match(
        withCookie.json().error.reason,
        /^The HTTP Request Header included the "Cookie" key, indicating that this request was made by a Browser\./,
      );
      const flow3 = await startRecovery(api);
      const cloudflare = await api.send("POST", flow3.ui.action, {
        json: { method: "code", email: "a@example.com" },
        headers: { cookie: "__cf_bm=1; cf_clearance=2" },
      });
      assert.equal(cloudflare.statusCode, 200, cloudflare.body);
    });

    test("a browser submission without the anti-CSRF token starts over: 303 for a form, 403 with continue_with for an SPA", async (t) => {
      const { rekey } = await harness(t, dialect);
      const browser = new KratosClient(rekey, "browser");
      const flow = await startRecovery(browser);
      const cookieBefore = browser.cookies.get("rekey_csrf");
      const form = await browser.submit(flow.ui.action, { method: "code", email: "a@example.com" });
      assert.equal(form.statusCode, 303);
      assert.notEqual(
        browser.cookies.get("rekey_csrf"),
        cookieBefore,
        "a new CSRF secret comes with the new flow",
      );
      const fresh = await fetchFlow(
        browser,
        "recovery",
        new URL(String(form.headers["location"])).searchParams.get("flow")!,
      );
      assert.notEqual(fresh.id, flow.id);
      assert.equal(fresh.ui.messages[0].id, 4000001);

      const spa = new KratosClient(rekey, "spa");
      const spaFlow = await startRecovery(spa);
      const json = await spa.submit(spaFlow.ui.action, {
        method: "code",
        email: "a@example.com",
        csrf_token: "forged",
      });
      assert.equal(json.statusCode, 403);
      const error = json.json().error;
      assert.equal(error.id, "security_csrf_violation");
      assert.equal(error.reason, CSRF_REASON);
      assert.equal(error.details.docs, "https://www.ory.com/docs/troubleshooting/csrf");
      assert.equal(error.details.continue_with[0].action, "show_recovery_ui");
      assert.equal(error.message, "the request was rejected to protect you from Cross-Site-Request-Forgery");
    });

    test("a submission without a flow id, or with an unknown one, is refused", async (t) => {
      const { rekey } = await harness(t, dialect);
      const api = new KratosClient(rekey, "api");
      const missing = await api.submit("/self-service/recovery", { method: "code", email: "a@example.com" });
      assert.equal(missing.statusCode, 400);
      assert.equal(missing.json().error.reason, "The flow query parameter is missing or malformed.");
      const unknown = await api.submit(`/self-service/recovery?flow=${UNKNOWN}`, {
        method: "code",
        email: "a@example.com",
      });
      assert.equal(unknown.statusCode, 404);
      assert.equal(
        unknown.json().error.reason,
        "The recovery request could not be found. Please restart the flow.",
      );
      const browser = await new KratosClient(rekey, "browser").submit(
        `/self-service/recovery?flow=${UNKNOWN}`,
        { method: "code" },
      );
      assert.equal(browser.statusCode, 303);
      assert.equal(browser.headers["location"], `${P}/ui/error?id=not_found`);
      const page = await new KratosClient(rekey, "browser").get("/ui/error?id=not_found");
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /data-message-id="4901002"/);
    });
  });
}
