import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import {
  createIdentity,
  fetchFlow,
  flowAfter,
  harness,
  KratosClient,
  local,
  MESSAGE_CODE_SENT,
  messageIds,
  MODES,
  P,
  startRecovery,
  submitCode,
  submitEmail,
} from "./helpers.js";

for (const dialect of DIALECTS) {
  describe(`self-service recovery with a code on ${dialect}`, () => {
    for (const mode of MODES) {
      test(`${mode}: the initial flow has the address form, the flow's action and no messages`, async (t) => {
        const { rekey } = await harness(t, dialect);
        const client = new KratosClient(rekey, mode);
        const flow = await startRecovery(client);
        assert.deepEqual(Object.keys(flow), [
          "id",
          "type",
          "expires_at",
          "issued_at",
          "request_url",
          "active",
          "ui",
          "state",
        ]);
        assert.equal(flow.type, mode === "api" ? "api" : "browser");
        assert.equal(flow.state, "choose_method");
        assert.equal(flow.active, "code");
        assert.equal(flow.ui.action, `${P}/self-service/recovery?flow=${flow.id}`);
        assert.equal(flow.ui.method, "POST");
        assert.equal(flow.ui.messages, undefined);
        const [csrf, email, submit] = flow.ui.nodes;
        assert.equal(flow.ui.nodes.length, 3);
        if (mode === "api") {
          assert.deepEqual(csrf.attributes, {
            name: "csrf_token",
            type: "hidden",
            required: true,
            disabled: false,
            node_type: "input",
          });
        } else {
          assert.deepEqual(Object.keys(csrf.attributes), [
            "name",
            "type",
            "value",
            "required",
            "disabled",
            "node_type",
          ]);
          assert.ok(csrf.attributes.value.length > 40);
        }
        assert.deepEqual(csrf.meta, {});
        assert.equal(csrf.group, "default");
        assert.deepEqual(email, {
          type: "input",
          group: "code",
          attributes: { name: "email", type: "email", required: true, disabled: false, node_type: "input" },
          messages: [],
          meta: { label: { id: 1070007, text: "Email", type: "info" } },
        });
        assert.deepEqual(submit, {
          type: "input",
          group: "code",
          attributes: { name: "method", type: "submit", value: "code", disabled: false, node_type: "input" },
          messages: [],
          meta: { label: { id: 1070009, text: "Continue", type: "info" } },
        });
      });

      test(`${mode}: email, mailed code, code: recovered, with a settings flow saying so`, async (t) => {
        const h = await harness(t, dialect);
        const jane = await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
        const client = new KratosClient(h.rekey, mode);
        const flow = await startRecovery(client);
        const sent = await flowAfter(client, await submitEmail(client, flow, "Jane@Example.com"));
        assert.equal(sent.state, "sent_email");
        assert.equal(sent.active, "code");
        assert.deepEqual(sent.ui.messages, [{ id: 1060003, text: MESSAGE_CODE_SENT, type: "info" }]);
        assert.deepEqual(
          sent.ui.nodes.map((n: any) => [n.attributes.name, n.attributes.type, n.attributes.value ?? null]),
          [
            ["csrf_token", "hidden", mode === "api" ? null : sent.ui.nodes[0].attributes.value],
            ["code", "text", null],
            ["method", "hidden", "code"],
            ["method", "submit", "code"],
            ["email", "submit", "jane@example.com"],
          ],
        );
        assert.deepEqual(sent.ui.nodes[1].attributes, {
          name: "code",
          type: "text",
          required: true,
          autocomplete: "one-time-code",
          pattern: "[0-9]+",
          disabled: false,
          maxlength: 6,
          node_type: "input",
        });
        const mails = await h.mails();
        assert.equal(mails.length, 1);
        assert.match(mails[0]!.parsed.subject ?? "", /Use code/);
        assert.match(mails[0]!.parsed.text ?? "", /Recover access to your account by entering/);
        const code = await h.codeFor("jane@example.com");
        assert.match(code, /^\d{6}$/);

        const response = await submitCode(client, sent, code);
        if (mode === "browser") {
          assert.equal(response.statusCode, 303, response.body);
          const location = String(response.headers["location"]);
          assert.match(location, new RegExp(`^${P}/ui/settings\\?flow=`));
          assert.ok(client.cookies.has("ory_kratos_session"));
          const settings = await fetchFlow(client, "settings", new URL(location).searchParams.get("flow")!);
          assert.equal(settings.ui.messages[0].id, 1060001);
          assert.match(settings.ui.messages[0].text, /within the next 60\.00 minutes\.$/);
        } else {
          assert.equal(response.statusCode, 200, response.body);
          const body = response.json();
          assert.equal(body.state, "passed_challenge");
          assert.equal(body.ui.messages, undefined);
          if (mode === "spa") {
            assert.equal(body.continue_with.length, 1);
            assert.equal(body.continue_with[0].action, "show_settings_ui");
            assert.equal(
              body.continue_with[0].flow.url,
              `${P}/ui/settings?flow=${body.continue_with[0].flow.id}`,
            );
            assert.ok(client.cookies.has("ory_kratos_session"));
          } else {
            assert.equal(body.continue_with.length, 2);
            assert.equal(body.continue_with[0].action, "set_ory_session_token");
            assert.match(body.continue_with[0].ory_session_token, /^ory_st_[A-Za-z0-9]{32}$/);
            assert.equal(body.continue_with[1].action, "show_settings_ui");
            assert.equal(response.headers["set-cookie"], undefined);
            client.sessionToken = body.continue_with[0].ory_session_token;
          }
        }
        const whoami = await client.get("/sessions/whoami", { accept: "application/json" });
        assert.equal(whoami.statusCode, 200, whoami.body);
        const session = whoami.json();
        assert.equal(whoami.headers["x-kratos-authenticated-identity-id"], jane.uuid);
        assert.equal(session.authenticator_assurance_level, "aal1");
        assert.deepEqual(
          session.authentication_methods.map((m: any) => [m.method, m.aal]),
          [["code_recovery", "aal1"]],
        );
        assert.equal(session.identity.verifiable_addresses[0].verified, true);
        assert.equal(session.identity.verifiable_addresses[0].status, "completed");
        assert.ok(session.identity.verifiable_addresses[0].verified_at !== undefined);
      });
    }

    test("the settings UI link of a browser recovery renders the settings form", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const client = new KratosClient(h.rekey, "browser");
      const flow = await startRecovery(client);
      await submitEmail(client, flow, "jane@example.com");
      const sent = await fetchFlow(client, "recovery", flow.id);
      assert.deepEqual(messageIds(sent), [1060003]);
      const response = await submitCode(client, sent, await h.codeFor("jane@example.com"));
      const page = await client.get(local(String(response.headers["location"])));
      assert.equal(page.statusCode, 200, page.body);
      assert.equal(page.headers["referrer-policy"], "no-referrer");
      assert.match(page.body, /data-message-id="1060001"/);
      assert.match(
        page.body,
        /<input id="field-password" name="password" type="password" required autocomplete="new-password">/,
      );
    });
  });
}
