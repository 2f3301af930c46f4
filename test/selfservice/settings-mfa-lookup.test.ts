import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { useBackupCode } from "../../src/authenticators/service.js";
import { fixedClock } from "../../src/clock.js";
import { DIALECTS } from "../support/databases.js";
import {
  createIdentity,
  csrfOf,
  flowAfter,
  harness,
  KratosClient,
  messageIds,
  MODES,
  P,
  signInWithPassword,
  startLogin,
  userOf,
} from "./helpers.js";
import { nodeNamed, startSettings } from "./settings-mfa-helpers.js";

/**
 * The settings flow's `lookup_secret` method (upstream `selfservice/strategy/lookup/settings.go`):
 * regenerate shows ten codes in the flow without saving them, confirm saves them (and they are never
 * shown again), disable removes them; a user down to two unused codes is told so.
 */

const NOW = new Date("2026-03-01T12:00:00.000Z");
const PASSWORD = "correct-horse-battery-1";

function lookupShape(flow: Record<string, any>): unknown[] {
  return (flow.ui.nodes as any[])
    .filter((n) => n.group === "lookup_secret")
    .map((n) => [n.type, n.attributes.name ?? n.attributes.id, n.meta.label?.id ?? null]);
}

function codesOf(flow: Record<string, any>): string[] {
  const list = nodeNamed(flow, "lookup_secret_codes")!.attributes.text;
  assert.equal(list.id, 1050015);
  const secrets = list.context.secrets as { id: number; text: string; context: { secret: string } }[];
  for (const secret of secrets) {
    assert.equal(secret.id, 1050009);
    assert.equal(secret.context.secret, secret.text);
  }
  assert.equal(list.text, secrets.map((secret) => secret.text).join(", "));
  return secrets.map((secret) => secret.text);
}

for (const dialect of DIALECTS) {
  describe(`settings flow, backup codes, on ${dialect}`, () => {
    for (const mode of MODES) {
      test(`${mode}: codes are shown on regenerate, saved on confirm, and then work at aal2 login`, async (t) => {
        const clock = fixedClock(NOW);
        const { rekey } = await harness(t, dialect, { clock });
        const jane = await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
        const client = new KratosClient(rekey, mode);
        await signInWithPassword(client, "jane@example.com", PASSWORD);
        const settings = await startSettings(client);
        assert.deepEqual(lookupShape(settings), [["input", "lookup_secret_regenerate", 1050008]]);

        const regenerate = await client.submit(settings.ui.action, {
          method: "lookup_secret",
          lookup_secret_regenerate: mode === "browser" ? "true" : true,
          csrf_token: csrfOf(settings),
        });
        if (mode === "browser") {
          assert.equal(regenerate.headers["location"], `${P}/ui/settings?flow=${settings.id}`);
        } else {
          assert.equal(regenerate.statusCode, 200, regenerate.body);
          assert.equal(regenerate.json().continue_with, undefined);
        }
        const shown = await flowAfter(client, regenerate, "settings");
        assert.equal(shown.state, "show_form");
        assert.deepEqual(lookupShape(shown), [
          ["text", "lookup_secret_codes", 1050010],
          ["input", "lookup_secret_confirm", 1050011],
        ]);
        const codes = codesOf(shown);
        assert.equal(codes.length, 10);
        assert.equal(new Set(codes).size, 10);
        // Not saved yet: no backup-code set exists until confirmation.
        const before = await rekey.api("GET", `/api/v3/authenticators/admin/static/?user=${jane.pk}`);
        assert.equal(before.json().pagination.count, 0);

        const confirm = await client.submit(settings.ui.action, {
          method: "lookup_secret",
          lookup_secret_confirm: mode === "browser" ? "true" : true,
          csrf_token: csrfOf(shown),
        });
        if (mode !== "browser") {
          assert.equal(confirm.statusCode, 200, confirm.body);
          assert.equal(confirm.json().active, "lookup_secret");
          assert.equal(confirm.json().state, "success");
          assert.equal(
            nodeNamed(confirm.json(), "lookup_secret_codes"),
            undefined,
            "the codes are shown once",
          );
        }
        const after = await rekey.api("GET", `/api/v3/authenticators/admin/static/?user=${jane.pk}`);
        assert.equal(after.json().pagination.count, 1);

        // The session must now step up; a code that was shown does it, once.
        assert.equal((await client.get("/sessions/whoami")).statusCode, 403);
        const login = await startLogin(client, "?aal=aal2");
        const stepUp = await client.submit(login.ui.action, {
          method: "lookup_secret",
          lookup_secret: codes[3]!,
          csrf_token: csrfOf(login),
        });
        assert.equal(stepUp.statusCode, mode === "browser" ? 303 : 200, stepUp.body);
        // The browser's login renewed its anti-CSRF cookie, so a new flow shows what is saved now.
        const saved = await startSettings(client);
        assert.equal(nodeNamed(saved, "lookup_secret_codes"), undefined, "the codes are shown once");
        assert.deepEqual(lookupShape(saved), [
          ["input", "lookup_secret_regenerate", 1050008],
          ["input", "lookup_secret_disable", 1050016],
        ]);
        assert.equal(JSON.stringify(saved).includes(codes[0]!), false);
      });
    }

    test("down to two unused codes the flow says so on the regenerate button; disable removes them", async (t) => {
      const clock = fixedClock(NOW);
      const { rekey } = await harness(t, dialect, { clock });
      const jane = await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const client = new KratosClient(rekey, "api");
      await signInWithPassword(client, "jane@example.com", PASSWORD);
      const settings = await startSettings(client);
      const shown = (
        await client.submit(settings.ui.action, { method: "lookup_secret", lookup_secret_regenerate: true })
      ).json();
      const codes = codesOf(shown);
      const confirmed = await client.submit(settings.ui.action, {
        method: "lookup_secret",
        lookup_secret_confirm: true,
      });
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      // A second confirmation has nothing left to save.
      const twice = await client.submit(settings.ui.action, {
        method: "lookup_secret",
        lookup_secret_confirm: true,
      });
      assert.equal(twice.statusCode, 403, "the aal1 session must step up first");
      const login = await startLogin(client, "?aal=aal2");
      const stepUp = await client.submit(login.ui.action, {
        method: "lookup_secret",
        lookup_secret: codes[0]!,
      });
      assert.equal(stepUp.statusCode, 200, stepUp.body);
      const again = await client.submit(settings.ui.action, {
        method: "lookup_secret",
        lookup_secret_confirm: true,
      });
      assert.equal(again.statusCode, 400, again.body);
      assert.deepEqual(messageIds(again.json()), [4000001]);

      const user = await userOf(rekey, jane.pk);
      for (const code of codes.slice(1, 7)) {
        assert.ok(await useBackupCode(rekey.deps, rekey.deps.persistence.stores, user, code));
      }
      const three = await startSettings(client);
      assert.deepEqual(nodeNamed(three, "lookup_secret_regenerate")!.messages, []);
      assert.ok(await useBackupCode(rekey.deps, rekey.deps.persistence.stores, user, codes[7]!));
      const two = await startSettings(client);
      assert.deepEqual(nodeNamed(two, "lookup_secret_regenerate")!.messages, [
        {
          id: 1902013,
          text: "Only 2 backup codes left. Generate new ones.",
          type: "info",
          context: { remaining: 2 },
        },
      ]);

      const reveal = await client.submit(two.ui.action, {
        method: "lookup_secret",
        lookup_secret_reveal: true,
      });
      assert.equal(reveal.statusCode, 200, reveal.body);
      assert.deepEqual(messageIds(reveal.json()), [1902014]);
      assert.equal(nodeNamed(reveal.json(), "lookup_secret_codes"), undefined);

      const disable = await client.submit(two.ui.action, {
        method: "lookup_secret",
        lookup_secret_disable: true,
      });
      assert.equal(disable.statusCode, 200, disable.body);
      assert.equal(disable.json().state, "success");
      const sets = await rekey.api("GET", `/api/v3/authenticators/admin/static/?user=${jane.pk}`);
      assert.equal(sets.json().pagination.count, 0);
      assert.deepEqual(lookupShape(disable.json()), [["input", "lookup_secret_regenerate", 1050008]]);
    });

    test("the settings page shows the QR code, the key and each method in a form of its own", async (t) => {
      const { rekey } = await harness(t, dialect, { clock: fixedClock(NOW) });
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const client = new KratosClient(rekey, "browser");
      await signInWithPassword(client, "jane@example.com", PASSWORD);
      const settings = await startSettings(client);
      const page = await client.get(`/ui/settings?flow=${settings.id}`);
      assert.equal(page.statusCode, 200, page.body);
      const secret = nodeNamed(settings, "totp_secret_key")!.attributes.text.context.secret as string;
      assert.ok(page.body.includes(`<code id="totp_secret_key">${secret}</code>`), page.body);
      assert.match(
        page.body,
        /<img id="totp_qr" src="data:image\/svg\+xml;base64,[^"]+" alt="Authenticator app QR code"/,
      );
      assert.equal((page.body.match(/<form /g) ?? []).length, 3);
      assert.equal((page.body.match(/name="csrf_token"/g) ?? []).length, 3);
      assert.ok(page.body.includes('name="lookup_secret_regenerate" value="true" formnovalidate'));
    });
  });
}
