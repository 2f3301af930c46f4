import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { fixedClock } from "../../src/clock.js";
import { maskCSRFSecret } from "../../src/pages/csrf.js";
import { createUser, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  addTOTPDevice,
  createKey,
  createLink,
  csrfTokenOf,
  currentTOTPCode,
  inputValue,
  messageIds,
  PageClient,
  setCookieHeader,
  setPassword,
  signIn,
  totpDeviceCount,
  UNUSABLE_TEXT,
} from "./helpers.js";

const NEW_PASSWORD = "a-new-Passw0rd-for-jane";

function assertUnusablePage(response: { statusCode: number; body: string }): void {
  assert.equal(response.statusCode, 404, response.body);
  assert.match(
    response.body,
    new RegExp(`data-message-id="4060004">${UNUSABLE_TEXT.replaceAll(".", "\\.")}</p>`),
  );
  assert.match(response.body, /<a href="\/if\/recovery\/request\/">/);
}

for (const dialect of DIALECTS) {
  describe(`recovery link pages on ${dialect}`, () => {
    test("an admin link sets a new password once, revokes old sessions and lets the user sign in", async (t) => {
      const rekey = await testApp(t, dialect);
      const pk = await createUser(rekey, "jdoe", { email: "jane@example.com" });
      await setPassword(rekey, pk, "the-old-password-1");
      const oldSession = await signIn(rekey, "jdoe", "the-old-password-1");
      const link = await createLink(rekey, pk);
      const browser = new PageClient(rekey);

      const shown = await browser.get(link.path);
      assert.equal(shown.statusCode, 200, shown.body);
      assert.match(shown.body, /<button type="submit">Continue<\/button>/);
      assert.equal(inputValue(shown.body, "key"), link.key);
      assert.match(shown.body, /<form method="post" action="\/if\/flow\/default-recovery-flow\/">/);
      const again = await browser.get(link.path);
      assert.equal(again.statusCode, 200, "GET never consumes: a mail scanner cannot burn the link");
      assert.notEqual(
        csrfTokenOf(again.body),
        csrfTokenOf(shown.body),
        "the masked token differs on every render",
      );

      const noToken = await browser.post(link.path, { key: link.key });
      assert.equal(noToken.statusCode, 403, noToken.body);
      const forged = maskCSRFSecret(randomBytes(32), randomBytes(32));
      const wrongToken = await browser.post(link.path, { key: link.key, csrf_token: forged });
      assert.equal(wrongToken.statusCode, 403, wrongToken.body);
      const noCookie = await new PageClient(rekey).post(link.path, {
        key: link.key,
        csrf_token: csrfTokenOf(shown.body),
      });
      assert.equal(noCookie.statusCode, 403, "a token without its cookie is refused");
      assert.equal((await browser.get(link.path)).statusCode, 200, "refused forms left the link usable");

      const redeemed = await browser.post("/if/flow/default-recovery-flow/", {
        key: link.key,
        csrf_token: csrfTokenOf(shown.body),
      });
      assert.equal(redeemed.statusCode, 303, redeemed.body);
      assert.equal(redeemed.headers["location"], "/if/recovery/");
      assert.equal(
        setCookieHeader(redeemed, "rekey_recovery").replace(/=[^;]+;/, "=…;"),
        "rekey_recovery=…; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax",
      );

      const form = await browser.get("/if/recovery/");
      assert.equal(form.statusCode, 200, form.body);
      assert.match(
        form.body,
        /<input id="password" name="password" type="password" autocomplete="new-password"/,
      );
      assert.match(
        form.body,
        /<input id="password_repeat" name="password_repeat" type="password" autocomplete="new-password"/,
      );
      assert.match(form.body, /<label for="password">Password<\/label>/);
      assert.doesNotMatch(
        form.body,
        /name="reset_mfa"/,
        "an admin link without allow_mfa_reset may not reset MFA",
      );
      assert.doesNotMatch(form.body, /name="code"/, "nobody has a second factor yet");

      const mismatch = await browser.submit("/if/recovery/", {
        password: NEW_PASSWORD,
        password_repeat: `${NEW_PASSWORD}x`,
      });
      assert.equal(mismatch.statusCode, 200, mismatch.body);
      assert.match(mismatch.body, /role="alert" data-message-id="4000001">The passwords do not match\.<\/p>/);
      const short = await browser.submit("/if/recovery/", { password: "short", password_repeat: "short" });
      assert.equal(short.statusCode, 200, short.body);
      assert.match(
        short.body,
        /data-message-id="4000032">The password must be at least 8 characters long, but got 5\.<\/p>/,
      );
      const missing = await browser.submit("/if/recovery/", {});
      assert.equal(missing.statusCode, 200, missing.body);
      assert.deepEqual(messageIds(missing.body), [4000002]);

      const done = await browser.submit("/if/recovery/", {
        password: NEW_PASSWORD,
        password_repeat: NEW_PASSWORD,
      });
      assert.equal(done.statusCode, 200, done.body);
      assert.match(done.body, /data-message-id="1900102">Your password has been changed\.<\/p>/);
      assert.match(done.body, /<a href="\/if\/login\/">Sign in<\/a>/);
      assert.match(
        setCookieHeader(done, "rekey_recovery"),
        /^rekey_recovery=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/,
      );

      const after = await browser.get("/if/recovery/");
      assert.equal(after.statusCode, 303);
      assert.equal(after.headers["location"], "/if/recovery/invalid/");
      assertUnusablePage(await browser.get("/if/recovery/invalid/"));
      assertUnusablePage(await browser.get(link.path));
      assertUnusablePage(
        await browser.post("/if/flow/default-recovery-flow/", {
          key: link.key,
          csrf_token: csrfTokenOf(shown.body),
        }),
      );

      const revoked = await oldSession.get("/if/user/");
      assert.equal(revoked.statusCode, 303, "the session from before the recovery was revoked");
      assert.equal(revoked.headers["location"], "/if/login/");
      const refused = await new PageClient(rekey).submit("/if/login/", {
        identifier: "jdoe",
        password: "the-old-password-1",
      });
      assert.equal(refused.statusCode, 400, "the old password no longer works");
      const signedIn = await signIn(rekey, "jdoe", NEW_PASSWORD);
      const account = await signedIn.get("/if/user/");
      assert.equal(account.statusCode, 200, account.body);
      assert.match(account.body, /Signed in as jdoe/);
    });

    test("a link created with allow_mfa_reset offers reset_mfa, checked by default, once the user has a second factor", async (t) => {
      const rekey = await testApp(t, dialect);
      const pk = await createUser(rekey, "jdoe");
      const open = async (): Promise<string> => {
        const link = await createLink(rekey, pk, { allow_mfa_reset: true });
        const browser = new PageClient(rekey);
        const shown = await browser.get(link.path);
        const redeemed = await browser.post(link.path, { csrf_token: csrfTokenOf(shown.body) });
        assert.equal(redeemed.statusCode, 303, "the key may also come from the URL's flow_token");
        return (await browser.get("/if/recovery/")).body;
      };
      assert.doesNotMatch(await open(), /name="reset_mfa"/, "nothing to reset without a second factor");
      await addTOTPDevice(rekey, pk);
      const form = await open();
      assert.match(form, /<input id="reset_mfa" name="reset_mfa" type="checkbox" value="true" checked>/);
      assert.match(form, /<label for="reset_mfa">/);
      assert.doesNotMatch(
        form,
        /name="code"/,
        "a session that may reset the second factor does not ask for it",
      );
    });

    test("an admin link without allow_mfa_reset asks a user with a second factor for a code", async (t) => {
      const rekey = await testApp(t, dialect);
      const pk = await createUser(rekey, "jdoe");
      await addTOTPDevice(rekey, pk);
      const link = await createLink(rekey, pk);
      const browser = new PageClient(rekey);
      const shown = await browser.get(link.path);
      assert.equal((await browser.post(link.path, { csrf_token: csrfTokenOf(shown.body) })).statusCode, 303);
      const form = await browser.get("/if/recovery/");
      assert.match(form.body, /<input id="code" name="code" type="text" autocomplete="one-time-code"/);
      assert.doesNotMatch(form.body, /name="reset_mfa"/);
      const wrong = await browser.submit("/if/recovery/", {
        password: NEW_PASSWORD,
        password_repeat: NEW_PASSWORD,
        code: "000000",
      });
      assert.equal(wrong.statusCode, 200, wrong.body);
      assert.match(wrong.body, /role="alert" data-message-id="\d+">Invalid code\.<\/p>/);
      const code = currentTOTPCode(rekey);
      const done = await browser.submit("/if/recovery/", {
        password: NEW_PASSWORD,
        password_repeat: NEW_PASSWORD,
        code: code === "000000" ? "111111" : code,
      });
      assert.match(done.body, /Your password has been changed\./);
      assert.equal(await totpDeviceCount(rekey, pk), 1, "the second factor stays");
    });

    test("a recovery key from the tenants API works once, on its own URL, and may reset the second factor", async (t) => {
      const rekey = await testApp(t, dialect);
      const pk = await createUser(rekey, "jdoe");
      await addTOTPDevice(rekey, pk);
      const key = await createKey(rekey, "jdoe");
      const browser = new PageClient(rekey);
      const shown = await browser.get(key.path);
      assert.equal(shown.statusCode, 200, shown.body);
      assert.match(shown.body, new RegExp(`<form method="post" action="/recovery/use-token/${key.key}/">`));
      assert.equal((await browser.get(key.path)).statusCode, 200);
      assert.equal((await browser.post(key.path, { key: key.key })).statusCode, 403);

      const redeemed = await browser.post(key.path, { key: key.key, csrf_token: csrfTokenOf(shown.body) });
      assert.equal(redeemed.statusCode, 303, redeemed.body);
      assert.equal(redeemed.headers["location"], "/if/recovery/");
      assertUnusablePage(await new PageClient(rekey).get(key.path));
      assertUnusablePage(await browser.post(key.path, { csrf_token: csrfTokenOf(shown.body) }));

      const form = await browser.get("/if/recovery/");
      assert.match(
        form.body,
        /name="reset_mfa" type="checkbox" value="true" checked/,
        "recovery keys may reset MFA (A7)",
      );
      const done = await browser.submit("/if/recovery/", {
        password: NEW_PASSWORD,
        password_repeat: NEW_PASSWORD,
        reset_mfa: "true",
      });
      assert.match(done.body, /Your password has been changed\./);
      assert.equal(await totpDeviceCount(rekey, pk), 0, "the checked box removed the second factor");
      await signIn(rekey, "jdoe", NEW_PASSWORD);
    });

    test("a link under another slug, an unknown key and no key at all give the unusable page", async (t) => {
      const rekey = await testApp(t, dialect);
      const pk = await createUser(rekey, "jdoe");
      const link = await createLink(rekey, pk);
      const browser = new PageClient(rekey);
      assertUnusablePage(await browser.get(`/if/flow/other-flow/?flow_token=${link.key}`));
      assertUnusablePage(await browser.get("/if/flow/default-recovery-flow/?flow_token=unknown"));
      assertUnusablePage(await browser.get("/if/flow/default-recovery-flow/"));
      assertUnusablePage(await browser.get("/recovery/use-token/unknown/"));
      assertUnusablePage(await browser.get(`/recovery/use-token/${link.key}/`)); // a link key is not a recovery key
      assert.equal((await browser.get(link.path)).statusCode, 200);
    });

    test("the recovery session ends after an hour", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:00Z"));
      const rekey = await testApp(t, dialect, { clock });
      const link = await createLink(rekey, await createUser(rekey, "jdoe"));
      const browser = new PageClient(rekey);
      const shown = await browser.get(link.path);
      assert.equal((await browser.post(link.path, { csrf_token: csrfTokenOf(shown.body) })).statusCode, 303);
      const form = await browser.get("/if/recovery/");
      assert.equal(form.statusCode, 200);
      clock.advance(61 * 60_000);
      const late = await browser.get("/if/recovery/");
      assert.equal(late.statusCode, 303);
      assert.equal(late.headers["location"], "/if/recovery/invalid/");
      const posted = await browser.post("/if/recovery/", {
        csrf_token: csrfTokenOf(form.body),
        password: NEW_PASSWORD,
        password_repeat: NEW_PASSWORD,
      });
      assertUnusablePage(posted);
    });

    test("the new-password form without a recovery session is the unusable page", async (t) => {
      const rekey = await testApp(t, dialect);
      const browser = new PageClient(rekey);
      const login = await browser.get("/if/login/"); // any form page hands out a CSRF cookie and token
      const none = await browser.get("/if/recovery/");
      assert.equal(none.statusCode, 303);
      assert.equal(none.headers["location"], "/if/recovery/invalid/");
      assertUnusablePage(
        await browser.post("/if/recovery/", {
          csrf_token: csrfTokenOf(login.body),
          password: NEW_PASSWORD,
          password_repeat: NEW_PASSWORD,
        }),
      );
      browser.cookies.set("rekey_recovery", "not-a-session");
      assert.equal((await browser.get("/if/recovery/")).headers["location"], "/if/recovery/invalid/");
    });

    test("cookies are Secure when the public URL is https", async (t) => {
      const rekey = await testApp(t, dialect, { env: { REKEY_PUBLIC_URL: "https://rekey.example.com" } });
      const pk = await createUser(rekey, "jdoe");
      await setPassword(rekey, pk, "the-old-password-1");
      const link = await createLink(rekey, pk);
      const browser = new PageClient(rekey);
      const shown = await browser.get(link.path);
      assert.match(
        setCookieHeader(shown, "rekey_csrf"),
        /^rekey_csrf=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
      );
      const redeemed = await browser.post(link.path, { csrf_token: csrfTokenOf(shown.body) });
      assert.match(
        setCookieHeader(redeemed, "rekey_recovery"),
        /; Max-Age=3600; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
      );
      const login = await new PageClient(rekey).submit("/if/login/", {
        identifier: "jdoe",
        password: "the-old-password-1",
      });
      assert.match(
        setCookieHeader(login, "rekey_session"),
        /; Max-Age=86400; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
      );
    });
  });
}
