import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { openDatabase } from "../../src/db/database.js";
import { ChangeFeed } from "../../src/db/changes.js";
import { persistenceOn } from "../../src/db/stores.js";
import { MAX_ATTEMPTS, NO_SMTP_NOTE, startCourier } from "../../src/mail/courier.js";
import { createEmailStage, EMAIL_STAGE_DEFAULTS } from "../../src/mail/stages/service.js";
import type { MailMessage } from "../../src/mail/templates/index.js";
import { SYSTEM_ACTOR } from "../../src/events/store.js";
import { DIALECTS, noPostgres } from "../support/databases.js";
import {
  capturingLogger,
  type CourierHarness,
  courierHarness,
  MAIL_NOW,
  queueMail,
} from "../support/mail.js";
import { startSMTPSink } from "../support/smtp.js";

const LINK_TOKEN = "Xk2linkTokenThatMustNeverRestInPlainText0123456789abcdefghij";
const LINK = `https://id.example.com/if/flow/default-recovery-flow/?flow_token=${LINK_TOKEN}&next=%2F`;

function passwordReset(overrides?: { subject?: string; userName?: string }): MailMessage {
  return {
    template: "email/password_reset.html",
    model: {
      subject: overrides?.subject ?? "Reset your password",
      userName: overrides?.userName ?? "Jane Doe",
      url: LINK,
      expiresAt: new Date("2026-03-01T12:30:00Z"),
    },
  };
}

async function statusOf(harness: CourierHarness, id: string) {
  const mail = await harness.rekey.deps.persistence.stores.outbox.findMail(harness.tenantId, id);
  assert.ok(mail !== null, `mail ${id} not found`);
  return mail;
}

async function emailSentEvents(
  harness: CourierHarness,
): Promise<{ app: string; user: unknown; context: Record<string, unknown> }[]> {
  const response = await harness.rekey.api("GET", "/api/v3/events/events/?action=email_sent&page_size=100");
  assert.equal(response.statusCode, 200, response.body);
  return response.json().results;
}

/** Every byte of the SQLite database, its WAL included, as text a secret could be found in. */
function sqliteBytes(file: string): string {
  const folder = dirname(file);
  return readdirSync(folder)
    .map((name) => readFileSync(join(folder, name)).toString("latin1"))
    .join("\n");
}

for (const dialect of DIALECTS) {
  describe(`courier with REKEY_SMTP_URL on ${dialect}`, () => {
    test("a queued stage mail reaches the SMTP server exactly once, with its To, From, subject, text and escaped HTML", async (t) => {
      const smtp = await startSMTPSink(t);
      const harness = await courierHarness(t, dialect, { smtpURL: smtp.url });
      const name = 'Jane <b>Doe</b> & "Co"';
      const id = await queueMail(
        harness.rekey.deps,
        harness.tenantId,
        passwordReset({ userName: name, subject: "Reset <now> & then" }),
        {
          to: { address: "jane@example.com", name },
        },
      );

      assert.equal(await harness.courier.runOnce(), 1);
      assert.equal(await harness.courier.runOnce(), 0);
      assert.equal(smtp.received.length, 1);
      const [mail] = smtp.received;
      assert.deepEqual(mail!.envelope, { from: "rekey@example.com", to: ["jane@example.com"] });
      const to = mail!.parsed.to;
      assert.ok(to !== undefined && !Array.isArray(to));
      assert.deepEqual(to.value, [{ address: "jane@example.com", name }]);
      assert.equal(mail!.parsed.from?.value[0]?.address, "rekey@example.com");
      assert.equal(mail!.parsed.subject, "Reset <now> & then");
      assert.equal(
        mail!.parsed.text?.trim(),
        `Hi ${name},\n\nYou recently asked to change the password of your Acme ID account. Use the link below to set a new password.\n\n` +
          `${LINK}\n\nIf you did not ask for a password change, please ignore this email. The link above is valid until 2026-03-01 12:30 UTC.`,
      );
      const html = mail!.parsed.html as string;
      assert.match(html, /<p>Hi Jane &lt;b&gt;Doe&lt;\/b&gt; &amp; &quot;Co&quot;,<\/p>/);
      assert.ok(html.includes(`<a href="${LINK.replace("&", "&amp;")}">`), html);
      assert.ok(!html.includes("<b>Doe</b>"), "the name must be escaped in the HTML part");
      assert.ok(html.includes("<title>Reset &lt;now&gt; &amp; then</title>"));

      const stored = await statusOf(harness, id);
      assert.equal(stored.status, "sent");
      assert.equal(stored.sendCount, 1);
      assert.equal(stored.contentSealed, null);
      if (harness.rekey.database.file !== null) {
        assert.ok(
          !sqliteBytes(harness.rekey.database.file).includes(LINK_TOKEN),
          "the link is in the SQLite file",
        );
      }
    });

    test("email_sent names the subject, sender, recipient and template, never the body, and redacts a code subject", async (t) => {
      const smtp = await startSMTPSink(t);
      const harness = await courierHarness(t, dialect, { smtpURL: smtp.url });
      await queueMail(harness.rekey.deps, harness.tenantId, {
        template: "recovery_code_valid",
        model: { code: "493817", expiresInMinutes: 15 },
      });
      await harness.courier.runOnce();

      assert.equal(smtp.received[0]?.parsed.subject, "Use code 493817 to recover access to your account");
      const events = await emailSentEvents(harness);
      assert.equal(events.length, 1);
      const [event] = events;
      assert.equal(event!.app, "rekey.mail");
      assert.deepEqual(event!.user, { ...SYSTEM_ACTOR });
      assert.deepEqual(event!.context, {
        message: 'Email to "Jane Doe" <jane@example.com> sent',
        subject: "Use code [REDACTED] to recover access to your account",
        from_email: "rekey@example.com",
        to_email: ['"Jane Doe" <jane@example.com>'],
        template: "recovery_code_valid",
      });
      assert.ok(!JSON.stringify(event).includes("493817"), "the code is in the event");
    });

    test("a refused mail goes back to the queue with one attempt, waits out its backoff, then is delivered exactly once", async (t) => {
      const smtp = await startSMTPSink(t);
      const harness = await courierHarness(t, dialect, { smtpURL: smtp.url });
      for (const step of ["rcpt", "data"] as const) {
        const id = await queueMail(
          harness.rekey.deps,
          harness.tenantId,
          passwordReset({ subject: `refused at ${step}` }),
        );
        smtp.refuse = step;
        assert.equal(await harness.courier.runOnce(), 1);
        const failed = await statusOf(harness, id);
        assert.equal(failed.status, "queued");
        assert.equal(failed.sendCount, 1);
        assert.match(failed.lastError ?? "", /550/);
        assert.deepEqual(failed.nextAttemptAt, new Date(harness.clock.now().getTime() + 1000));
        assert.notEqual(failed.contentSealed, null, "the content stays until the mail is sent");

        smtp.refuse = null;
        assert.equal(await harness.courier.runOnce(), 0, "not due before its backoff ends");
        harness.clock.advance(1000);
        assert.equal(await harness.courier.runOnce(), 1);
        const sent = await statusOf(harness, id);
        assert.equal(sent.status, "sent");
        assert.equal(sent.sendCount, 2);
        assert.equal(smtp.received.filter((mail) => mail.parsed.subject === `refused at ${step}`).length, 1);
      }
    });

    test("a mail refused six times is abandoned, its content erased, and never sent", async (t) => {
      const smtp = await startSMTPSink(t);
      const harness = await courierHarness(t, dialect, { smtpURL: smtp.url });
      const id = await queueMail(harness.rekey.deps, harness.tenantId, passwordReset());
      smtp.refuse = "data";
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        assert.equal(await harness.courier.runOnce(), 1, `attempt ${attempt}`);
        const after = await statusOf(harness, id);
        assert.equal(after.sendCount, attempt);
        assert.equal(after.status, attempt < MAX_ATTEMPTS ? "queued" : "abandoned");
        if (attempt < MAX_ATTEMPTS) {
          // Exponential backoff: 1 s, 2 s, 4 s, 8 s, 16 s after attempts 1 to 5.
          assert.deepEqual(
            after.nextAttemptAt,
            new Date(harness.clock.now().getTime() + 1000 * 2 ** (attempt - 1)),
          );
        }
        harness.clock.advance(3_600_000);
      }
      smtp.refuse = null;
      assert.equal(await harness.courier.runOnce(), 0);
      const abandoned = await statusOf(harness, id);
      assert.equal(abandoned.contentSealed, null);
      assert.equal(smtp.received.length, 0);
      assert.deepEqual(await emailSentEvents(harness), []);
      assert.ok(harness.lines.some((line) => line.msg === "mail abandoned" && line.level === 40));
    });

    test("a message whose courier died while holding it is delivered once its lease runs out", async (t) => {
      const smtp = await startSMTPSink(t);
      const harness = await courierHarness(t, dialect, { smtpURL: smtp.url, courier: { leaseMs: 60_000 } });
      const id = await queueMail(harness.rekey.deps, harness.tenantId, passwordReset());
      await harness.rekey.deps.persistence.stores.outbox.claimMail(MAIL_NOW, 10, 60_000); // the courier that died
      assert.equal(await harness.courier.runOnce(), 0);
      harness.clock.advance(60_000);
      assert.equal(await harness.courier.runOnce(), 1);
      assert.equal(smtp.received.length, 1);
      assert.equal((await statusOf(harness, id)).sendCount, 2);
    });

    test("a stage with its own SMTP settings is used instead of REKEY_SMTP_URL, with its sender and password", async (t) => {
      const global = await startSMTPSink(t);
      const own = await startSMTPSink(t, { auth: { user: "mailer", pass: "s3cret pass" } });
      const harness = await courierHarness(t, dialect, { smtpURL: global.url });
      const audit = {
        tenantId: harness.tenantId,
        actor: SYSTEM_ACTOR,
        clientIP: null,
        httpRequest: null,
        app: "rekey.api" as const,
      };
      const stage = await createEmailStage(harness.rekey.deps, audit, {
        ...EMAIL_STAGE_DEFAULTS,
        name: "own-server",
        host: "127.0.0.1",
        port: own.port,
        username: "mailer",
        password: "s3cret pass",
        fromAddress: "helpdesk@example.org",
      });
      const globalStage = await createEmailStage(harness.rekey.deps, audit, {
        ...EMAIL_STAGE_DEFAULTS,
        name: "global",
        useGlobalSettings: true,
      });
      await queueMail(harness.rekey.deps, harness.tenantId, passwordReset({ subject: "via stage" }), {
        emailStageId: stage.id,
      });
      await queueMail(harness.rekey.deps, harness.tenantId, passwordReset({ subject: "via global" }), {
        emailStageId: globalStage.id,
      });
      assert.equal(await harness.courier.runOnce(), 2);

      assert.deepEqual(
        own.received.map((mail) => [mail.parsed.subject, mail.envelope.from, mail.user]),
        [["via stage", "helpdesk@example.org", "mailer"]],
      );
      assert.deepEqual(
        global.received.map((mail) => [mail.parsed.subject, mail.envelope.from]),
        [["via global", "rekey@example.com"]],
      );
    });
  });

  describe(`REKEY_SMTP_URL transport security on ${dialect}`, () => {
    test("smtps:// sends over implicit TLS; smtp:// upgrades with STARTTLS", async (t) => {
      for (const tls of ["implicit", "starttls"] as const) {
        const smtp = await startSMTPSink(t, { tls });
        const harness = await courierHarness(t, dialect, { smtpURL: smtp.url });
        await queueMail(harness.rekey.deps, harness.tenantId, passwordReset());
        await harness.courier.runOnce();
        assert.equal(smtp.received.length, 1, tls);
        assert.equal(smtp.received[0]!.secure, true, tls);
      }
    });

    test("a server that does not offer STARTTLS gets nothing unless disable_starttls=true says so", async (t) => {
      const smtp = await startSMTPSink(t, { tls: "none" });
      const harness = await courierHarness(t, dialect, { smtpURL: `smtp://127.0.0.1:${smtp.port}/` });
      const id = await queueMail(harness.rekey.deps, harness.tenantId, passwordReset());
      await harness.courier.runOnce();
      assert.equal(smtp.received.length, 0, "sent in plain text although STARTTLS is required");
      const stored = await statusOf(harness, id);
      assert.deepEqual([stored.status, stored.sendCount], ["queued", 1]);
      assert.match(stored.lastError ?? "", /STARTTLS/i);
    });

    test("a self-signed certificate is refused unless skip_ssl_verify=true", async (t) => {
      const smtp = await startSMTPSink(t, { tls: "implicit" });
      const harness = await courierHarness(t, dialect, { smtpURL: `smtps://127.0.0.1:${smtp.port}/` });
      const id = await queueMail(harness.rekey.deps, harness.tenantId, passwordReset());
      await harness.courier.runOnce();
      assert.equal(smtp.received.length, 0);
      assert.equal((await statusOf(harness, id)).status, "queued");
    });
  });

  describe(`courier without REKEY_SMTP_URL on ${dialect}`, () => {
    test("a global-settings mail is written to the log with a clear note and marked sent", async (t) => {
      const harness = await courierHarness(t, dialect, { smtpURL: null });
      const id = await queueMail(harness.rekey.deps, harness.tenantId, {
        template: "recovery_valid",
        model: { url: LINK, expiresInMinutes: 60 },
      });
      assert.equal(await harness.courier.runOnce(), 1);
      const line = harness.lines.find((entry) => entry.msg === NO_SMTP_NOTE);
      assert.ok(line !== undefined, JSON.stringify(harness.lines));
      assert.equal(line.level, 30);
      assert.equal(line["to"], '"Jane Doe" <jane@example.com>');
      assert.equal(line["subject"], "Recover access to your account");
      assert.ok(String(line["text"]).includes(LINK));
      assert.equal((await statusOf(harness, id)).status, "sent");
      assert.equal((await emailSentEvents(harness)).length, 1);
    });
  });
}

describe("two couriers on PostgreSQL", () => {
  test("two couriers on two pools deliver every message exactly once", { skip: noPostgres }, async (t) => {
    const smtp = await startSMTPSink(t);
    const harness = await courierHarness(t, "postgres", { smtpURL: smtp.url });
    const count = 120;
    for (let i = 0; i < count; i++) {
      const code = String(i).padStart(6, "0");
      await queueMail(harness.rekey.deps, harness.tenantId, {
        template: "recovery_code_valid",
        model: { code, expiresInMinutes: 15 },
      });
    }
    const db = openDatabase(harness.rekey.database.url, { poolSize: 4 });
    t.after(() => db.close());
    const second = startCourier(
      { ...harness.rekey.deps, db, persistence: persistenceOn(db, new ChangeFeed()) },
      capturingLogger().log,
      { pollMs: 0 },
    );
    t.after(() => second.stop());

    async function drain(courier: { runOnce(): Promise<number> }): Promise<number> {
      let claimed = 0;
      for (let n = await courier.runOnce(); n > 0; n = await courier.runOnce()) claimed += n;
      return claimed;
    }
    const [first, other] = await Promise.all([drain(harness.courier), drain(second)]);
    assert.equal(first + other, count);
    assert.ok(first > 0 && other > 0, `both couriers should have worked (${first}, ${other})`);
    const subjects = smtp.received.map((mail) => mail.parsed.subject);
    assert.equal(subjects.length, count);
    assert.equal(new Set(subjects).size, count, "a message was delivered twice");
  });
});
