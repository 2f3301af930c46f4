import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixedClock } from "../../src/clock.js";
import { DIALECTS } from "../support/databases.js";
import {
  adminCodeFlow,
  adminLinkFlow,
  CODE_INVALID,
  createIdentity,
  fetchFlow,
  harness,
  KratosClient,
  local,
  messageIds,
  P,
  userOf,
} from "./helpers.js";

const NOW = new Date("2026-03-01T12:00:00.000Z");

/** The recovery flow behind a redirect to the recovery UI. */
async function flowBehind(client: KratosClient, location: string): Promise<Record<string, any>> {
  const url = new URL(location);
  assert.equal(url.pathname, "/ui/recovery", location);
  return fetchFlow(client, "recovery", url.searchParams.get("flow")!);
}

for (const dialect of DIALECTS) {
  describe(`redeeming admin-made recovery codes on ${dialect}`, () => {
    test("the opened link shows exactly the code input and its button", async (t) => {
      const { rekey } = await harness(t, dialect);
      const jane = await createIdentity(rekey, "jane");
      const admin = await adminCodeFlow(rekey, jane.pk);
      const browser = new KratosClient(rekey, "browser");
      const flow = await fetchFlow(browser, "recovery", admin.flowId);
      assert.deepEqual(flow.ui.nodes, [
        {
          type: "input",
          group: "code",
          attributes: {
            name: "code",
            type: "text",
            required: true,
            autocomplete: "one-time-code",
            pattern: "[0-9]+",
            disabled: false,
            maxlength: 6,
            node_type: "input",
          },
          messages: [],
          meta: { label: { id: 1070010, text: "Recovery code", type: "info" } },
        },
        {
          type: "input",
          group: "code",
          attributes: { name: "method", type: "submit", value: "code", disabled: false, node_type: "input" },
          messages: [],
          meta: { label: { id: 1070009, text: "Continue", type: "info" } },
        },
      ]);
      const page = await browser.get(local(admin.link));
      assert.equal(page.statusCode, 200, page.body);
      assert.doesNotMatch(page.body, /csrf_token/);
      assert.match(page.body, /name="code"/);
    });

    test("posting code= with no method and no CSRF ends on the settings UI; the address stays pending", async (t) => {
      const { rekey } = await harness(t, dialect);
      const jane = await createIdentity(rekey, "jane");
      const admin = await adminCodeFlow(rekey, jane.pk);
      const browser = new KratosClient(rekey, "browser");
      const response = await browser.send("POST", `/self-service/recovery?flow=${admin.flowId}`, {
        form: { code: admin.code },
      });
      assert.equal(response.statusCode, 303, response.body);
      const location = String(response.headers["location"]);
      assert.match(location, new RegExp(`^${P}/ui/settings\\?flow=`));
      const sessionCookies = (response.cookies as { name: string }[]).filter(
        (cookie) => cookie.name === "ory_kratos_session",
      );
      assert.equal(sessionCookies.length, 1);
      const settings = await fetchFlow(browser, "settings", new URL(location).searchParams.get("flow")!);
      assert.deepEqual(messageIds(settings), [1060001]);
      assert.match(settings.ui.messages[0].text, /60\.00 minutes/);
      assert.deepEqual(Object.keys(settings.ui.messages[0].context), [
        "privilegedSessionExpiresAt",
        "privileged_session_expires_at",
        "privileged_session_expires_at_unix",
      ]);
      const user = await userOf(rekey, jane.pk);
      assert.equal(user.emailVerified, false, "an admin-made code proves nothing about the address");
      assert.equal(settings.identity.verifiable_addresses[0].status, "pending");
    });

    test("an identity without email recovers with an admin code", async (t) => {
      const { rekey } = await harness(t, dialect);
      const created = await rekey.api("POST", "/api/v3/core/users/", {
        username: "noemail",
        name: "No Email",
      });
      assert.equal(created.statusCode, 201, created.body);
      const admin = await adminCodeFlow(rekey, created.json().pk);
      const browser = new KratosClient(rekey, "browser");
      const response = await browser.send("POST", `/self-service/recovery?flow=${admin.flowId}`, {
        form: { code: admin.code },
      });
      assert.equal(response.statusCode, 303, response.body);
      assert.match(String(response.headers["location"]), /\/ui\/settings\?flow=/);
    });

    test("an api admin flow answers JSON with the session token first, then the settings UI", async (t) => {
      const { rekey } = await harness(t, dialect);
      const jane = await createIdentity(rekey, "jane");
      const admin = await adminCodeFlow(rekey, jane.pk, { type: "api" });
      const api = new KratosClient(rekey, "api");
      const response = await api.submit(`/self-service/recovery?flow=${admin.flowId}`, { code: admin.code });
      assert.equal(response.statusCode, 200, response.body);
      const continueWith = response.json().continue_with;
      assert.deepEqual(
        continueWith.map((item: any) => item.action),
        ["set_ory_session_token", "show_settings_ui"],
      );
      assert.equal(response.headers["set-cookie"], undefined);
    });

    test("a code of another flow of the same identity is wrong here", async (t) => {
      const { rekey } = await harness(t, dialect);
      const jane = await createIdentity(rekey, "jane");
      const first = await adminCodeFlow(rekey, jane.pk, { code: "111111" });
      const second = await adminCodeFlow(rekey, jane.pk, { code: "222222" });
      const api = new KratosClient(rekey, "spa");
      const response = await api.submit(`/self-service/recovery?flow=${first.flowId}`, { code: second.code });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json().ui.messages, [{ id: 4060006, text: CODE_INVALID, type: "error" }]);
    });

    test("an expired admin code flow is replaced by a flow saying so; the address stays unverified", async (t) => {
      const clock = fixedClock(NOW);
      const { rekey } = await harness(t, dialect, { clock });
      const jane = await createIdentity(rekey, "jane");
      const admin = await adminCodeFlow(rekey, jane.pk, { expiresInMs: 100 });
      clock.advance(150);
      const browser = new KratosClient(rekey, "browser");
      const response = await browser.send("POST", `/self-service/recovery?flow=${admin.flowId}`, {
        form: { code: admin.code },
      });
      assert.equal(response.statusCode, 303, response.body);
      const fresh = await flowBehind(browser, String(response.headers["location"]));
      assert.notEqual(fresh.id, admin.flowId);
      assert.match(fresh.ui.messages[0].text, /^The recovery flow expired/);
      assert.equal((await userOf(rekey, jane.pk)).emailVerified, false);
    });
  });

  describe(`redeeming admin-made recovery links on ${dialect}`, () => {
    test("a valid visit ends on the settings UI with 1060001; the address stays unverified", async (t) => {
      const { rekey } = await harness(t, dialect);
      const jane = await createIdentity(rekey, "jane");
      const admin = await adminLinkFlow(rekey, jane.pk);
      const browser = new KratosClient(rekey, "browser");
      const response = await browser.get(local(admin.link));
      assert.equal(response.statusCode, 303, response.body);
      const location = String(response.headers["location"]);
      assert.match(location, new RegExp(`^${P}/ui/settings\\?flow=`));
      const settings = await fetchFlow(browser, "settings", new URL(location).searchParams.get("flow")!);
      assert.deepEqual(messageIds(settings), [1060001]);
      assert.equal((await userOf(rekey, jane.pk)).emailVerified, false);
      const whoami = await browser.get("/sessions/whoami", { accept: "application/json" });
      assert.equal(whoami.json().authentication_methods[0].method, "link_recovery");

      const secondBrowser = new KratosClient(rekey, "browser");
      const again = await secondBrowser.get(local(admin.link));
      assert.equal(again.statusCode, 303);
      const fresh = await flowBehind(secondBrowser, String(again.headers["location"]));
      assert.deepEqual(fresh.ui.messages, [
        {
          id: 4060004,
          text: "The recovery token is invalid or has already been used. Please retry the flow.",
          type: "error",
        },
      ]);
    });

    test("the token of flow B does not work with flow A", async (t) => {
      const { rekey } = await harness(t, dialect);
      const jane = await createIdentity(rekey, "jane");
      const a = await adminLinkFlow(rekey, jane.pk);
      const b = await adminLinkFlow(rekey, jane.pk);
      const browser = new KratosClient(rekey, "browser");
      const response = await browser.get(`/self-service/recovery?flow=${a.flowId}&token=${b.token}`);
      assert.equal(response.statusCode, 303);
      assert.deepEqual(
        messageIds(await flowBehind(browser, String(response.headers["location"]))),
        [4060004],
      );
    });

    test("an expired link starts over with 4060005", async (t) => {
      const clock = fixedClock(NOW);
      const { rekey } = await harness(t, dialect, { clock });
      const jane = await createIdentity(rekey, "jane");
      const admin = await adminLinkFlow(rekey, jane.pk, { expiresInMs: 100 });
      clock.advance(150);
      const browser = new KratosClient(rekey, "browser");
      const response = await browser.get(local(admin.link));
      assert.equal(response.statusCode, 303);
      const fresh = await flowBehind(browser, String(response.headers["location"]));
      assert.equal(fresh.ui.messages[0].id, 4060005);
      assert.match(
        fresh.ui.messages[0].text,
        /^The recovery flow expired 0\.00 minutes ago, please try again\.$/,
      );
      assert.equal(fresh.type, "browser");
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`flows made by the admin API, redeemed on ${dialect}`, () => {
    test("POST /admin/recovery/code: its link and code recover in a browser", async (t) => {
      const { rekey } = await harness(t, dialect);
      const jane = await createIdentity(rekey, "jane");
      const created = await rekey.api("POST", "/admin/recovery/code", { identity_id: jane.uuid });
      assert.equal(created.statusCode, 201, created.body);
      const { recovery_link: link, recovery_code: code } = created.json();
      const browser = new KratosClient(rekey, "browser");
      const page = await browser.get(local(link));
      assert.equal(page.statusCode, 200, page.body);
      const flowId = new URL(link).searchParams.get("flow")!;
      const response = await browser.send("POST", `/self-service/recovery?flow=${flowId}`, {
        form: { code },
      });
      assert.equal(response.statusCode, 303, response.body);
      assert.match(String(response.headers["location"]), new RegExp(`^${P}/ui/settings\\?flow=`));
      assert.equal((await userOf(rekey, jane.pk)).emailVerified, false);
    });

    test("POST /admin/recovery/code with flow_type api: JSON {code} answers with the token first", async (t) => {
      const { rekey } = await harness(t, dialect);
      const jane = await createIdentity(rekey, "jane");
      const created = await rekey.api("POST", "/admin/recovery/code", {
        identity_id: jane.uuid,
        flow_type: "api",
      });
      assert.equal(created.statusCode, 201, created.body);
      const flowId = new URL(created.json().recovery_link).searchParams.get("flow")!;
      const api = new KratosClient(rekey, "api");
      const response = await api.submit(`/self-service/recovery?flow=${flowId}`, {
        code: created.json().recovery_code,
      });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(
        response.json().continue_with.map((item: any) => item.action),
        ["set_ory_session_token", "show_settings_ui"],
      );
    });

    test("POST /admin/recovery/link: the link recovers once", async (t) => {
      const { rekey } = await harness(t, dialect);
      const jane = await createIdentity(rekey, "jane");
      const created = await rekey.api("POST", "/admin/recovery/link", { identity_id: jane.uuid });
      assert.equal(created.statusCode, 200, created.body);
      const link = created.json().recovery_link as string;
      const browser = new KratosClient(rekey, "browser");
      const response = await browser.get(local(link));
      assert.equal(response.statusCode, 303, response.body);
      assert.match(String(response.headers["location"]), new RegExp(`^${P}/ui/settings\\?flow=`));
      const again = new KratosClient(rekey, "browser");
      const second = await again.get(local(link));
      assert.deepEqual(messageIds(await flowBehind(again, String(second.headers["location"]))), [4060004]);
    });
  });
}
