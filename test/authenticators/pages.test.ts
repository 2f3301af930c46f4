import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { verifySecondFactor } from "../../src/authenticators/service.js";
import { decodeBase32Secret, totpCodeAt } from "../../src/authenticators/totp.js";
import { fixedClock } from "../../src/clock.js";
import { createUser, type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import { recordStatements } from "../support/statements.js";
import {
  addTOTPDevice,
  createLink,
  csrfTokenOf,
  inputValue,
  messageIds,
  PageClient,
  setPassword,
  signIn,
} from "../pages/helpers.js";
import { deviceEvents, findUser } from "./helpers.js";

/** The self-enrolment pages through app.inject(), as a browser without JavaScript uses them. */

const PASSWORD = "jane-s-Passw0rd-1";
const SIX_DIGITS = { digits: 6 as const, period: 30, algorithm: "sha1" as const };

async function signedInJane(rekey: TestApp): Promise<{ pk: number; browser: PageClient }> {
  const pk = await createUser(rekey, "jdoe", { email: "jane@example.com" });
  await setPassword(rekey, pk, PASSWORD);
  return { pk, browser: await signIn(rekey, "jdoe", PASSWORD) };
}

/** The key the enrolment page shows, as a person would type it into an app. */
function secretOnPage(body: string): Uint8Array {
  const match = /<code id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(body);
  assert.ok(match !== null, "the page shows the key as text");
  const secret = decodeBase32Secret(match[1]!);
  assert.ok(secret !== null);
  return secret;
}

function codesOnPage(body: string): string[] {
  return [...body.matchAll(/<li><code>([a-z0-9]+)<\/code><\/li>/g)].map((match) => match[1]!);
}

async function totpDevices(rekey: TestApp, userPk: number) {
  const user = await findUser(rekey, userPk);
  return rekey.deps.persistence.stores.totpDevices.userTOTPDevices(user.tenantId, user.id, {
    includeUnconfirmed: true,
  });
}

for (const dialect of DIALECTS) {
  describe(`authenticator enrolment pages on ${dialect}`, () => {
    test("a signed-in user enrols an authenticator app: QR code and key shown, a wrong code refused, the right one confirms", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:10Z"));
      const rekey = await testApp(t, dialect, { clock });
      const { pk, browser } = await signedInJane(rekey);

      const page = await browser.get("/if/user/totp/");
      assert.equal(page.statusCode, 200, page.body);
      assert.match(String(page.headers["content-security-policy"]), /img-src 'self' data:/);
      const qr =
        /<img src="data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="QR code for your authenticator app"/.exec(
          page.body,
        );
      assert.ok(qr !== null, "an inline SVG QR code");
      assert.match(
        Buffer.from(qr[1]!, "base64").toString(),
        /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
      );
      assert.doesNotMatch(page.body, /<script/);
      const secret = secretOnPage(page.body);
      const devices = await totpDevices(rekey, pk);
      assert.equal(devices.length, 1);
      assert.equal(devices[0]!.confirmed, false, "not a second factor until its first code");
      assert.equal(inputValue(page.body, "device"), String(devices[0]!.id));

      assert.equal(
        secretOnPage((await browser.get("/if/user/totp/")).body).toString(),
        secret.toString(),
        "a reload shows the same key",
      );
      assert.equal((await totpDevices(rekey, pk)).length, 1, "and makes no second device");

      const wrong = await browser.submit("/if/user/totp/", {
        device: String(devices[0]!.id),
        code: "000000",
      });
      assert.equal(wrong.statusCode, 200, wrong.body);
      assert.match(wrong.body, /role="alert" data-message-id="4900005">Invalid code\.<\/p>/);
      assert.equal(secretOnPage(wrong.body).toString(), secret.toString());
      assert.equal((await totpDevices(rekey, pk))[0]!.confirmed, false);

      const code = totpCodeAt(SIX_DIGITS, secret, clock.now());
      const confirmed = await browser.submit("/if/user/totp/", { device: String(devices[0]!.id), code });
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      assert.match(confirmed.body, /Your authenticator app is set up\./);
      assert.equal((await totpDevices(rekey, pk))[0]!.confirmed, true);

      // Jane has a second factor now: her password-only (aal1) session must prove it before any change.
      const blocked = await browser.get("/if/user/totp/");
      assert.equal(blocked.statusCode, 403, blocked.body);
      assert.match(blocked.body, /data-message-id="1902016">You already have a second factor\./);
      assert.match(
        blocked.body,
        /<a href="\/if\/user\/verify\/\?next=%2Fif%2Fuser%2Ftotp%2F">Verify with a second factor<\/a>/,
      );
      const sneaked = await browser.post("/if/user/totp/", {
        csrf_token: csrfTokenOf(page.body),
        device: "1",
        code,
      });
      assert.equal(sneaked.statusCode, 403, "a form posted without the step-up changes nothing");
      const verifyPath = "/if/user/verify/?next=%2Fif%2Fuser%2Ftotp%2F";
      const wrongStepUp = await browser.submit(verifyPath, { code: "000000" });
      assert.equal(wrongStepUp.statusCode, 400, wrongStepUp.body);
      assert.match(wrongStepUp.body, /data-message-id="4900005">Invalid code\./);
      const replayedStepUp = await browser.submit(verifyPath, { code });
      assert.equal(replayedStepUp.statusCode, 400, "the enrolment code does not count twice");
      clock.advance(30_000);
      const steppedUp = await browser.submit(verifyPath, {
        code: totpCodeAt(SIX_DIGITS, secret, clock.now()),
      });
      assert.equal(steppedUp.statusCode, 303, steppedUp.body);
      assert.equal(steppedUp.headers["location"], "/if/user/totp/");

      const replay = await browser.submit("/if/user/totp/", { device: String(devices[0]!.id), code });
      assert.equal(replay.statusCode, 303, "a confirmed device is not enrolled twice");
      assert.equal(replay.headers["location"], "/if/user/totp/");
      const next = await browser.get("/if/user/totp/");
      assert.notEqual(
        inputValue(next.body, "device"),
        String(devices[0]!.id),
        "the page starts a new enrolment",
      );
      assert.notEqual(secretOnPage(next.body).toString(), secret.toString(), "with a new key");

      clock.advance(30_000);
      const user = await findUser(rekey, pk);
      assert.equal(
        await verifySecondFactor(
          rekey.deps,
          rekey.deps.persistence.stores,
          user,
          totpCodeAt(SIX_DIGITS, secret, clock.now()),
        ),
        "totp",
      );
      const events = (await deviceEvents(rekey)).filter((event) => event.pk === devices[0]!.id);
      assert.deepEqual(events.map((event) => [event.action, event.actor]).sort(), [
        ["model_created", "jdoe"],
        ["model_updated", "jdoe"],
      ]);
    });

    test("a device that is not the user's own enrolment in progress cannot be confirmed from the page", async (t) => {
      const rekey = await testApp(t, dialect);
      const { browser } = await signedInJane(rekey);
      const other = await createUser(rekey, "mary");
      await setPassword(rekey, other, PASSWORD);
      const mary = await signIn(rekey, "mary", PASSWORD);
      const marysPage = await mary.get("/if/user/totp/");
      const marysDevice = inputValue(marysPage.body, "device")!;
      const code = totpCodeAt(SIX_DIGITS, secretOnPage(marysPage.body), rekey.deps.clock.now());
      for (const device of [marysDevice, "999", "abc", ""]) {
        const response = await browser.submit("/if/user/totp/", { device, code });
        assert.equal(response.statusCode, 303, device);
        assert.equal(response.headers["location"], "/if/user/totp/");
      }
      assert.equal((await totpDevices(rekey, other))[0]!.confirmed, false);
    });

    test("the backup-codes page shows 10 new codes once, and they work once each", async (t) => {
      const rekey = await testApp(t, dialect);
      const { pk, browser } = await signedInJane(rekey);
      const form = await browser.get("/if/user/backup-codes/");
      assert.equal(form.statusCode, 200, form.body);
      assert.deepEqual(codesOnPage(form.body), []);
      assert.match(form.body, /<button type="submit">Generate new backup codes<\/button>/);

      const generated = await browser.post("/if/user/backup-codes/", { csrf_token: csrfTokenOf(form.body) });
      assert.equal(generated.statusCode, 200, generated.body);
      assert.equal(generated.headers["cache-control"], "no-store");
      const codes = codesOnPage(generated.body);
      assert.equal(codes.length, 10);
      assert.match(generated.body, /they are not shown again/);

      // Codes are a second factor: this aal1 session must use one before it sees or changes them again.
      const blocked = await browser.get("/if/user/backup-codes/");
      assert.equal(blocked.statusCode, 403, blocked.body);
      for (const code of codes) assert.ok(!blocked.body.includes(code), "never shown again");
      const stepped = await browser.submit("/if/user/verify/?next=%2Fif%2Fuser%2Fbackup-codes%2F", {
        code: codes[0]!.toUpperCase(),
      });
      assert.equal(stepped.statusCode, 303, stepped.body);
      assert.equal(stepped.headers["location"], "/if/user/backup-codes/");

      const later = await browser.get("/if/user/backup-codes/");
      assert.equal(later.statusCode, 200, later.body);
      for (const code of codes) assert.ok(!later.body.includes(code), "never shown again");
      assert.match(later.body, /You have 9 unused backup codes left\./);
      const user = await findUser(rekey, pk);
      assert.equal(
        await verifySecondFactor(rekey.deps, rekey.deps.persistence.stores, user, codes[0]!),
        null,
        "the step-up used it",
      );
      assert.equal(
        await verifySecondFactor(rekey.deps, rekey.deps.persistence.stores, user, codes[1]!),
        "lookup_secret",
      );

      const renewed = codesOnPage((await browser.submit("/if/user/backup-codes/", {})).body);
      assert.equal(renewed.length, 10);
      assert.equal(
        await verifySecondFactor(rekey.deps, rekey.deps.persistence.stores, user, codes[2]!),
        null,
        "the old set is gone",
      );
      for (const code of renewed.slice(0, 7))
        await verifySecondFactor(rekey.deps, rekey.deps.persistence.stores, user, code);
      assert.ok(!messageIds((await browser.get("/if/user/backup-codes/")).body).includes(1902013));
      await verifySecondFactor(rekey.deps, rekey.deps.persistence.stores, user, renewed[7]!);
      const low = await browser.get("/if/user/backup-codes/");
      assert.match(low.body, /data-message-id="1902013">Only 2 backup codes left\. Generate new ones\.<\/p>/);
    });

    test("the account page links to both pages and warns when few backup codes are left", async (t) => {
      const rekey = await testApp(t, dialect);
      const { pk, browser } = await signedInJane(rekey);
      const plain = await browser.get("/if/user/");
      assert.match(plain.body, /<a href="\/if\/user\/totp\/">Set up an authenticator app<\/a>/);
      assert.match(plain.body, /<a href="\/if\/user\/backup-codes\/">Backup codes<\/a>/);
      assert.ok(!messageIds(plain.body).includes(1902013), "no codes at all: nothing to warn about");

      const codes = codesOnPage((await browser.submit("/if/user/backup-codes/", {})).body);
      const user = await findUser(rekey, pk);
      for (const code of codes.slice(0, 7))
        await verifySecondFactor(rekey.deps, rekey.deps.persistence.stores, user, code);
      assert.ok(!messageIds((await browser.get("/if/user/")).body).includes(1902013), "3 left is enough");
      await verifySecondFactor(rekey.deps, rekey.deps.persistence.stores, user, codes[7]!);
      const low = await browser.get("/if/user/");
      assert.match(low.body, /data-message-id="1902013">Only 2 backup codes left\. Generate new ones\.<\/p>/);
      for (const code of codes.slice(8))
        await verifySecondFactor(rekey.deps, rekey.deps.persistence.stores, user, code);
      assert.match((await browser.get("/if/user/")).body, /Only 0 backup codes left\./);
    });

    test("without a session the pages send people to sign in; without CSRF nothing is created", async (t) => {
      const rekey = await testApp(t, dialect);
      const { pk, browser } = await signedInJane(rekey);
      const stranger = new PageClient(rekey);
      for (const path of ["/if/user/totp/", "/if/user/backup-codes/"]) {
        const response = await stranger.get(path);
        assert.equal(response.statusCode, 303, path);
        assert.equal(response.headers["location"], "/if/login/");
      }
      assert.equal((await browser.post("/if/user/backup-codes/", {})).statusCode, 403);
      assert.equal((await browser.post("/if/user/totp/", { device: "1", code: "123456" })).statusCode, 403);
      const user = await findUser(rekey, pk);
      assert.deepEqual(
        await rekey.deps.persistence.stores.staticDevices.userStaticDevices(user.tenantId, user.id),
        [],
      );
      const token = csrfTokenOf((await stranger.get("/if/login/")).body);
      const anonymous = await stranger.post("/if/user/backup-codes/", { csrf_token: token });
      assert.equal(anonymous.statusCode, 303, "a valid form without a session signs in first");
    });
  });

  describe(`authenticator pages' statements on ${dialect}`, () => {
    test("below aal2 with a second factor, an enrolment page asks two statements before the step-up answer: the session read carries the factor check", async (t) => {
      const rekey = await testApp(t, dialect);
      const { pk, browser } = await signedInJane(rekey);
      await addTOTPDevice(rekey, pk);
      const recorder = recordStatements(t, dialect);
      const page = await browser.get("/if/user/totp/");
      assert.equal(page.statusCode, 403, page.body);
      assert.match(page.body, /\/if\/user\/verify\/\?next=/);
      const statements = recorder.take();
      assert.equal(statements.length, 2, statements.join("\n"));
      assert.match(statements[0]!, /from "session" as "s" inner join "user" as "u"/);
    });
  });

  describe(`the recovery form with an enrolled second factor on ${dialect}`, () => {
    test("an admin link demands the code: a wrong one re-renders 'Invalid code.', the right one sets the password", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:10Z"));
      const rekey = await testApp(t, dialect, { clock });
      const { pk, browser } = await signedInJane(rekey);
      const secret = secretOnPage((await browser.get("/if/user/totp/")).body);
      const device = (await totpDevices(rekey, pk))[0]!;
      const enrolled = await browser.submit("/if/user/totp/", {
        device: String(device.id),
        code: totpCodeAt(SIX_DIGITS, secret, clock.now()),
      });
      assert.match(enrolled.body, /set up/);
      clock.advance(30_000);

      const link = await createLink(rekey, pk);
      const recovering = new PageClient(rekey);
      const shown = await recovering.get(link.path);
      const redeemed = await recovering.post("/if/flow/default-recovery-flow/", {
        key: link.key,
        csrf_token: csrfTokenOf(shown.body),
      });
      assert.equal(redeemed.statusCode, 303, redeemed.body);
      const form = await recovering.get("/if/recovery/");
      assert.match(form.body, /<input id="code" name="code" type="text" autocomplete="one-time-code"/);
      assert.doesNotMatch(form.body, /name="reset_mfa"/);

      const newPassword = "a-new-Passw0rd-for-jane";
      const wrong = await recovering.submit("/if/recovery/", {
        password: newPassword,
        password_repeat: newPassword,
        code: "000000",
      });
      assert.equal(wrong.statusCode, 200, wrong.body);
      assert.match(wrong.body, /data-message-id="4900005">Invalid code\.<\/p>/);
      const missing = await recovering.submit("/if/recovery/", {
        password: newPassword,
        password_repeat: newPassword,
      });
      assert.match(missing.body, /Invalid code\./, "no code is a wrong code");
      const right = await recovering.submit("/if/recovery/", {
        password: newPassword,
        password_repeat: newPassword,
        code: totpCodeAt(SIX_DIGITS, secret, clock.now()),
      });
      assert.equal(right.statusCode, 200, right.body);
      assert.match(right.body, /Your password has been changed\./);
      assert.equal((await totpDevices(rekey, pk)).length, 1, "the device stays");
    });
  });
}
