import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { createUser, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import { createLink } from "../pages/helpers.js";

/**
 * The recovery pages in a real Chromium (style.md, Tests: Pages): the system browser, no download,
 * against the app listening on a free loopback port. No JavaScript runs on the pages; the browser is
 * here to prove that forms, redirects, cookies, the CSP and Referrer-Policy work as a person sees them.
 */

const CHROMIUM_PATH = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const SCREENSHOT = "/tmp/rekey-recovery.png";
const NEW_PASSWORD = "Browser-chosen-Passw0rd";
const chromiumMissing = !existsSync(CHROMIUM_PATH);

if (chromiumMissing && process.env["CI"] !== "true") {
  console.warn(
    `\n*** Chromium not found at ${CHROMIUM_PATH}: browser tests are SKIPPED. Set CHROMIUM_PATH. ***\n`,
  );
}

/** In CI a missing browser fails the suite (never a silent skip); elsewhere it skips, loudly. */
const skipReason: string | false =
  chromiumMissing && process.env["CI"] !== "true" ? `Chromium not found at ${CHROMIUM_PATH}` : false;

async function launch(): Promise<Browser> {
  if (chromiumMissing) {
    throw new Error(`CI=true but Chromium is not at ${CHROMIUM_PATH}: browser tests must run in CI`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** Everything the browser console said: a CSP violation (a blocked stylesheet, say) shows up here. */
function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  return errors;
}

for (const dialect of DIALECTS) {
  describe(`recovery in Chromium on ${dialect}`, () => {
    test("a person opens an admin link, sets a password, signs in, and the link is used up", {
      skip: skipReason,
    }, async (t) => {
      const rekey = await testApp(t, dialect);
      await rekey.app.listen({ host: "127.0.0.1", port: 0 });
      const origin = `http://127.0.0.1:${(rekey.app.server.address() as AddressInfo).port}`;
      const link = await createLink(rekey, await createUser(rekey, "jdoe", { email: "jane@example.com" }));
      const browser = await launch();
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
