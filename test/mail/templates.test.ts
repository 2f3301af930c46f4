import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatRecipient } from "../../src/mail/outbox.js";
import { type MailMessage, renderMail } from "../../src/mail/templates/index.js";

const BRAND = { title: "Acme ID" };
const INVALID_TEXT =
  "Hi,\n\nyou (or someone else) entered this email address when trying to recover access to an account.\n\n" +
  "However, this email address is not on our database of registered users and therefore the attempt has failed.\n\n" +
  "If this was you, check if you signed up using a different address.\n\nIf this was not you, please ignore this email.";

describe("Kratos templates (kratos.md §3.7)", () => {
  test("recovery_code_valid has the code in its subject and text, and a redacted audit subject", () => {
    const mail = renderMail(
      { template: "recovery_code_valid", model: { code: "493817", expiresInMinutes: 15 } },
      BRAND,
    );
    assert.equal(mail.subject, "Use code 493817 to recover access to your account");
    assert.equal(
      mail.text,
      "Recover access to your account by entering the following code:\n\n493817\n\nIf this was not you, do nothing. This code expires in 15 minutes.",
    );
    assert.equal(mail.auditSubject, "Use code [REDACTED] to recover access to your account");
    assert.ok(!mail.auditSubject.includes("493817"));
    assert.match(mail.html, /<strong[^>]*>493817<\/strong>/);
  });

  test("recovery_valid has the link as text and as an escaped anchor in the HTML", () => {
    const url = "https://id.example.com/self-service/recovery?flow=f1&token=t<2>";
    const mail = renderMail({ template: "recovery_valid", model: { url, expiresInMinutes: 60 } }, BRAND);
    assert.equal(mail.subject, "Recover access to your account");
    assert.equal(
      mail.text,
      `Recover access to your account by clicking the following link:\n\n${url}\n\nIf this was not you, do nothing. This link expires in 60 minutes.`,
    );
    assert.ok(
      mail.html.includes(
        '<a href="https://id.example.com/self-service/recovery?flow=f1&amp;token=t&lt;2&gt;">',
      ),
      mail.html,
    );
    assert.ok(!mail.html.includes("t<2>"));
    assert.equal(mail.auditSubject, mail.subject);
  });

  test("recovery_code_invalid and recovery_invalid say an attempt was made and carry no code or link", () => {
    for (const template of ["recovery_code_invalid", "recovery_invalid"] as const) {
      const mail = renderMail({ template, model: { address: "who@example.com" } }, BRAND);
      assert.equal(mail.subject, "Account access attempted");
      assert.equal(mail.text, INVALID_TEXT);
      assert.ok(!mail.html.includes("<a "));
    }
  });
});

describe("authentik stage templates", () => {
  const model = {
    subject: "Reset <b>",
    userName: "Jane & <Co>",
    url: "https://x.example/?a=1&b=2",
    expiresAt: new Date("2026-03-01T12:30:00Z"),
  };

  test("each template greets the user, carries the link and its expiry, and names the brand", () => {
    for (const template of [
      "email/password_reset.html",
      "email/account_confirmation.html",
      "email/setup.html",
    ] as const) {
      const mail = renderMail({ template, model }, BRAND);
      assert.equal(mail.subject, "Reset <b>", "the subject comes from the stage");
      assert.ok(mail.text.startsWith("Hi Jane & <Co>,\n\n"), template);
      assert.ok(mail.text.includes(`\n\n${model.url}\n\n`), template);
      assert.ok(mail.text.includes("valid until 2026-03-01 12:30 UTC."), template);
      assert.ok(mail.text.includes("Acme ID"), template);
      assert.ok(mail.html.includes("Hi Jane &amp; &lt;Co&gt;,"), template);
      assert.ok(mail.html.includes("<title>Reset &lt;b&gt;</title>"), template);
      assert.ok(!mail.html.includes("<Co>") && !mail.html.includes("<b>"), template);
    }
  });

  test("a subject or name with line breaks cannot add a header", () => {
    const message: MailMessage = {
      template: "email/password_reset.html",
      model: { ...model, subject: "Hi\r\nBcc: evil@example.com", userName: "Eve\nBcc: x" },
    };
    const mail = renderMail(message, BRAND);
    assert.equal(mail.subject, "Hi Bcc: evil@example.com");
    assert.equal(
      formatRecipient({ address: "eve@example.com\r\n", name: 'Eve "E"\r\nBcc: x' }),
      '"Eve \\"E\\" Bcc: x" <eve@example.com>',
    );
    assert.equal(formatRecipient({ address: "eve@example.com", name: "" }), "eve@example.com");
  });
});
