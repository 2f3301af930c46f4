import type { MailTemplateName } from "./templates/index.js";

/** kratos.md §3.7: queued → processing → sent, or abandoned. */
export type MailStatus = "queued" | "processing" | "sent" | "abandoned";

/** A rendered mail, sealed, as the service hands it to the outbox inside its own transaction. */
export interface NewMail {
  id: string;
  tenantId: string;
  /** `"name" <address>`, or the bare address when there is no name. */
  recipient: string;
  template: MailTemplateName;
  /** `{subject, text, html, auditSubject}` as JSON, sealed with the `mailContent` SecretBox. */
  contentSealed: string;
  contentSecretIndex: number;
  /** The authentik email stage whose SMTP settings and sender apply; null for the global settings. */
  emailStageId: string | null;
}

export interface MailMessageRecord {
  id: string;
  tenantId: string;
  recipient: string;
  template: MailTemplateName;
  /** Null once the mail is sent or abandoned: no link or code stays at rest after that. */
  contentSealed: string | null;
  contentSecretIndex: number | null;
  emailStageId: string | null;
  status: MailStatus;
  /** Delivery attempts so far; a claim counts as one. */
  sendCount: number;
  nextAttemptAt: Date;
  /** End of the current claim's lease while `processing`; null otherwise. */
  claimedUntil: Date | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * A claimed message. `claimedUntil` is also the claim's fencing token: every later change names it,
 * so a courier whose lease ran out (and whose message another courier has claimed since) changes
 * nothing.
 */
export interface ClaimedMail extends MailMessageRecord {
  status: "processing";
  claimedUntil: Date;
}

export interface OutboxStore {
  /** Queues a mail, due at once. Call it on the transaction that writes the link or code it carries. */
  enqueueMail(mail: NewMail, now: Date): Promise<void>;
  /**
   * Claims up to `limit` due messages, oldest first: `queued` ones whose `nextAttemptAt` has come and
   * `processing` ones whose lease has run out (their courier died). Each becomes `processing` with a
   * lease until `now + leaseMs` and one more counted attempt. One statement; on PostgreSQL the rows
   * are picked `FOR UPDATE SKIP LOCKED`, so concurrent couriers never claim the same message.
   */
  claimMail(now: Date, limit: number, leaseMs: number): Promise<ClaimedMail[]>;
  /**
   * `sent`, content erased, for every claim still held, in one statement per lease (a batch shares
   * one). Returns the ids it marked: a claim whose lease ran out and was taken over is left alone.
   */
  markMailsSent(claims: readonly ClaimedMail[], now: Date): Promise<string[]>;
  /** Back to `queued`, due at `nextAttemptAt`, with the error. False when the claim is no longer held. */
  markMailFailed(claim: ClaimedMail, error: string, nextAttemptAt: Date, now: Date): Promise<boolean>;
  /** `abandoned`, content erased, with the reason. False when the claim is no longer held. */
  abandonMail(claim: ClaimedMail, error: string, now: Date): Promise<boolean>;
  /** One message of the tenant, for diagnostics and tests; null when there is none. */
  findMail(tenantId: string, id: string): Promise<MailMessageRecord | null>;
}
