import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createUser, type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import { csrfTokenOf, messageIds, PageClient, signIn } from "./helpers.js";

const ANSWER = "If an account uses that address, we have sent it a link to recover it.";

/** The recovery links queued in the outbox, read the way the courier reads them. */
async function queuedLinks(rekey: TestApp): Promise<string[]> {
  const claimed = await rekey.deps.persistence.stores.outbox.claimMail(rekey.deps.clock.now(), 100, 60_000);
  const links: string[] = [];
  for (const mail of claimed) {
    const content = rekey.deps.mailContent.open(mail.contentSealed!, mail.contentSecretIndex!);
    const text = (JSON.parse(content!) as { text: string }).text;
    links.push(...(text.match(/https?:\/\/\S+flow_token=[A-Za-z0-9]+/g) ?? []));
  }
  return links;
}

async function eventCount(rekey: TestApp, action: string): Promise<number> {
  const response = await rekey.api("GET", `/api/v3/events/events/?action=${action}`);
  return response.json().pagination.count as number;
}

for (const dialect of DIALECTS) {
  describe(`forgot-password page on ${dialect}`, () => {
    test("the form asks for an email address", async (t) => {
      const rekey = await testApp(t, dialect);
      const page = await new PageClient(rekey).get("/if/recovery/request/");
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /<label for="email">Email<\/label>/);
      assert.match(page.body, /<input id="email" name="email" type="email" autocomplete="email" required/);
    });

    test("answers the same page for a known, an unknown and a malformed address, and mails only the known one", async (t) => {
      const rekey = await testApp(t, dialect);
      await createUser(rekey, "jdoe", { email: "jane@example.com" });
      const answers = [];
      for (const email of ["jane@example.com", "nobody@example.com", "not an address"]) {
        const response = await new PageClient(rekey).submit("/if/recovery/request/", { email });
        assert.equal(response.statusCode, 200, response.body);
        assert.deepEqual(messageIds(response.body), [1060002]);
        assert.ok(response.body.includes(ANSWER));
        answers.push(response.body);
      }
      assert.equal(answers[1], answers[0]);
      assert.equal(answers[2], answers[0]);
      const links = await queuedLinks(rekey);
      assert.equal(links.length, 1, "one mail, to the known address");

      // The mailed link walks the same pages as an admin link.
      const url = new URL(links[0]!);
      const browser = new PageClient(rekey);
      const shown = await browser.get(url.pathname + url.search);
      assert.equal(shown.statusCode, 200, shown.body);
      assert.equal(
        (
          await browser.post(url.pathname, {
            key: url.searchParams.get("flow_token")!,
            csrf_token: csrfTokenOf(shown.body),
          })
        ).statusCode,
        303,
      );
      const form = await browser.get("/if/recovery/");
      assert.doesNotMatch(form.body, /name="reset_mfa"/, "an emailed link never resets MFA (A7)");
      const done = await browser.submit("/if/recovery/", {
        password: "mailed-link-Passw0rd",
        password_repeat: "mailed-link-Passw0rd",
      });
      assert.match(done.body, /Your password has been changed\./);
      await signIn(rekey, "jane@example.com", "mailed-link-Passw0rd");
    });

    test("a request without the CSRF token is refused and sends nothing", async (t) => {
      const rekey = await testApp(t, dialect);
      await createUser(rekey, "jdoe", { email: "jane@example.com" });
      const browser = new PageClient(rekey);
      await browser.get("/if/recovery/request/");
      const before = await eventCount(rekey, "recovery_link_created");
      const response = await browser.post("/if/recovery/request/", { email: "jane@example.com" });
      assert.equal(response.statusCode, 403, response.body);
      assert.equal(await eventCount(rekey, "recovery_link_created"), before);
      assert.deepEqual(await queuedLinks(rekey), []);
    });

    test("the sixth request for one address within an hour is a 429 page", async (t) => {
      const rekey = await testApp(t, dialect);
      const browser = new PageClient(rekey);
      for (let attempt = 1; attempt <= 5; attempt++) {
        assert.equal(
          (await browser.submit("/if/recovery/request/", { email: "someone@example.com" })).statusCode,
          200,
        );
      }
      const limited = await browser.submit("/if/recovery/request/", { email: "someone@example.com" });
      assert.equal(limited.statusCode, 429, limited.body);
      assert.match(limited.headers["retry-after"] as string, /^\d+$/);
      assert.deepEqual(messageIds(limited.body), [4900001]);
    });

    test("a missing address is a 400 page", async (t) => {
      const rekey = await testApp(t, dialect);
      const response = await new PageClient(rekey).submit("/if/recovery/request/", {});
      assert.equal(response.statusCode, 400, response.body);
      assert.deepEqual(messageIds(response.body), [4900003]);
    });
  });
}
