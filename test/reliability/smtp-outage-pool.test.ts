import assert from "node:assert/strict";
import { test } from "node:test";
import { type OutgoingMail, smtpSettingsFromURL, smtpTransports } from "../../src/mail/smtp.js";
import { startMailSink } from "./support/mailsink.js";

/**
 * Regression (found by smtp-outage.test.ts): with the SMTP port closed, nodemailer's pool kept every
 * connection that failed to open in its slot, so after 5 of them (maxConnections) every later send
 * waited forever, the courier's cycle with it, and no mail went out again until a restart, even once
 * the SMTP server was back.
 */
test("sends to a closed port all fail promptly, and the next sends go out once the server is back", async (t) => {
  const sink = await startMailSink(t);
  await sink.close();
  const transports = smtpTransports({ maxConnections: 5 });
  t.after(() => transports.close());
  const settings = smtpSettingsFromURL(new URL(sink.url));
  const mail = (i: number): OutgoingMail => ({
    from: "rekey@example.com",
    to: `user${i}@example.com`,
    subject: "s",
    text: "t",
    html: "<p>t</p>",
  });
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<"hung">((resolve) => {
    timer = setTimeout(() => resolve("hung"), 10_000);
  });
  for (let round = 0; round < 2; round++) {
    const outcome = await Promise.race([
      Promise.allSettled(Array.from({ length: 12 }, (_, i) => transports.send(settings, mail(i)))),
      hung,
    ]);
    assert.notEqual(outcome, "hung", `round ${round}: sends to a closed port never settled`);
    assert.ok(Array.isArray(outcome) && outcome.every((result) => result.status === "rejected"));
  }
  clearTimeout(timer);
  await sink.reopen();
  await Promise.all(Array.from({ length: 12 }, (_, i) => transports.send(settings, mail(i))));
  assert.equal(sink.received.length, 12);
});
