import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createUser, type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  csrfTokenOf,
  inputValue,
  messageIds,
  PageClient,
  setCookieHeader,
  setPassword,
  signIn,
} from "./helpers.js";

const PASSWORD = "correct-horse-battery-1";
const LOGIN_FAILED =
  "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.";

async function janeWithPassword(rekey: TestApp): Promise<number> {
  const pk = await createUser(rekey, "jdoe", { email: "Jane.Doe@example.com" });
  await setPassword(rekey, pk, PASSWORD);
  return pk;
}

/** The page without what differs on every render (the CSRF token). */
function withoutToken(body: string): string {
  return body.replace(/name="csrf_token" value="[^"]*"/, 'name="csrf_token" value=""');
}

for (const dialect of DIALECTS) {
  describe(`login pages on ${dialect}`, () => {
    test("the login form names its fields for password managers", async (t) => {
      const rekey = await testApp(t, dialect);
      const page = await new PageClient(rekey).get("/if/login/");
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /<label for="identifier">Username or email<\/label>/);
      assert.match(page.body, /<input id="identifier" name="identifier" type="text" autocomplete="username"/);
      assert.match(
        page.body,
        /<input id="password" name="password" type="password" autocomplete="current-password"/,
      );
      assert.match(page.body, /<a href="\/if\/recovery\/request\/">Forgot your password\?<\/a>/);
    });

    test("signs in by username, sets rekey_session for the session lifetime and shows the account", async (t) => {
      const rekey = await testApp(t, dialect, { env: { REKEY_SESSION_LIFETIME: "7200" } });
      await janeWithPassword(rekey);
      const browser = new PageClient(rekey);
      const response = await browser.submit("/if/login/", { identifier: "jdoe", password: PASSWORD });
      assert.equal(response.statusCode, 303, response.body);
      assert.equal(response.headers["location"], "/if/user/");
      assert.match(
        setCookieHeader(response, "rekey_session"),
        /^rekey_session=[A-Za-z0-9]{43}; Max-Age=7200; Path=\/; HttpOnly; SameSite=Lax$/,
      );
      const account = await browser.get("/if/user/");
      assert.equal(account.statusCode, 200, account.body);
      assert.match(account.body, /data-message-id="1900105">Signed in as jdoe<\/p>/);
      assert.match(account.body, /<form method="post" action="\/if\/logout\/">/);
      const again = await browser.get("/if/login/");
      assert.equal(again.statusCode, 303, "a signed-in browser goes to its account");
      assert.equal(again.headers["location"], "/if/user/");
    });

    test("signs in by email address, whatever its case", async (t) => {
      const rekey = await testApp(t, dialect);
      await janeWithPassword(rekey);
      const browser = await signIn(rekey, "jane.doe@EXAMPLE.com", PASSWORD);
      assert.match((await browser.get("/if/user/")).body, /Signed in as jdoe/);
    });

    test("a wrong password and an unknown user get the same 400 page, which keeps the identifier", async (t) => {
      const rekey = await testApp(t, dialect);
      await janeWithPassword(rekey);
      const wrong = await new PageClient(rekey).submit("/if/login/", {
        identifier: "jdoe",
        password: "not-the-password",
      });
      const unknown = await new PageClient(rekey).submit("/if/login/", {
        identifier: "nobody",
        password: "not-the-password",
      });
      const empty = await new PageClient(rekey).submit("/if/login/", {});
      for (const response of [wrong, unknown, empty]) {
        assert.equal(response.statusCode, 400, response.body);
        assert.deepEqual(messageIds(response.body), [4000006]);
        assert.ok(response.body.includes(LOGIN_FAILED));
        assert.doesNotMatch(String(response.headers["set-cookie"] ?? ""), /rekey_session/);
      }
      assert.equal(inputValue(wrong.body, "identifier"), "jdoe");
      assert.equal(
        withoutToken(wrong.body).replace('value="jdoe"', 'value="nobody"'),
        withoutToken(unknown.body),
      );
    });

    test("an inactive user cannot sign in, and is told nothing more", async (t) => {
      const rekey = await testApp(t, dialect);
      const pk = await janeWithPassword(rekey);
      assert.equal(
        (await rekey.api("PATCH", `/api/v3/core/users/${pk}/`, { is_active: false })).statusCode,
        200,
      );
      const response = await new PageClient(rekey).submit("/if/login/", {
        identifier: "jdoe",
        password: PASSWORD,
      });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(messageIds(response.body), [4000006]);
    });

    test("a login form posted without its CSRF token is refused and signs nobody in", async (t) => {
      const rekey = await testApp(t, dialect);
      await janeWithPassword(rekey);
      const browser = new PageClient(rekey);
      await browser.get("/if/login/");
      const response = await browser.post("/if/login/", { identifier: "jdoe", password: PASSWORD });
      assert.equal(response.statusCode, 403, response.body);
      assert.deepEqual(messageIds(response.body), [4900002]);
      assert.equal(browser.cookies.has("rekey_session"), false);
    });

    test("signing out needs the CSRF token, revokes the session and clears the cookie", async (t) => {
      const rekey = await testApp(t, dialect);
      await janeWithPassword(rekey);
      const browser = await signIn(rekey, "jdoe", PASSWORD);
      const account = await browser.get("/if/user/");
      const forged = await browser.post("/if/logout/", {});
      assert.equal(forged.statusCode, 403);
      assert.equal((await browser.get("/if/user/")).statusCode, 200, "a forged logout changed nothing");

      const stolen = browser.cookies.get("rekey_session")!;
      const response = await browser.post("/if/logout/", { csrf_token: csrfTokenOf(account.body) });
      assert.equal(response.statusCode, 303);
      assert.equal(response.headers["location"], "/if/login/");
      assert.match(setCookieHeader(response, "rekey_session"), /^rekey_session=; Max-Age=0;/);
      const replay = new PageClient(rekey);
      replay.cookies.set("rekey_session", stolen);
      const afterwards = await replay.get("/if/user/");
      assert.equal(
        afterwards.statusCode,
        303,
        "the session is revoked on the server, not only forgotten by the browser",
      );
      assert.equal(afterwards.headers["location"], "/if/login/");
    });

    test("the CSRF secret changes when a browser signs in", async (t) => {
      const rekey = await testApp(t, dialect);
      await janeWithPassword(rekey);
      const browser = new PageClient(rekey);
      const before = await browser.get("/if/login/");
      const secretBefore = browser.cookies.get("rekey_csrf");
      await browser.post("/if/login/", {
        csrf_token: csrfTokenOf(before.body),
        identifier: "jdoe",
        password: PASSWORD,
      });
      assert.notEqual(browser.cookies.get("rekey_csrf"), secretBefore);
      const stale = await browser.post("/if/logout/", { csrf_token: csrfTokenOf(before.body) });
      assert.equal(stale.statusCode, 403, "a token rendered before the login no longer works");
    });

    test("the eleventh attempt on one account within 15 minutes is a 429 page with Retry-After", async (t) => {
      const rekey = await testApp(t, dialect);
      await janeWithPassword(rekey);
      const browser = new PageClient(rekey);
      for (let attempt = 1; attempt <= 10; attempt++) {
        const response = await browser.submit("/if/login/", {
          identifier: "jdoe",
          password: `wrong-${attempt}`,
        });
        assert.equal(response.statusCode, 400, `attempt ${attempt}`);
      }
      const limited = await browser.submit("/if/login/", { identifier: "jdoe", password: PASSWORD });
      assert.equal(limited.statusCode, 429, limited.body);
      assert.match(limited.headers["retry-after"] as string, /^\d+$/);
      assert.ok(Number(limited.headers["retry-after"]) > 0 && Number(limited.headers["retry-after"]) <= 900);
      assert.deepEqual(messageIds(limited.body), [4900001]);
      assert.match(limited.body, /Too many attempts\. Please try again later\./);
      assert.equal(browser.cookies.has("rekey_session"), false);
    });

    test("the account page without a session sends the browser to the login page", async (t) => {
      const rekey = await testApp(t, dialect);
      const browser = new PageClient(rekey);
      browser.cookies.set("rekey_session", "made-up");
      const response = await browser.get("/if/user/");
      assert.equal(response.statusCode, 303);
      assert.equal(response.headers["location"], "/if/login/");
    });
  });
}
