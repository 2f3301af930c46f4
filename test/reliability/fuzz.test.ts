import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sql } from "kysely";
import type { DB } from "../../src/db/database.js";
import { testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import { assertUnchanged, installWriteCounters, type Refusal, snapshot } from "./fuzz.harness.js";
import { fuzzEverySurface } from "./fuzz.run.js";

/**
 * The fast part of the reliability fuzzer (fuzz.reliability.ts sends 100,000): generated requests
 * across /api/v3, Kratos and the pages never answer 5xx, answer errors in their dialect's shape and
 * leave the database as it was when they are refused.
 */

// REKEY_FUZZ_RUNS raises the count for a longer local hunt.
const RUNS = Number(process.env["REKEY_FUZZ_RUNS"] ?? 1500);

/**
 * Runs `write` between two snapshots. `seen` names what assertUnchanged must report, or is null when
 * it must pass; `rows` is how many rows the write must touch, so a write that matched nothing
 * cannot pass for one the counters ignored.
 */
async function expectWrites(
  db: DB,
  write: ReturnType<typeof sql>,
  rows: number,
  seen: RegExp | null,
  refusal?: Refusal,
): Promise<void> {
  const before = await snapshot(db);
  const result = await write.execute(db.kysely);
  assert.equal(Number(result.numAffectedRows ?? 0n), rows, `rows written by ${write.compile(db.kysely).sql}`);
  const check = () => assertUnchanged(before, after, "test write", refusal);
  const after = await snapshot(db);
  if (seen === null) check();
  else assert.throws(check, seen);
}

for (const dialect of DIALECTS) {
  describe(`every surface under generated requests on ${dialect}`, () => {
    test("the write counters see an insert, an update and a delete, and ignore only a session's last-seen time", async (t) => {
      const rekey = await testApp(t, dialect);
      const db = rekey.database.db;
      const covered = await installWriteCounters(db);
      for (const table of ["user", "group", "session", "event"]) assert.ok(covered.includes(table), table);
      assert.ok(!covered.includes("rate_limit"), "rate_limit may change on refusal");
      const tenant = (await sql<{ id: string }>`select id from tenant`.execute(db.kysely)).rows[0]!.id;
      const user = (
        await sql<{ id: number }>`select id from ${sql.table("user")} where username = 'akadmin'`.execute(
          db.kysely,
        )
      ).rows[0]!.id;
      const group = sql.table("group");

      await expectWrites(
        db,
        sql`insert into ${group} (uuid, tenant_id, name, is_superuser, attributes) values ('fuzz-group', ${tenant}, 'fuzz', 0, '{}')`,
        1,
        /a refused request wrote group INSERT ×1: test write/,
      );
      await expectWrites(
        db,
        sql`update ${group} set name = 'renamed' where uuid = 'fuzz-group'`,
        1,
        /wrote group UPDATE ×1:/,
      );
      // Writing a row as it was changes nothing.
      await expectWrites(db, sql`update ${group} set name = 'renamed' where uuid = 'fuzz-group'`, 1, null);
      await expectWrites(
        db,
        sql`delete from ${group} where uuid = 'fuzz-group'`,
        1,
        /wrote group DELETE ×1:/,
      );

      const now = Date.now();
      await expectWrites(
        db,
        sql`insert into session (id, tenant_id, user_id, token_hash, kind, aal, auth_methods, authenticated_at, issued_at, expires_at, last_seen_at)
          values ('fuzz-session', ${tenant}, ${user}, 'fuzz-hash', 'browser', 'aal1', '[]', ${now}, ${now}, ${now + 60_000}, ${now})`,
        1,
        /wrote session INSERT ×1:/,
      );
      await expectWrites(db, sql`update session set last_seen_at = last_seen_at + 1`, 1, null);
      await expectWrites(
        db,
        sql`update session set last_seen_at = last_seen_at + 1, revoked_at = ${now}`,
        1,
        /wrote session UPDATE ×1:/,
      );

      // The audit log: a refusal may append failure records, and nothing else.
      const event = (id: string, action: string) =>
        sql`insert into event (id, tenant_id, action, app, actor, username, context, created, expires)
          values (${id}, ${tenant}, ${action}, 'rekey', 'anonymous', 'akadmin', '{}', ${now}, ${now + 60_000})`;
      await expectWrites(db, event("fuzz-1", "login_failed"), 1, null);
      await expectWrites(db, event("fuzz-2", "model_created"), 1, /wrote event INSERT model_created ×1:/);
      await expectWrites(
        db,
        sql`update event set action = 'login' where id = 'fuzz-1'`,
        1,
        /wrote event UPDATE ×1:/,
      );
      await expectWrites(db, sql`delete from event where id = 'fuzz-2'`, 1, /wrote event DELETE ×1:/);

      // A write rolled back changed nothing, and is not counted, though the trigger did fire.
      const before = await snapshot(db);
      await assert.rejects(
        db.transaction(async (trx) => {
          await sql`update ${sql.table("user")} set name = 'rolled back' where id = ${user}`.execute(trx);
          const counted = await sql<{ n: number }>`select n from fuzz_write_count
            where tbl = 'user' and op = 'UPDATE'`.execute(trx);
          assert.equal(Number(counted.rows[0]?.n), (before.writes.get("user UPDATE") ?? 0) + 1);
          throw new Error("roll back");
        }),
        /roll back/,
      );
      assertUnchanged(before, await snapshot(db), "rolled back");
    });

    test("a refusal may store a flow's messages and add one replacement flow named in its answer, no more", async (t) => {
      const rekey = await testApp(t, dialect);
      const db = rekey.database.db;
      await installWriteCounters(db);
      const tenant = (await sql<{ id: string }>`select id from tenant`.execute(db.kysely)).rows[0]!.id;
      const now = Date.now();
      const flow = (id: string) =>
        sql`insert into login_flow (id, tenant_id, type, request_url, return_to, refresh, requested_aal, state, session_id, csrf_hash, ui_messages, expires_at, issued_at, updated_at)
          values (${id}, ${tenant}, 'api', 'http://rekey.test/self-service/login/api', null, 0, 'aal1', 'choose_method', null, null, '[]', ${now + 60_000}, ${now}, ${now})`;
      const submitted = "flow-submitted";
      await expectWrites(db, flow(submitted), 1, /wrote login_flow INSERT ×1:/);

      // (a) The messages of a refused submission, and login's updated_at with them.
      await expectWrites(
        db,
        sql`update login_flow set ui_messages = '[{"id":4000006}]', updated_at = updated_at + 1 where id = ${submitted}`,
        1,
        null,
      );
      await expectWrites(
        db,
        sql`update login_flow set ui_messages = '[]', state = 'passed_challenge' where id = ${submitted}`,
        1,
        /wrote login_flow UPDATE ×1:/,
      );
      await expectWrites(
        db,
        sql`update login_flow set expires_at = expires_at + 1 where id = ${submitted}`,
        1,
        /wrote login_flow UPDATE ×1:/,
      );

      // (b) One replacement flow, of the route's kind, named in the answer.
      const url = `/self-service/login?flow=${submitted}`;
      const answer = (id: string): Refusal => ({ url, body: `{"error":{"code":410},"use_flow_id":"${id}"}` });
      await expectWrites(db, flow("flow-new-1"), 1, null, answer("flow-new-1"));
      await expectWrites(db, flow("flow-new-2"), 1, /wrote login_flow INSERT ×1:/, answer("flow-other"));
      await expectWrites(db, flow("flow-new-3"), 1, /wrote login_flow INSERT ×1:/, {
        url: `/self-service/settings?flow=${submitted}`,
        body: answer("flow-new-3").body,
      });
      await expectWrites(
        db,
        sql`insert into login_flow select 'flow-new-' || id, tenant_id, type, request_url, return_to, refresh, requested_aal, state, session_id, csrf_hash, ui_messages, expires_at, issued_at, updated_at
          from login_flow where id in ('flow-new-1', 'flow-new-2')`,
        2,
        /wrote login_flow INSERT ×2:/,
        { url, body: "flow-new-flow-new-1 flow-new-flow-new-2" },
      );
    });

    test(`${RUNS} requests: no 5xx, dialect-shaped errors, refused requests change nothing`, (t) =>
      fuzzEverySurface(t, dialect, RUNS));
  });
}
