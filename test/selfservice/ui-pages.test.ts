import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { SECURITY_HEADERS } from "../../src/pages/steps.js";
import { DIALECTS } from "../support/databases.js";
import { createIdentity, harness, KratosClient, local, P } from "./helpers.js";

function decode(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/** The page's form: its action and its fields (hidden and named inputs, with values). */
function formOf(page: LightMyRequestResponse): { action: string; fields: Record<string, string> } {
  // The first form; the settings page may add more (one per method group, with a class).
  const action = /<form method="post" action="([^"]+)"[^>]*>/.exec(page.body);
  assert.ok(action !== null, page.body);
  const fields: Record<string, string> = {};
  for (const match of page.body.matchAll(/<input[^>]*\bname="([^"]+)"[^>]*>/g)) {
    const value = /\bvalue="([^"]*)"/.exec(match[0]);
    fields[match[1]!] ??= value === null ? "" : decode(value[1]!);
  }
  return { action: decode(action[1]!), fields };
}

function messageIdsOf(page: LightMyRequestResponse): number[] {
  return [...page.body.matchAll(/data-message-id="(\d+)"/g)].map((match) => Number(match[1]));
}

function assertPageHeaders(page: LightMyRequestResponse): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    assert.equal(page.headers[name], value, name);
  }
  assert.equal(page.headers["cache-control"], "no-store");
  assert.equal(page.headers["content-type"], "text/html; charset=utf-8");
}

for (const dialect of DIALECTS) {
  describe(`self-service pages on ${dialect}`, () => {
    test("recovery, code, new password: the whole flow through plain HTML forms", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com", password: "old-Secret-password-1" });
      const browser = new KratosClient(h.rekey, "browser");
      const init = await browser.get("/self-service/recovery/browser");
      const first = await browser.get(local(String(init.headers["location"])));
      assert.equal(first.statusCode, 200, first.body);
      assertPageHeaders(first);
      assert.match(first.body, /<label for="field-email">Email<\/label>/);
      assert.match(first.body, /<button type="submit" name="method" value="code">Continue<\/button>/);
      const form = formOf(first);
      assert.match(form.action, new RegExp(`^${P}/self-service/recovery\\?flow=`));
      assert.ok(form.fields["csrf_token"]!.length > 40);

      const sent = await browser.send("POST", form.action, {
        form: { ...form.fields, email: "jane@example.com", method: "code" },
      });
      assert.equal(sent.statusCode, 303);
      const codePage = await browser.get(local(String(sent.headers["location"])));
      assert.deepEqual(messageIdsOf(codePage), [1060003]);
      assert.match(
        codePage.body,
        /<button type="submit" name="email" value="jane@example.com" formnovalidate>Resend code<\/button>/,
      );
      assert.match(
        codePage.body,
        /<input id="field-code" name="code" type="text" required autocomplete="one-time-code" pattern="\[0-9\]\+" inputmode="numeric" maxlength="6">/,
      );
      const codeForm = formOf(codePage);
      const recovered = await browser.send("POST", codeForm.action, {
        form: {
          csrf_token: codeForm.fields["csrf_token"]!,
          method: "code",
          code: await h.codeFor("jane@example.com"),
        },
      });
      assert.equal(recovered.statusCode, 303, recovered.body);

      const settingsPage = await browser.get(local(String(recovered.headers["location"])));
      assert.equal(settingsPage.statusCode, 200);
      assertPageHeaders(settingsPage);
      assert.deepEqual(messageIdsOf(settingsPage), [1900105, 1060001]);
      assert.match(settingsPage.body, /Signed in as jane@example.com/);
      const settingsForm = formOf(settingsPage);
      const saved = await browser.send("POST", settingsForm.action, {
        form: {
          csrf_token: settingsForm.fields["csrf_token"]!,
          method: "password",
          password: "n3w-Secret-pass-word",
        },
      });
      assert.equal(saved.statusCode, 303);
      const done = await browser.get(local(String(saved.headers["location"])));
      assert.ok(messageIdsOf(done).includes(1050001));
    });

    test("values from the flow are escaped on the page", async (t) => {
      const h = await harness(t, dialect);
      const browser = new KratosClient(h.rekey, "browser");
      const init = await browser.get("/self-service/recovery/browser");
      const page = await browser.get(local(String(init.headers["location"])));
      const form = formOf(page);
      const address = `o'brien"<b>@example.com`;
      await browser.send("POST", form.action, { form: { ...form.fields, email: address, method: "code" } });
      const shown = await browser.get(local(String(init.headers["location"])));
      assert.doesNotMatch(shown.body, /<b>/);
      assert.match(shown.body, /o&#39;brien&quot;&lt;b&gt;@example.com/);
    });

    test("pages without a usable flow start one; settings without a session go to recovery", async (t) => {
      const { rekey } = await harness(t, dialect);
      const browser = new KratosClient(rekey, "browser");
      const unknown = "6f3e1d2c-0000-4000-8000-000000000000";
      assert.equal(
        (await browser.get("/ui/recovery")).headers["location"],
        `${P}/self-service/recovery/browser`,
      );
      assert.equal(
        (await browser.get(`/ui/recovery?flow=${unknown}`)).headers["location"],
        `${P}/self-service/recovery/browser`,
      );
      assert.equal(
        (await browser.get(`/ui/login?return_to=${encodeURIComponent(`${P}/x`)}`)).headers["location"],
        `${P}/self-service/login/browser?return_to=${encodeURIComponent(`${P}/x`)}`,
      );
      assert.equal(
        (await browser.get("/ui/settings")).headers["location"],
        `${P}/self-service/settings/browser`,
      );
      assert.equal(
        (await browser.get(`/ui/settings?flow=${unknown}`)).headers["location"],
        `${P}/self-service/settings/browser`,
      );
      assert.equal(
        (await browser.get("/self-service/settings/browser")).headers["location"],
        `${P}/ui/recovery`,
      );
      assert.equal((await browser.get("/ui/login?aal=aal2")).headers["location"], `${P}/ui/recovery`);
    });

    test("another browser's flow is refused with a page, not shown", async (t) => {
      const { rekey } = await harness(t, dialect);
      const owner = new KratosClient(rekey, "browser");
      const init = await owner.get("/self-service/recovery/browser");
      const stranger = await new KratosClient(rekey, "browser").get(local(String(init.headers["location"])));
      assert.equal(stranger.statusCode, 403);
      assertPageHeaders(stranger);
      assert.deepEqual(messageIdsOf(stranger), [4900002]);
      assert.doesNotMatch(stranger.body, /csrf_token/);
    });

    test("the error page shows the catalogue's text for its key and reflects nothing", async (t) => {
      const { rekey } = await harness(t, dialect);
      const browser = new KratosClient(rekey, "browser");
      const page = await browser.get(`/ui/error?id=${encodeURIComponent("<script>alert(1)</script>")}`);
      assert.equal(page.statusCode, 200);
      assertPageHeaders(page);
      assert.doesNotMatch(page.body, /script|alert\(/);
      assert.deepEqual(messageIdsOf(page), [4901003]);
      const forbidden = await browser.get("/ui/error?id=self_service_flow_return_to_forbidden");
      assert.deepEqual(messageIdsOf(forbidden), [4901001]);
    });

    test("the login page posts to the login flow and signs in without JavaScript", async (t) => {
      const { rekey } = await harness(t, dialect);
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: "correct-horse-battery-1" });
      const browser = new KratosClient(rekey, "browser");
      const init = await browser.get("/self-service/login/browser");
      const page = await browser.get(local(String(init.headers["location"])));
      assert.equal(page.statusCode, 200);
      assertPageHeaders(page);
      assert.match(page.body, /<label for="field-identifier">ID<\/label>/);
      const form = formOf(page);
      const wrong = await browser.send("POST", form.action, {
        form: {
          csrf_token: form.fields["csrf_token"]!,
          method: "password",
          identifier: "jane",
          password: "nope-nope-nope",
        },
      });
      assert.equal(wrong.statusCode, 303);
      const again = await browser.get(local(String(wrong.headers["location"])));
      assert.deepEqual(messageIdsOf(again), [4000006]);
      const right = await browser.send("POST", form.action, {
        form: {
          csrf_token: formOf(again).fields["csrf_token"]!,
          method: "password",
          identifier: "jane",
          password: "correct-horse-battery-1",
        },
      });
      assert.equal(right.statusCode, 303);
      assert.equal(right.headers["location"], `${P}/ui/settings`);
    });
  });
}
