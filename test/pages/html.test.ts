import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { randomBytes } from "node:crypto";
import { assertCSRFToken, maskCSRFSecret, unmaskCSRFToken } from "../../src/pages/csrf.js";
import { html, htmlText, unsafeHTML } from "../../src/pages/html.js";

describe("html", () => {
  test("escapes every interpolated string and number, in content and in attributes", () => {
    const value = `"><img src=x onerror=alert(1)>&'`;
    assert.equal(
      htmlText(html`<p title="${value}">${value}${42}</p>`),
      '<p title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;&#39;">&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;&#39;42</p>',
    );
  });

  test("keeps fragments built by html, joins arrays and escapes their strings", () => {
    const items = ["<a>", html`<b>${"<c>"}</b>`];
    assert.equal(htmlText(html`<div>${items}</div>`), "<div>&lt;a&gt;<b>&lt;c&gt;</b></div>");
  });

  test("renders nothing for null, undefined and false, so optional parts read as conditions", () => {
    const shown = false;
    assert.equal(htmlText(html`[${null}${undefined}${shown && html`<p>hidden</p>`}]`), "[]");
  });

  test("passes only unsafeHTML raw; a look-alike object is escaped as text", () => {
    assert.equal(htmlText(html`${unsafeHTML("<hr>")}`), "<hr>");
    const forged = { toString: () => "<hr>" } as unknown as string;
    assert.equal(htmlText(html`${forged}`), "&lt;hr&gt;");
  });
});

describe("masked CSRF tokens (kratos.md §2.6)", () => {
  test("a token is mask ‖ mask XOR secret in base64, and unmasks to the secret", () => {
    const secret = randomBytes(32);
    const token = maskCSRFSecret(secret, randomBytes(32));
    assert.equal(Buffer.from(token, "base64").length, 64);
    assert.deepEqual(unmaskCSRFToken(token), secret);
    assertCSRFToken(secret.toString("base64url"), token);
  });

  test("refuses a missing cookie, a missing token, a malformed token and another secret's token", () => {
    const secret = randomBytes(32);
    const cookie = secret.toString("base64url");
    const other = maskCSRFSecret(randomBytes(32), randomBytes(32));
    const cases: [string | undefined, unknown][] = [
      [undefined, maskCSRFSecret(secret, randomBytes(32))],
      ["short", maskCSRFSecret(secret, randomBytes(32))],
      [cookie, undefined],
      [cookie, ""],
      [cookie, ["a", "b"]],
      [cookie, "not base64 at all"],
      [cookie, maskCSRFSecret(secret, randomBytes(32)).slice(0, 40)],
      [cookie, other],
    ];
    for (const [cookieValue, submitted] of cases) {
      assert.throws(
        () => assertCSRFToken(cookieValue, submitted),
        { code: "csrf_violation" },
        JSON.stringify([cookieValue, submitted]),
      );
    }
  });
});
