import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixedClock } from "../../src/clock.js";
import { EXPIRED_GRACE_MS, MAIL_RETENTION_MS } from "../../src/jobs/housekeeping.js";
import type { TestApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  createIdentity,
  harness,
  KratosClient,
  signInWithPassword,
  startRecovery,
  submitEmail,
} from "../selfservice/helpers.js";

const NOW = new Date("2026-03-01T12:00:00.000Z");
const PASSWORD = "correct-horse-battery-1";
const TABLES = [
  "mail_message",
  "recovery_flow",
  "recovery_code",
  "login_flow",
  "settings_flow",
  "session",
  "rate_limit",
  "user",
  "token",
] as const;

async function rowCounts(rekey: TestApp): Promise<Record<(typeof TABLES)[number], number>> {
  const counts = {} as Record<(typeof TABLES)[number], number>;
  for (const table of TABLES) {
    const row = await rekey.database.db.kysely
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    counts[table] = Number(row.n);
  }
  return counts;
}

for (const dialect of DIALECTS) {
  describe(`housekeeping on ${dialect}`, () => {
    test("finished mail, flows, sessions and rate-limit windows go once their retention has passed; live rows stay", async (t) => {
      const clock = fixedClock(NOW);
      const h = await harness(t, dialect, { clock });
      await createIdentity(h.rekey, "jane", { email: "jane@example.com", password: PASSWORD });

      // Real rows of every kind, written by the real flows: a session and a login flow, a settings
      // flow, a recovery flow with its code, the mail that carried it (sent), and rate-limit windows.
      const client = new KratosClient(h.rekey, "api");
      await signInWithPassword(client, "jane@example.com", PASSWORD);
      const settings = await client.get("/self-service/settings/api");
      assert.equal(settings.statusCode, 200, settings.body);
      const recovering = new KratosClient(h.rekey, "api");
      await submitEmail(recovering, await startRecovery(recovering), "jane@example.com");
      assert.equal((await h.mails()).length, 1);

      const before = await rowCounts(h.rekey);
      for (const table of TABLES) assert.ok(before[table] > 0, `no ${table} row to purge`);

      const purge = (at: Date) => h.rekey.deps.persistence.stores.housekeeping.purge(at);
      const early = await purge(new Date(NOW.getTime() + 60 * 60_000));
      assert.ok(
        Object.values(early).every((count) => count === 0),
        JSON.stringify(early),
      );
      assert.deepEqual(await rowCounts(h.rekey), before);

      const late = await purge(new Date(NOW.getTime() + MAIL_RETENTION_MS + 30 * EXPIRED_GRACE_MS));
      const after = await rowCounts(h.rekey);
      for (const table of [
        "mail_message",
        "recovery_flow",
        "login_flow",
        "settings_flow",
        "session",
        "rate_limit",
      ] as const) {
        assert.equal(late[table], before[table], `${table} purge count`);
        assert.equal(after[table], 0, `${table} left after the purge`);
      }
      assert.equal(after.recovery_code, 0, "codes go with their flow");
      assert.equal(after.user, before.user);
      assert.equal(after.token, before.token);
    });

    test("queued mail is never purged, however old", async (t) => {
      const clock = fixedClock(NOW);
      const h = await harness(t, dialect, { clock });
      await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const recovering = new KratosClient(h.rekey, "api");
      await submitEmail(recovering, await startRecovery(recovering), "jane@example.com");
      const purged = await h.rekey.deps.persistence.stores.housekeeping.purge(
        new Date(NOW.getTime() + 10 * MAIL_RETENTION_MS),
      );
      assert.equal(purged.mail_message, 0);
      assert.equal((await h.mails()).length, 1, "the queued mail is still delivered");
    });
  });
}
