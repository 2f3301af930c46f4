import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { sql } from "kysely";
import pg from "pg";
import { ChangeFeed } from "../../src/db/changes.js";
import { openDatabase } from "../../src/db/database.js";
import { freshDatabase, noPostgres } from "../support/databases.js";

/**
 * PostgreSQL ends connections on a restart, a failover or a proxy's idle timeout. Rekey must neither
 * crash (an unhandled pool `error` event ends the process) nor stop hearing other replicas' changes.
 * Only this test's connections are ended: they carry their own application_name.
 */

const APP = "rekey-connection-loss-test";

function named(url: string): string {
  const withName = new URL(url);
  withName.searchParams.set("application_name", APP);
  return withName.href;
}

async function terminateOurConnections(url: string): Promise<number> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const result = await admin.query(
      "select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()",
      [APP],
    );
    return result.rowCount ?? 0;
  } finally {
    await admin.end();
  }
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let waited = 0; waited < 15_000; waited += 50) {
    if (check()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}`);
}

test("pooled connections ended by the server are replaced, and the process lives on", {
  skip: noPostgres,
}, async (t) => {
  const { url } = await freshDatabase(t, "postgres");
  const db = openDatabase(named(url), { poolSize: 2 });
  t.after(() => db.close());
  await sql`select 1`.execute(db.kysely);
  assert.ok((await terminateOurConnections(url)) >= 1);
  await sleep(200); // the idle client's error event arrives; pg drops the client
  const again = await sql<{ one: number }>`select 1 as one`.execute(db.kysely);
  assert.equal(again.rows[0]?.one, 1);
});

test("the change feed re-listens after its connection is ended and hears other replicas again", {
  skip: noPostgres,
}, async (t) => {
  const { url } = await freshDatabase(t, "postgres");
  const listening = new ChangeFeed();
  const other = new ChangeFeed();
  t.after(async () => {
    await listening.close();
    await other.close();
  });
  let heard = 0;
  listening.subscribe(() => {
    heard += 1;
  });
  await listening.listen(named(url));
  await other.listen(url);

  other.changed();
  await eventually(() => heard >= 1, "the first notification");

  assert.ok((await terminateOurConnections(url)) >= 1);
  // Back within the first retry delay; the reconnect flushes the caches once (notices may be lost).
  const before = heard;
  await eventually(() => heard > before, "the flush after reconnecting");
  const afterReconnect = heard;
  other.changed();
  await eventually(() => heard > afterReconnect, "a notification after reconnecting");
});
