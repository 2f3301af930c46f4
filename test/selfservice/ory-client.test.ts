import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Configuration, FrontendApi } from "@ory/client";
import { DIALECTS } from "../support/databases.js";
import { createIdentity, harness } from "./helpers.js";
import { freePort } from "../support/ports.js";

/** An error of the client carrying the HTTP answer (axios' shape, without importing axios). */
function isHTTPError(error: unknown): error is { response: { status: number; data: any } } {
  return (
    typeof error === "object" &&
    error !== null &&
    "response" in error &&
    typeof (error as { response?: unknown }).response === "object"
  );
}

const OLD_PASSWORD = "old-Secret-password-1";
const NEW_PASSWORD = "n3w-Secret-pass-word";

for (const dialect of DIALECTS) {
  describe(`@ory/client FrontendApi against Rekey on ${dialect}`, () => {
    test("native recovery, settings, login, whoami and logout over a real socket", async (t) => {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const h = await harness(t, dialect, { env: { REKEY_PUBLIC_URL: base } });
      const jane = await createIdentity(h.rekey, "jane", {
        email: "jane@example.com",
        password: OLD_PASSWORD,
      });
      await h.rekey.app.listen({ host: "127.0.0.1", port });
      const frontend = new FrontendApi(new Configuration({ basePath: base }));

      const { data: flow } = await frontend.createNativeRecoveryFlow();
      assert.equal(flow.type, "api");
      assert.equal(flow.state, "choose_method");
      assert.equal(flow.ui.action, `${base}/self-service/recovery?flow=${flow.id}`);

      const { data: sent } = await frontend.updateRecoveryFlow({
        flow: flow.id,
        updateRecoveryFlowBody: { method: "code", email: "jane@example.com" },
      });
      assert.equal(sent.state, "sent_email");
      assert.deepEqual(
        sent.ui.messages?.map((message) => message.id),
        [1060003],
      );

      const code = await h.codeFor("jane@example.com");
      const { data: wrong } = await frontend.updateRecoveryFlow({
        flow: flow.id,
        updateRecoveryFlowBody: { method: "code", code: code === "000000" ? "111111" : "000000" },
      });
      assert.deepEqual(
        wrong.ui.messages?.map((message) => message.id),
        [4060006],
      );

      const { data: recovered } = await frontend.updateRecoveryFlow({
        flow: flow.id,
        updateRecoveryFlowBody: { method: "code", code },
      });
      assert.equal(recovered.state, "passed_challenge");
      const [tokenItem, settingsItem] = recovered.continue_with ?? [];
      assert.ok(tokenItem !== undefined && tokenItem.action === "set_ory_session_token");
      assert.ok(settingsItem !== undefined && settingsItem.action === "show_settings_ui");
      const sessionToken = tokenItem.ory_session_token;

      const { data: session } = await frontend.toSession({ xSessionToken: sessionToken });
      assert.equal(session.identity?.id, jane.uuid);
      assert.equal(session.authenticator_assurance_level, "aal1");
      assert.equal(session.authentication_methods?.[0]?.method, "code_recovery");

      const { data: settingsFlow } = await frontend.getSettingsFlow({
        id: settingsItem.flow.id,
        xSessionToken: sessionToken,
      });
      assert.equal(settingsFlow.ui.messages?.[0]?.id, 1060001);
      const { data: saved } = await frontend.updateSettingsFlow({
        flow: settingsFlow.id,
        xSessionToken: sessionToken,
        updateSettingsFlowBody: { method: "password", password: NEW_PASSWORD },
      });
      assert.equal(saved.state, "success");
      assert.deepEqual(
        saved.ui.messages?.map((message) => message.id),
        [1050001],
      );

      const refused = await frontend
        .updateSettingsFlow({
          flow: (await frontend.createNativeSettingsFlow({ xSessionToken: sessionToken })).data.id,
          xSessionToken: sessionToken,
          updateSettingsFlowBody: { method: "password", password: "short" },
        })
        .catch((error: unknown) => error);
      assert.ok(isHTTPError(refused) && refused.response.status === 400);
      assert.equal(
        refused.response.data.ui.nodes.find((node: any) => node.attributes.name === "password").messages[0]
          .id,
        4000032,
      );

      const { data: loginFlow } = await frontend.createNativeLoginFlow();
      assert.equal(loginFlow.requested_aal, "aal1");
      const { data: login } = await frontend.updateLoginFlow({
        flow: loginFlow.id,
        updateLoginFlowBody: { method: "password", identifier: "jane@example.com", password: NEW_PASSWORD },
      });
      assert.match(login.session_token ?? "", /^ory_st_[A-Za-z0-9]{32}$/);
      assert.equal(login.session.identity?.id, jane.uuid);

      const { data: whoami, headers } = await frontend.toSession({ xSessionToken: login.session_token });
      assert.equal(whoami.id, login.session.id);
      assert.equal(headers["x-kratos-authenticated-identity-id"], jane.uuid);

      await frontend.performNativeLogout({
        performNativeLogoutBody: { session_token: login.session_token! },
      });
      const gone = await frontend
        .toSession({ xSessionToken: login.session_token })
        .catch((error: unknown) => error);
      assert.ok(isHTTPError(gone) && gone.response.status === 401);
      assert.equal(gone.response.data.error.reason, "No valid session credentials found in the request.");
    });
  });
}
