import type { Kysely, Selectable } from "kysely";
import type { Dialect } from "../db/database.js";
import type { Database, MailMessageTable } from "../db/schema.js";
import type { ClaimedMail, MailMessageRecord, MailStatus, OutboxStore } from "./store.js";
import type { MailTemplateName } from "./templates/index.js";

function toMailMessage(row: Selectable<MailMessageTable>): MailMessageRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    recipient: row.recipient,
    template: row.template as MailTemplateName,
    contentSealed: row.content_sealed,
    contentSecretIndex: row.content_secret_index,
    emailStageId: row.email_stage_id,
    status: row.status as MailStatus,
    sendCount: row.send_count,
    nextAttemptAt: new Date(row.next_attempt_at),
    claimedUntil: row.claimed_until === null ? null : new Date(row.claimed_until),
    lastError: row.last_error,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** Oldest first: the order messages were due in, then the order they were queued in. */
function byDueTime(a: MailMessageRecord, b: MailMessageRecord): number {
  return (
    a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime() || a.createdAt.getTime() - b.createdAt.getTime()
  );
}

export function sqlOutboxStore(db: Kysely<Database>, dialect: Dialect): OutboxStore {
  /** The claimed row, if this claim still holds it: status `processing` with the same lease. */
  function held(claim: ClaimedMail) {
    return db
      .updateTable("mail_message")
      .where("id", "=", claim.id)
      .where("status", "=", "processing")
      .where("claimed_until", "=", claim.claimedUntil.getTime());
  }

  return {
    async enqueueMail(mail, now) {
      await db
        .insertInto("mail_message")
        .values({
          id: mail.id,
          tenant_id: mail.tenantId,
          recipient: mail.recipient,
          template: mail.template,
          content_sealed: mail.contentSealed,
          content_secret_index: mail.contentSecretIndex,
          email_stage_id: mail.emailStageId,
          status: "queued",
          send_count: 0,
          next_attempt_at: now.getTime(),
          claimed_until: null,
          last_error: null,
          created_at: now.getTime(),
          updated_at: now.getTime(),
        })
        .execute();
    },

    async claimMail(now, limit, leaseMs) {
      const at = now.getTime();
      let due = db
        .selectFrom("mail_message")
        .select("id")
        .where((eb) =>
          eb.or([
            eb.and([eb("status", "=", "queued"), eb("next_attempt_at", "<=", at)]),
            eb.and([eb("status", "=", "processing"), eb("claimed_until", "<=", at)]),
          ]),
        )
        .orderBy("next_attempt_at")
        .orderBy("created_at")
        .limit(limit);
      if (dialect === "postgres") {
        // Concurrent couriers skip each other's rows instead of queueing behind them. SQLite has
        // one writer at a time, so there the single UPDATE is already atomic.
        due = due.forUpdate().skipLocked();
      }
      const rows = await db
        .updateTable("mail_message")
        .set((eb) => ({
          status: "processing",
          claimed_until: at + leaseMs,
          send_count: eb("send_count", "+", 1),
          updated_at: at,
        }))
        .where("id", "in", due)
        .returningAll()
        .execute();
      return rows.map(toMailMessage).sort(byDueTime) as ClaimedMail[];
    },

    async markMailsSent(claims, now) {
      const byLease = new Map<number, string[]>();
      for (const claim of claims) {
        const lease = claim.claimedUntil.getTime();
        byLease.set(lease, [...(byLease.get(lease) ?? []), claim.id]);
      }
      const marked: string[] = [];
      for (const [lease, ids] of byLease) {
        const rows = await db
          .updateTable("mail_message")
          .set({
            status: "sent",
            content_sealed: null,
            content_secret_index: null,
            claimed_until: null,
            last_error: null,
            updated_at: now.getTime(),
          })
          .where("id", "in", ids)
          .where("status", "=", "processing")
          .where("claimed_until", "=", lease)
          .returning("id")
          .execute();
        marked.push(...rows.map((row) => row.id));
      }
      return marked;
    },

    async markMailFailed(claim, error, nextAttemptAt, now) {
      const result = await held(claim)
        .set({
          status: "queued",
          next_attempt_at: nextAttemptAt.getTime(),
          claimed_until: null,
          last_error: error,
          updated_at: now.getTime(),
        })
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async abandonMail(claim, error, now) {
      const result = await held(claim)
        .set({
          status: "abandoned",
          content_sealed: null,
          content_secret_index: null,
          claimed_until: null,
          last_error: error,
          updated_at: now.getTime(),
        })
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async findMail(tenantId, id) {
      const row = await db
        .selectFrom("mail_message")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .executeTakeFirst();
      return row === undefined ? null : toMailMessage(row);
    },
  };
}
