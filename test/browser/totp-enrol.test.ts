import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { decodeBase32Secret, totpCodeAt } from "../../src/authenticators/totp.js";
import { fixedClock } from "../../src/clock.js";
import { createUser, testApp } from "../support/app.js";
import { chromiumSkip, consoleErrors, launchChromium } from "../support/chromium.js";
import { DIALECTS } from "../support/databases.js";
import { createLink, setPassword } from "../pages/helpers.js";

/**
 * A person enrols an authenticator app from the pages in a real Chromium, and a recovery link then
 * demands its code: the second factor survives a password recovery (authentik-v3.md §3.3.3).
 */

const SCREENSHOT = "/tmp/rekey-totp-enrol.png";
const PASSWORD = "Jane-s-first-Passw0rd";
const NEW_PASSWORD = "Jane-s-second-Passw0rd";
const SIX_DIGITS = { digits: 6 as const, period: 30, algorithm: "sha1" as const };

for (const dialect of DIALECTS) {
  describe(`TOTP enrolment and recovery in Chromium on ${dialect}`, () => {
    test("a person enrols an authenticator app, and a recovery link then demands its code", {
      skip: chromiumSkip,
    }, async (t) => {
      // The server's time is the test's: codes are computed for the instant the server checks them.
      const clock = fixedClock(new Date());
      const rekey = await testApp(t, dialect, { clock });
      await rekey.app.listen({ host: "127.0.0.1", port: 0 });
      const origin = `http://127.0.0.1:${(rekey.app.server.address() as AddressInfo).port}`;
      const pk = await createUser(rekey, "jdoe", { email: "jane@example.com" });
      await setPassword(rekey, pk, PASSWORD);
      const browser = await launchChromium();
      t.after(() => browser.close());

      // Sign in, then follow the account page's link to the enrolment page.
      const page = await (await browser.newContext()).newPage();
      const errors = consoleErrors(page);
      await page.goto(`${origin}/if/login/`);
      await page.getByLabel("Username or email").fill("jdoe");
      await page.getByLabel("Password").fill(PASSWORD);
      await Promise.all([
        page.waitForURL(`${origin}/if/user/`),
        page.getByRole("button", { name: "Sign in" }).click(),
      ]);
      await Promise.all([
        page.waitForURL(`${origin}/if/user/totp/`),
        page.getByRole("link", { name: "Set up an authenticator app" }).click(),
      ]);

      // The QR code is an inline SVG the CSP lets through; the key is there as text.
      const qr = page.getByRole("img", { name: "QR code for your authenticator app" });
      assert.ok(
        (await qr.evaluate((image: { naturalWidth: number }) => image.naturalWidth)) > 0,
        "the QR code image loaded",
      );
      const secret = decodeBase32Secret((await page.locator("#totp-secret").textContent()) ?? "");
      assert.ok(secret !== null, "the page shows a base32 key");
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      await page.getByLabel("Authentication code").fill("000000");
      await page.getByRole("button", { name: "Confirm" }).click();
      await page.getByText("Invalid code.").waitFor();
      await page.getByLabel("Authentication code").fill(totpCodeAt(SIX_DIGITS, secret, clock.now()));
      await page.getByRole("button", { name: "Confirm" }).click();
      await page.getByText("Your authenticator app is set up.").waitFor();
      clock.advance(30_000); // the next code belongs to a later step: the enrolment code cannot be replayed

      // An admin issues a recovery link; opened on another device, it demands the second factor.
      const link = await createLink(rekey, pk);
      const recovering = await (await browser.newContext()).newPage();
      const recoveryErrors = consoleErrors(recovering);
      await recovering.goto(origin + link.path);
      await Promise.all([
        recovering.waitForURL(`${origin}/if/recovery/`),
        recovering.getByRole("button", { name: "Continue" }).click(),
      ]);
      assert.equal(
        await recovering.locator('input[name="reset_mfa"]').count(),
        0,
        "an admin link may not reset MFA",
      );
      await recovering.getByLabel("Password", { exact: true }).fill(NEW_PASSWORD);
      await recovering.getByLabel("Repeat the password").fill(NEW_PASSWORD);
      await recovering.getByLabel("Authentication code").fill("000000");
      await recovering.getByRole("button", { name: "Save" }).click();
      await recovering.getByText("Invalid code.").waitFor();
      assert.equal(await recovering.getByRole("alert").textContent(), "Invalid code.");

      await recovering.getByLabel("Password", { exact: true }).fill(NEW_PASSWORD);
      await recovering.getByLabel("Repeat the password").fill(NEW_PASSWORD);
      await recovering.getByLabel("Authentication code").fill(totpCodeAt(SIX_DIGITS, secret, clock.now()));
      await recovering.getByRole("button", { name: "Save" }).click();
      await recovering.getByText("Your password has been changed.").waitFor();

      // The new password works; the authenticator app is still enrolled.
      await Promise.all([
        recovering.waitForURL(`${origin}/if/login/`),
        recovering.getByRole("link", { name: "Sign in" }).click(),
      ]);
      await recovering.getByLabel("Username or email").fill("jdoe");
      await recovering.getByLabel("Password").fill(NEW_PASSWORD);
      await Promise.all([
        recovering.waitForURL(`${origin}/if/user/`),
        recovering.getByRole("button", { name: "Sign in" }).click(),
      ]);
      await recovering.getByText("Signed in as jdoe").waitFor();
      const devices = await rekey.api("GET", `/api/v3/authenticators/admin/totp/?user=${pk}`);
      assert.equal(devices.json().pagination.count, 1);

      assert.deepEqual([...errors, ...recoveryErrors], [], "no CSP violation or failed load on the way");
    });
  });
}
