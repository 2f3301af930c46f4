import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Configuration, FrontendApi, type UiNodeTextAttributes } from "@ory/client";
import { fixedClock } from "../../src/clock.js";
import { DIALECTS } from "../support/databases.js";
import { createIdentity, harness } from "./helpers.js";
import { appCode } from "./settings-mfa-helpers.js";
import { freePort } from "../support/ports.js";

/**
 * The official @ory/client over a real socket: a native app enrols TOTP through the settings flow
 * (secret read from the `totp_secret_key` node, code computed with otpauth), saves backup codes,
 * and steps a new session up to aal2 with each factor.
 */

const PASSWORD = "correct-horse-battery-1";

function textNode(nodes: { attributes: unknown }[], id: string): UiNodeTextAttributes {
  const found = nodes.find((node) => (node.attributes as { id?: string }).id === id);
  assert.ok(found !== undefined, `no ${id} node`);
  return found.attributes as UiNodeTextAttributes;
}

async function passwordLogin(frontend: FrontendApi): Promise<string> {
  const { data: flow } = await frontend.createNativeLoginFlow();
  const { data } = await frontend.updateLoginFlow({
    flow: flow.id,
    updateLoginFlowBody: { method: "password", identifier: "jane@example.com", password: PASSWORD },
  });
  assert.equal(data.session.authenticator_assurance_level, "aal1");
  return data.session_token!;
}

for (const dialect of DIALECTS) {
  describe(`@ory/client settings with second factors on ${dialect}`, () => {
    test("TOTP enrolment and backup codes through the settings flow, then aal2 logins with each", async (t) => {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const clock = fixedClock(new Date("2026-03-01T12:00:00.000Z"));
      const h = await harness(t, dialect, { clock, env: { REKEY_PUBLIC_URL: base } });
      await createIdentity(h.rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      await h.rekey.app.listen({ host: "127.0.0.1", port });
      const frontend = new FrontendApi(new Configuration({ basePath: base }));

      const token = await passwordLogin(frontend);
      const { data: settings } = await frontend.createNativeSettingsFlow({ xSessionToken: token });
      const secretText = textNode(settings.ui.nodes, "totp_secret_key").text;
      const secret = (secretText.context as { secret: string }).secret;
      const { data: enrolled } = await frontend.updateSettingsFlow({
        flow: settings.id,
        xSessionToken: token,
        updateSettingsFlowBody: { method: "totp", totp_code: appCode(secret, clock.now()) },
      });
      assert.equal(enrolled.state, "success");
      assert.deepEqual(
        enrolled.ui.messages?.map((message) => message.id),
        [1050001],
      );

      // The old session is aal1 now; the login flow at aal2 takes the next code of the app.
      clock.advance(30_000);
      const { data: stepUp } = await frontend.createNativeLoginFlow({ aal: "aal2", xSessionToken: token });
      const { data: raised } = await frontend.updateLoginFlow({
        flow: stepUp.id,
        xSessionToken: token,
        updateLoginFlowBody: { method: "totp", totp_code: appCode(secret, clock.now()) },
      });
      assert.equal(raised.session.authenticator_assurance_level, "aal2");
      const { data: whoami } = await frontend.toSession({ xSessionToken: token });
      assert.equal(whoami.authenticator_assurance_level, "aal2");

      const { data: second } = await frontend.createNativeSettingsFlow({ xSessionToken: token });
      const { data: shown } = await frontend.updateSettingsFlow({
        flow: second.id,
        xSessionToken: token,
        updateSettingsFlowBody: { method: "lookup_secret", lookup_secret_regenerate: true },
      });
      const list = textNode(shown.ui.nodes, "lookup_secret_codes").text;
      const codes = (list.context as { secrets: { text: string }[] }).secrets.map((secret) => secret.text);
      assert.equal(codes.length, 10);
      const { data: confirmed } = await frontend.updateSettingsFlow({
        flow: second.id,
        xSessionToken: token,
        updateSettingsFlowBody: { method: "lookup_secret", lookup_secret_confirm: true },
      });
      assert.equal(confirmed.state, "success");

      // A new password login is aal1; a backup code lifts it.
      const fresh = await passwordLogin(frontend);
      const { data: withCode } = await frontend.createNativeLoginFlow({ aal: "aal2", xSessionToken: fresh });
      const { data: lifted } = await frontend.updateLoginFlow({
        flow: withCode.id,
        xSessionToken: fresh,
        updateLoginFlowBody: { method: "lookup_secret", lookup_secret: codes[0]! },
      });
      assert.equal(lifted.session.authenticator_assurance_level, "aal2");
      assert.deepEqual(
        lifted.session.authentication_methods?.map((method) => method.method),
        ["password", "lookup_secret"],
      );
    });
  });
}
