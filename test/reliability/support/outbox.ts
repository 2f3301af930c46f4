/**
 * Reads the mail outbox (table mail_message) straight from the database a server under test uses,
 * to wait on its state (every mail sent, every mail tried once) instead of sleeping. Read only.
 *
 * Stable API: openOutbox(t, databaseURL) → Outbox { rows() }.
 */
import type { TestContext } from "node:test";
import { openDatabase } from "../../../src/db/database.js";

export interface OutboxRow {
  id: string;
  recipient: string;
  status: string;
  sendCount: number;
  lastError: string | null;
}

export interface Outbox {
  rows(): Promise<OutboxRow[]>;
}

/** `t` is kept for symmetry with the other helpers; each read opens and closes its own connection. */
export function openOutbox(_t: TestContext, databaseURL: string): Outbox {
  return {
    async rows() {
      // A connection per read: none is left open for a database the test's cleanup drops.
      const db = openDatabase(databaseURL, { poolSize: 1 });
      const rows = await db.kysely
        .selectFrom("mail_message")
        .select(["id", "recipient", "status", "send_count", "last_error"])
        .execute()
        .finally(() => db.close());
      return rows.map((row) => ({
        id: row.id,
        recipient: row.recipient,
        status: row.status,
        sendCount: Number(row.send_count),
        lastError: row.last_error,
      }));
    },
  };
}
