import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixedClock } from "../../src/clock.js";
import { DIALECTS } from "../support/databases.js";
import {
  createIdentity,
  csrfOf,
  fetchFlow,
  flowAfter,
  harness,
  KratosClient,
  messageIds,
  MODES,
  P,
  signInWithPassword,
  startLogin,
} from "./helpers.js";
import { appCode, nodeNamed, startSettings } from "./settings-mfa-helpers.js";

/**
 * The settings flow's `totp` and `lookup_secret` methods (kratos.md §3.6; upstream
 * `selfservice/strategy/{totp,lookup}/settings.go`) through raw HTTP in every client kind: enrol an
 * authenticator app from the secret the flow shows, then log in at aal2 with it; backup codes shown
 * once and saved on confirmation.
 */

const NOW = new Date("2026-03-01T12:00:00.000Z");
const PASSWORD = "correct-horse-battery-1";

function shape(flow: Record<string, any>): unknown[] {
  return (flow.ui.nodes as any[])
    .filter((n) => n.group === "totp" || n.group === "lookup_secret")
    .map((n) => [n.type, n.group, n.attributes.name ?? n.attributes.id, n.meta.label?.id ?? null]);
}

for (const dialect of DIALECTS) {
  describe(`settings flow, second factors, on ${dialect}`, () => {
    for (const mode of MODES) {
      test(`${mode}: TOTP enrolled from the flow's secret, its code not replayable, then an aal2 login`, async (t) => {
        const clock = fixedClock(NOW);
        const { rekey } = await harness(t, dialect, { clock });
        await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
        const client = new KratosClient(rekey, mode);
        await signInWithPassword(client, "jane@example.com", PASSWORD);
        const settings = await startSettings(client);
        assert.deepEqual(shape(settings), [
          ["img", "totp", "totp_qr", 1050005],
          ["text", "totp", "totp_secret_key", 1050017],
          ["input", "totp", "totp_code", 1070006],
          ["input", "totp", "method", 1070003],
          ["input", "lookup_secret", "lookup_secret_regenerate", 1050008],
        ]);
        const qr = nodeNamed(settings, "totp_qr")!;
        assert.deepEqual(Object.keys(qr.attributes), ["src", "id", "width", "height", "node_type"]);
        assert.match(qr.attributes.src, /^data:image\/svg\+xml;base64,/);
        const secretNode = nodeNamed(settings, "totp_secret_key")!;
        assert.deepEqual(Object.keys(secretNode.attributes), ["text", "id", "node_type"]);
        const secret = secretNode.attributes.text.context.secret as string;
        assert.equal(secretNode.attributes.text.id, 1050006);
        assert.equal(secretNode.attributes.text.text, secret);
        assert.match(secret, /^[A-Z2-7]{32}$/);
        // A second read of the flow shows the same secret: the flow holds it.
        const again = await fetchFlow(client, "settings", settings.id);
        assert.equal(nodeNamed(again, "totp_secret_key")!.attributes.text.context.secret, secret);

        const wrong = await client.submit(settings.ui.action, {
          method: "totp",
          totp_code: appCode(secret, new Date(NOW.getTime() + 10 * 60_000)),
          csrf_token: csrfOf(settings),
        });
        const refused = await flowAfter(client, wrong, "settings");
        if (mode !== "browser") assert.equal(wrong.statusCode, 400, wrong.body);
        assert.deepEqual(messageIds(refused), [4000008]);
        assert.equal(refused.state, "show_form");

        const code = appCode(secret, clock.now());
        const response = await client.submit(settings.ui.action, {
          method: "totp",
          totp_code: code,
          csrf_token: csrfOf(settings),
        });
        if (mode === "browser") {
          assert.equal(response.statusCode, 303, response.body);
        } else {
          assert.equal(response.statusCode, 200, response.body);
          assert.equal(response.json().state, "success");
          assert.equal(response.json().active, "totp");
          assert.deepEqual(messageIds(response.json()), [1050001]);
        }
        const devices = await rekey.api("GET", "/api/v3/authenticators/admin/totp/");
        assert.equal(devices.json().pagination.count, 1);

        // Now jane has a second factor: her aal1 session must step up, and the enrolment code is spent.
        assert.equal((await client.get("/sessions/whoami")).statusCode, 403);
        const login = await startLogin(client, "?aal=aal2");
        const replay = await client.submit(login.ui.action, {
          method: "totp",
          totp_code: code,
          csrf_token: csrfOf(login),
        });
        if (mode !== "browser") assert.equal(replay.statusCode, 400, replay.body);
        clock.advance(30_000);
        const stepUp = await client.submit(login.ui.action, {
          method: "totp",
          totp_code: appCode(secret, clock.now()),
          csrf_token: csrfOf(login),
        });
        assert.equal(stepUp.statusCode, mode === "browser" ? 303 : 200, stepUp.body);
        const whoami = await client.get("/sessions/whoami", { accept: "application/json" });
        assert.equal(whoami.statusCode, 200, whoami.body);
        assert.equal(whoami.json().authenticator_assurance_level, "aal2");

        // At aal2 the flow offers to unlink the app instead of a new secret.
        const linked = await startSettings(client);
        assert.deepEqual(shape(linked).slice(0, 1), [["input", "totp", "totp_unlink", 1050004]]);
        assert.equal(nodeNamed(linked, "totp_secret_key"), undefined);
      });
    }

    test("an unlink through the flow removes the app; the browser's button alone names the method", async (t) => {
      const clock = fixedClock(NOW);
      const { rekey } = await harness(t, dialect, { clock });
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const client = new KratosClient(rekey, "browser");
      await signInWithPassword(client, "jane@example.com", PASSWORD);
      const settings = await startSettings(client);
      const secret = nodeNamed(settings, "totp_secret_key")!.attributes.text.context.secret as string;
      await client.submit(settings.ui.action, {
        method: "totp",
        totp_code: appCode(secret, clock.now()),
        csrf_token: csrfOf(settings),
      });
      clock.advance(30_000);
      const login = await startLogin(client, "?aal=aal2");
      const stepUp = await client.submit(login.ui.action, {
        method: "totp",
        totp_code: appCode(secret, clock.now()),
        csrf_token: csrfOf(login),
      });
      assert.equal(stepUp.statusCode, 303, stepUp.body);
      const linked = await startSettings(client);
      const unlink = await client.submit(linked.ui.action, {
        totp_unlink: "true",
        csrf_token: csrfOf(linked),
      });
      assert.equal(unlink.statusCode, 303, unlink.body);
      assert.equal(unlink.headers["location"], `${P}/ui/settings?flow=${linked.id}`);
      const saved = await fetchFlow(client, "settings", linked.id);
      assert.equal(saved.state, "success");
      assert.deepEqual(messageIds(saved), [1050001]);
      const devices = await rekey.api("GET", "/api/v3/authenticators/admin/totp/");
      assert.equal(devices.json().pagination.count, 0);
      const deleted = await rekey.api("GET", "/api/v3/events/events/?action=model_deleted");
      assert.equal(deleted.json().pagination.count, 1);
    });

    test("a session that authenticated over an hour ago may not change second factors", async (t) => {
      const clock = fixedClock(NOW);
      const { rekey } = await harness(t, dialect, { clock });
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const client = new KratosClient(rekey, "api");
      await signInWithPassword(client, "jane@example.com", PASSWORD);
      clock.advance(50 * 60_000);
      assert.equal((await client.get("/sessions/whoami")).statusCode, 200); // still active
      clock.advance(11 * 60_000);
      const settings = await startSettings(client);
      const secret = nodeNamed(settings, "totp_secret_key")!.attributes.text.context.secret as string;
      for (const body of [
        { method: "totp", totp_code: appCode(secret, clock.now()) },
        { method: "lookup_secret", lookup_secret_regenerate: true },
      ]) {
        const response = await client.submit(settings.ui.action, body);
        assert.equal(response.statusCode, 403, response.body);
        assert.equal(response.json().error.id, "session_refresh_required");
      }
      const devices = await rekey.api("GET", "/api/v3/authenticators/admin/totp/");
      assert.equal(devices.json().pagination.count, 0);
    });
  });
}
