import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildApp, loggerOptions } from "../../src/app.js";
import { createUser, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import { createKey, createLink, csrfTokenOf, PageClient, setPassword } from "./helpers.js";

const NEW_PASSWORD = "a-new-Passw0rd-for-logs";

for (const dialect of DIALECTS) {
  describe(`secrets on the pages on ${dialect}`, () => {
    test("no key, session secret, CSRF secret or password reaches a log line or an audit event", async (t) => {
      const rekey = await testApp(t, dialect);
      const lines: string[] = [];
      const stream = { write: (line: string): void => void lines.push(line) };
      const logged = await buildApp(rekey.deps, {
        logger: { ...(loggerOptions("trace") as object), stream } as never,
      });
      t.after(() => logged.close());

      const pk = await createUser(rekey, "jdoe");
      await setPassword(rekey, pk, "the-old-password-1");
      const link = await createLink(rekey, pk);
      const key = await createKey(rekey, "jdoe");
      const browser = new PageClient(rekey, { app: logged });
      const secrets: string[] = [link.key, key.key, "the-old-password-1", NEW_PASSWORD];

      assert.equal((await browser.get(`/if/flow/other-flow/?flow_token=${link.key}`)).statusCode, 404);
      assert.equal((await browser.get(`/recovery/use-token/${key.key}/`)).statusCode, 200);
      const shown = await browser.get(link.path);
      assert.equal((await browser.post(link.path, { key: link.key, csrf_token: "forged" })).statusCode, 403);
      const redeemed = await browser.post(link.path, { key: link.key, csrf_token: csrfTokenOf(shown.body) });
      assert.equal(redeemed.statusCode, 303);
      secrets.push(browser.cookies.get("rekey_recovery")!, browser.cookies.get("rekey_csrf")!);
      const done = await browser.submit("/if/recovery/", {
        password: NEW_PASSWORD,
        password_repeat: NEW_PASSWORD,
      });
      assert.equal(done.statusCode, 200);
      assert.equal((await browser.get(link.path)).statusCode, 404);
      const keyPage = await browser.get(key.path);
      assert.equal(
        (await browser.post(key.path, { key: key.key, csrf_token: csrfTokenOf(keyPage.body) })).statusCode,
        303,
      );
      assert.equal(
        (await browser.post(key.path, { key: key.key, csrf_token: csrfTokenOf(keyPage.body) })).statusCode,
        404,
      );
      const login = await browser.submit("/if/login/", { identifier: "jdoe", password: NEW_PASSWORD });
      assert.equal(login.statusCode, 303);
      secrets.push(browser.cookies.get("rekey_session")!);

      assert.ok(lines.length > 10, "the logger wrote request lines");
      assert.ok(lines.some((line) => line.includes("/recovery/use-token/[REDACTED]/")));
      const events = await rekey.api("GET", "/api/v3/events/events/?page_size=100");
      const eventText = events.body;
      assert.ok(eventText.includes("recovery_failed") && eventText.includes("recovery_succeeded"));
      for (const secret of secrets) {
        assert.ok(secret.length >= 8);
        const leaks = lines.filter((line) => line.includes(secret));
        assert.deepEqual(leaks, [], "a log line holds a secret");
        assert.equal(eventText.includes(secret), false, "an audit event holds a secret");
        assert.equal(eventText.includes(encodeURIComponent(secret)), false);
      }
    });
  });
}
