// SQLite's group commit (src/db/database.ts): transactions that arrive together share one COMMIT,
// yet each still commits or rolls back on its own, and none is answered before its COMMIT.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type Kysely, sql } from "kysely";
import { openDatabase } from "../../src/db/database.js";
import type { Database } from "../../src/db/schema.js";

function insert(trx: Kysely<Database>, value: string) {
  return sql`insert into probe (value) values (${value})`.execute(trx);
}

test("SQLite transactions started together commit apart: a failing one leaves the others whole", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "rekey-group-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const url = `sqlite:${join(dir, "group.db")}`;
  const db = openDatabase(url);
  await sql`create table probe (value text primary key)`.execute(db.kysely);

  const outcomes = await Promise.allSettled(
    ["a", "b", "c", "d"].map((value) =>
      db.transaction(async (trx) => {
        await insert(trx, value);
        await insert(trx, `${value}-2`);
        if (value === "b") throw new Error("b fails after writing");
        if (value === "c") await insert(trx, "a"); // unique violation: a is already in
        return value;
      }),
    ),
  );
  assert.deepEqual(
    outcomes.map((outcome) => outcome.status),
    ["fulfilled", "rejected", "rejected", "fulfilled"],
  );
  assert.equal((outcomes[1] as PromiseRejectedResult).reason.message, "b fails after writing");
  assert.match(String((outcomes[2] as PromiseRejectedResult).reason), /UNIQUE/);

  const rows = await sql<{ value: string }>`select value from probe order by value`.execute(db.kysely);
  assert.deepEqual(
    rows.rows.map((row) => row.value),
    ["a", "a-2", "d", "d-2"],
  );
  await db.close();

  // What was answered is on disk: a second connection to the file sees every committed row.
  const reopened = openDatabase(url);
  const again = await sql<{ n: number }>`select count(*) as n from probe`.execute(reopened.kysely);
  assert.equal(again.rows[0]!.n, 4);
  await reopened.close();
});

test("a transaction queued while a batch runs joins it in order and sees the earlier rows", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "rekey-group-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = openDatabase(`sqlite:${join(dir, "group.db")}`);
  await sql`create table probe (value text primary key)`.execute(db.kysely);

  let second: Promise<number> | null = null;
  await db.transaction(async (trx) => {
    await insert(trx, "first");
    second = db.transaction(async (inner) => {
      const seen = await sql<{ n: number }>`select count(*) as n from probe`.execute(inner);
      return seen.rows[0]!.n;
    });
  });
  assert.equal(await second!, 1);
  await db.close();
});
