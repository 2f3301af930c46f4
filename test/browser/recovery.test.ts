import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { createUser, testApp } from "../support/app.js";
import { chromiumSkip, consoleErrors, launchChromium } from "../support/chromium.js";
import { DIALECTS } from "../support/databases.js";
import { createLink } from "../pages/helpers.js";

/**
 * The recovery pages in a real Chromium (style.md, Tests: Pages): the system browser, no download,
 * against the app listening on a free loopback port. No JavaScript runs on the pages; the browser is
 * here to prove that forms, redirects, cookies, the CSP and Referrer-Policy work as a person sees them.
 */

const SCREENSHOT = "/tmp/rekey-recovery.png";
const NEW_PASSWORD = "Browser-chosen-Passw0rd";

for (const dialect of DIALECTS) {
  describe(`recovery in Chromium on ${dialect}`, () => {
    test("a person opens an admin link, sets a password, signs in, and the link is used up", {
      skip: chromiumSkip,
    }, async (t) => {
      const rekey = await testApp(t, dialect);
      await rekey.app.listen({ host: "127.0.0.1", port: 0 });
      const origin = `http://127.0.0.1:${(rekey.app.server.address() as AddressInfo).port}`;
      const link = await createLink(rekey, await createUser(rekey, "jdoe", { email: "jane@example.com" }));
      const browser = await launchChromium();
      t.after(() => browser.close());
      const page = await (await browser.newContext()).newPage();
      const errors = consoleErrors(page);
      const referers: (string | undefined)[] = [];
      page.on("request", (request) => {
        if (request.url().startsWith(origin) && request.method() === "POST")
          referers.push(request.headers()["referer"]);
      });

      // The link page: a Continue button, the headers that keep its key out of Referer headers.
      const opened = await page.goto(origin + link.path);
      assert.equal(opened?.status(), 200);
      const headers = await opened!.allHeaders();
      assert.equal(headers["referrer-policy"], "no-referrer");
      assert.match(headers["content-security-policy"]!, /^default-src 'none'; style-src 'self';/);
      assert.equal(await page.title(), "Recover your account · Rekey");
      // The stylesheet loaded under the CSP: the card has its rounded border.
      assert.equal(
        await page.evaluate("getComputedStyle(document.querySelector('main')).borderTopLeftRadius"),
        "12px",
      );

      await Promise.all([
        page.waitForURL(`${origin}/if/recovery/`),
        page.getByRole("button", { name: "Continue" }).click(),
      ]);
      await page.getByText("Choose a new password for jdoe.").waitFor();
      assert.equal(
        await page.locator('input[name="username"]').isHidden(),
        true,
        "the username for password managers stays out of sight",
      );
      await page.getByLabel("Password", { exact: true }).fill(NEW_PASSWORD);
      await page.getByLabel("Repeat the password").fill(`${NEW_PASSWORD}!`);
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByText("The passwords do not match.").waitFor();
      assert.equal(await page.getByRole("alert").textContent(), "The passwords do not match.");
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      await page.getByLabel("Password", { exact: true }).fill(NEW_PASSWORD);
      await page.getByLabel("Repeat the password").fill(NEW_PASSWORD);
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByText("Your password has been changed.").waitFor();

      await Promise.all([
        page.waitForURL(`${origin}/if/login/`),
        page.getByRole("link", { name: "Sign in" }).click(),
      ]);
      await page.getByLabel("Username or email").fill("jdoe");
      await page.getByLabel("Password").fill(NEW_PASSWORD);
      await Promise.all([
        page.waitForURL(`${origin}/if/user/`),
        page.getByRole("button", { name: "Sign in" }).click(),
      ]);
      await page.getByText("Signed in as jdoe").waitFor();

      assert.deepEqual(errors, [], "no CSP violation or failed load on the way");
      const reopened = await page.goto(origin + link.path);
      assert.equal(reopened?.status(), 404);
      await page.getByText("This link was already used or has expired. Please request a new link.").waitFor();
      assert.equal((await reopened!.allHeaders())["referrer-policy"], "no-referrer");

      assert.ok(referers.length >= 4, `the browser posted the forms: ${referers.length}`);
      assert.deepEqual(
        referers.filter((referer) => referer !== undefined),
        [],
        "no form POST carried a Referer",
      );
    });
  });
}
