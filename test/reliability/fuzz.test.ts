import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sql } from "kysely";
import { testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import { assertUnchanged, snapshot } from "./fuzz.harness.js";
import { fuzzEverySurface } from "./fuzz.run.js";

/**
 * The fast part of the reliability fuzzer (fuzz.reliability.ts sends 100,000): generated requests
 * across /api/v3, Kratos and the pages never answer 5xx, answer errors in their dialect's shape and
 * leave the database as it was when they are refused.
 */

// REKEY_FUZZ_RUNS raises the count for a longer local hunt.
const RUNS = Number(process.env["REKEY_FUZZ_RUNS"] ?? 1500);

for (const dialect of DIALECTS) {
  describe(`every surface under generated requests on ${dialect}`, () => {
    test("the snapshot sees a changed row, and ignores only a session's last-seen time", async (t) => {
      const rekey = await testApp(t, dialect);
      const db = rekey.database.db;
      const before = await snapshot(db);
      await sql`update ${sql.table("user")} set name = 'changed' where username = 'akadmin'`.execute(
        db.kysely,
      );
      await assert.rejects(
        assertUnchanged(db, before, await snapshot(db), "a write"),
        /changed table "user"/,
      );
      const renamed = await snapshot(db);
      await sql`update session set last_seen_at = last_seen_at + 1`.execute(db.kysely);
      await assertUnchanged(db, renamed, await snapshot(db), "activity only");
    });

    test(`${RUNS} requests: no 5xx, dialect-shaped errors, refused requests change nothing`, (t) =>
      fuzzEverySurface(t, dialect, RUNS));
  });
}
