// Background WAL checkpoints (src/db/checkpointer.ts): with them, committed pages reach the database
// file while the server keeps writing, long before SQLite's own threshold; without them they stay in
// the WAL. Either way every committed row survives a close and a reopen.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { sql } from "kysely";
import { openDatabase } from "../../src/db/database.js";

const ROWS = 200;
const ROW_BYTES = 3000; // one row per page: 200 pages, far below the 4,000 or 8,000 of SQLite's own checkpoint

/** Writes ROWS rows in transactions of their own and returns the database file's path. */
async function writeRows(backgroundCheckpoints: boolean, t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), "rekey-checkpoint-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "rekey.db");
  const db = openDatabase(`sqlite:${path}`, { backgroundCheckpoints });
  await sql`create table probe (n integer primary key, value text not null)`.execute(db.kysely);
  const sizeAfterCreate = statSync(path).size;
  for (let n = 0; n < ROWS; n++) {
    await db.transaction((trx) =>
      sql`insert into probe values (${n}, ${"x".repeat(ROW_BYTES)})`.execute(trx),
    );
  }
  return { db, path, sizeAfterCreate };
}

async function fileSizeWithin(path: string, ms: number, atLeast: number): Promise<number> {
  const deadline = Date.now() + ms;
  let size = statSync(path).size;
  while (size < atLeast && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    size = statSync(path).size;
  }
  return size;
}

async function rowsAfterReopen(path: string): Promise<number> {
  const reopened = openDatabase(`sqlite:${path}`);
  const counted = await sql<{ n: number }>`select count(*) as n from probe`.execute(reopened.kysely);
  await reopened.close();
  return counted.rows[0]!.n;
}

test("with background checkpoints, committed pages reach the database file while the connection stays open", async (t) => {
  const { db, path } = await writeRows(true, t);
  const size = await fileSizeWithin(path, 5000, ROWS * ROW_BYTES);
  assert.ok(size >= ROWS * ROW_BYTES, `database file ${size} bytes, expected the ${ROWS} rows in it`);
  await db.close(); // stops the worker first; must not hang
  assert.equal(await rowsAfterReopen(path), ROWS);
});

test("without them, the same writes stay in the WAL until SQLite's own threshold or the close", async (t) => {
  const { db, path, sizeAfterCreate } = await writeRows(false, t);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(statSync(path).size, sizeAfterCreate);
  await db.close();
  assert.equal(await rowsAfterReopen(path), ROWS);
});
