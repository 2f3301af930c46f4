import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { createUser, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import { createKey, createLink, csrfTokenOf, PageClient, setPassword } from "./helpers.js";

const CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function assertPageHeaders(label: string, response: LightMyRequestResponse): void {
  assert.equal(response.headers["content-security-policy"], CSP, label);
  assert.equal(response.headers["referrer-policy"], "no-referrer", label);
  assert.equal(response.headers["x-content-type-options"], "nosniff", label);
  assert.equal(response.headers["x-frame-options"], "DENY", label);
  assert.equal(response.headers["cache-control"], "no-store", label);
  if (response.statusCode !== 303) {
    assert.equal(response.headers["content-type"], "text/html; charset=utf-8", label);
    // The CSP allows no script and no inline style; the pages must not need either.
    assert.doesNotMatch(response.body, /<script|\sstyle=|\son[a-z]+=/i, label);
    assert.match(response.body, /^<!doctype html>\n<html lang="en">/, label);
  }
}

for (const dialect of DIALECTS) {
  describe(`page headers on ${dialect}`, () => {
    test("every page, error pages and redirects included, carries the security headers", async (t) => {
      const rekey = await testApp(t, dialect);
      const pk = await createUser(rekey, "jdoe");
      await setPassword(rekey, pk, "a-Passw0rd-to-sign-in");
      const link = await createLink(rekey, pk);
      const key = await createKey(rekey, "jdoe");
      const browser = new PageClient(rekey);
      const responses: [string, LightMyRequestResponse][] = [];
      const check = async (
        label: string,
        request: Promise<LightMyRequestResponse>,
      ): Promise<LightMyRequestResponse> => {
        const response = await request;
        responses.push([label, response]);
        return response;
      };

      const linkPage = await check("link page", browser.get(link.path));
      assert.equal(linkPage.statusCode, 200);
      await check("key page", browser.get(key.path));
      await check("unusable link", browser.get("/if/flow/default-recovery-flow/?flow_token=nope"));
      await check("CSRF refusal", browser.post(link.path, { csrf_token: "forged" }));
      await check(
        "unsupported media type",
        rekey.app.inject({
          method: "POST",
          url: link.path,
          headers: { "content-type": "text/plain" },
          payload: "x",
        }),
      );
      await check("Continue", browser.post(link.path, { csrf_token: csrfTokenOf(linkPage.body) }));
      const form = await check("new password", browser.get("/if/recovery/"));
      await check(
        "password rejected",
        browser.post("/if/recovery/", {
          csrf_token: csrfTokenOf(form.body),
          password: "short",
          password_repeat: "short",
        }),
      );
      await check(
        "password changed",
        browser.submit("/if/recovery/", {
          password: "a-new-Passw0rd-1",
          password_repeat: "a-new-Passw0rd-1",
        }),
      );
      await check("no recovery session", browser.get("/if/recovery/"));
      await check("recovery invalid", browser.get("/if/recovery/invalid/"));
      await check("forgot password", browser.get("/if/recovery/request/"));
      await check("link requested", browser.submit("/if/recovery/request/", { email: "x@example.com" }));
      await check("login", browser.get("/if/login/"));
      await check(
        "login failed",
        browser.submit("/if/login/", { identifier: "jdoe", password: "wrong-password" }),
      );
      await check(
        "login succeeded",
        browser.submit("/if/login/", { identifier: "jdoe", password: "a-new-Passw0rd-1" }),
      );
      const account = await check("account", browser.get("/if/user/"));
      await check("logout", browser.post("/if/logout/", { csrf_token: csrfTokenOf(account.body) }));
      await check("account without session", browser.get("/if/user/"));
      for (let attempt = 0; attempt < 10; attempt++) {
        await browser.submit("/if/login/", { identifier: "jdoe", password: "wrong-password" });
      }
      const limited = await check(
        "rate limited",
        browser.submit("/if/login/", { identifier: "jdoe", password: "wrong-password" }),
      );
      assert.equal(limited.statusCode, 429);

      for (const [label, response] of responses) {
        assertPageHeaders(`${label} (${response.statusCode})`, response);
      }
      assert.deepEqual(
        responses.map(([, response]) => response.statusCode),
        [200, 200, 404, 403, 415, 303, 200, 200, 200, 303, 404, 200, 200, 200, 400, 303, 200, 303, 303, 429],
      );
    });

    test("the stylesheet is served from this server, cacheable, as CSS", async (t) => {
      const rekey = await testApp(t, dialect);
      const css = await rekey.app.inject({ method: "GET", url: "/static/rekey.css" });
      assert.equal(css.statusCode, 200);
      assert.equal(css.headers["content-type"], "text/css; charset=utf-8");
      assert.equal(css.headers["x-content-type-options"], "nosniff");
      assert.equal(css.headers["cache-control"], "public, max-age=3600");
      assert.match(css.body, /\.card \{/);
      const page = await rekey.app.inject({ method: "GET", url: "/if/login/" });
      assert.match(page.body, /<link rel="stylesheet" href="\/static\/rekey\.css">/);
    });

    test("a value typed into a form comes back escaped", async (t) => {
      const rekey = await testApp(t, dialect);
      const response = await new PageClient(rekey).submit("/if/login/", {
        identifier: `"><script>alert(1)</script>`,
        password: "x",
      });
      assert.equal(response.statusCode, 400);
      assert.ok(response.body.includes('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"'));
      assert.doesNotMatch(response.body, /<script/);
    });

    test("paths that are not pages keep the app's JSON 404, and the API document lists no page", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const url of ["/if/nothing/", "/if/login", "/recovery/use-token/", "/static/other.css"]) {
        const response = await rekey.app.inject({ method: "GET", url });
        assert.equal(response.statusCode, 404, url);
        assert.match(response.headers["content-type"] as string, /^application\/json/, url);
      }
      const document = await rekey.api("GET", "/api/v3/schema/?format=json");
      const paths = Object.keys(document.json().paths as Record<string, unknown>);
      assert.deepEqual(
        paths.filter((path) => /^\/if\/|use-token|^\/static\//.test(path)),
        [],
      );
    });
  });
}
