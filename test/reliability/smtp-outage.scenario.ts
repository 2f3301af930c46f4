import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import type { Dialect } from "../../src/db/database.js";
import { startMailSink } from "./support/mailsink.js";
import { type Outbox, type OutboxRow, openOutbox } from "./support/outbox.js";
import {
  createUser,
  freshDatabaseURL,
  inParallel,
  seededRandom,
  startRekey,
  waitFor,
} from "./support/rekey.js";

/**
 * Issue 6, reliability 3: the SMTP server is down (its port closed) while recovery emails are
 * requested; Rekey is killed with SIGKILL and restarted during the outage; when the SMTP server comes
 * back every mail arrives exactly once and none is abandoned.
 *
 * Shortened timings through the operator settings: REKEY_MAIL_RETRY_BACKOFF=4 (retries 4, 8, 16, 32
 * and 64 s after the failures; the sixth failure abandons a mail, about two minutes of courier time
 * after its request, so the outage is ended by conditions a few attempts in, never by a long fixed
 * wait; with 1 s, requesting 100 mails on a loaded machine outlasted all six attempts of the first
 * ones) and REKEY_MAIL_LEASE=10, so a mail the killed process had claimed (mid-attempt) is taken over
 * by the restarted one within 10 s instead of the default 5 minutes. (2 s was too short on a loaded
 * machine: a claim outlived its lease, a parallel cycle claimed the mail again, and the attempts ran
 * out within seconds.)
 */

const TIMEOUT_MS = 240_000;

function byId(rows: OutboxRow[]): Map<string, OutboxRow> {
  return new Map(rows.map((row) => [row.id, row]));
}

async function waitForRows(
  outbox: Outbox,
  what: string,
  check: (rows: OutboxRow[]) => boolean,
): Promise<OutboxRow[]> {
  let last: OutboxRow[] = [];
  return waitFor(
    what,
    async () => {
      last = await outbox.rows();
      return check(last) ? last : false;
    },
    TIMEOUT_MS,
    100,
  ).catch((error: Error) => {
    const seen = last.map(({ status, sendCount, lastError }) => ({ status, sendCount, lastError }));
    throw new Error(`${error.message}; the outbox: ${JSON.stringify(seen)}`);
  });
}

export async function smtpOutageScenario(t: TestContext, dialect: Dialect, mails: number): Promise<void> {
  const random = seededRandom(t);
  const databaseURL = await freshDatabaseURL(t, dialect);
  const sink = await startMailSink(t);
  await sink.close(); // the outage starts before the first mail is requested
  const rekey = await startRekey(t, {
    databaseURL,
    name: `smtp-outage-${dialect}`,
    env: { REKEY_SMTP_URL: sink.url, REKEY_MAIL_RETRY_BACKOFF: "4", REKEY_MAIL_LEASE: "10" },
  });
  const outbox = openOutbox(t, databaseURL);

  const stage = await rekey.request("POST", "/api/v3/stages/email/", {
    body: { name: "outage-mail", use_global_settings: true },
  });
  assert.equal(stage.status, 201, stage.text);
  // Users first, so the mails are requested close together and start their attempts together.
  const users = await inParallel(
    Array.from({ length: mails }, (_, i) => i),
    4,
    (i) => createUser(rekey, `outage-${i}`),
  );
  await inParallel(users, 8, async (user) => {
    const sent = await rekey.request("POST", `/api/v3/core/users/${user.pk}/recovery_email/`, {
      body: { email_stage: stage.body.pk },
    });
    assert.equal(sent.status, 204, sent.text);
  });

  // Every mail has met the closed port at least once before the crash.
  await waitForRows(outbox, `${mails} mails each refused once`, (rows) => {
    return rows.length === mails && rows.every((row) => row.sendCount >= 1 && row.lastError !== null);
  });
  await new Promise((done) => setTimeout(done, random() * 1500)); // a random moment of the retry cycle
  await rekey.kill9();
  const atKill = byId(await outbox.rows());
  t.diagnostic(
    `killed with ${[...atKill.values()].filter((row) => row.status === "processing").length} mails claimed`,
  );

  await rekey.restart();
  // The restarted courier keeps trying (and takes over what the dead one held) while the port is closed.
  await waitForRows(outbox, "every mail tried again after the restart", (rows) =>
    rows.every((row) => row.sendCount > atKill.get(row.id)!.sendCount && row.status !== "processing"),
  );
  assert.equal(sink.received.length, 0);

  await sink.reopen();
  const final = await waitForRows(outbox, `all ${mails} mails sent`, (rows) =>
    rows.every((row) => row.status === "sent" || row.status === "abandoned"),
  );
  const abandoned = final.filter((row) => row.status === "abandoned");
  assert.deepEqual(abandoned, [], "mails abandoned during the outage");
  // `sent` is recorded only after the sink acknowledged the mail, so these counts are final.
  const counts = sink.countsBy((mail) => mail.to.join(","));
  assert.equal(counts.size, mails, "every recipient got the mail");
  assert.deepEqual(
    [...counts].filter(([, count]) => count !== 1),
    [],
    "recipients who got the mail more than once",
  );
  const attempts = final.map((row) => row.sendCount);
  t.diagnostic(
    `${dialect}: ${mails} mails, attempts per mail ${Math.min(...attempts)} to ${Math.max(...attempts)}`,
  );
}
