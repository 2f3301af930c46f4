import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { type TestContext, test } from "node:test";
import type { Dialect } from "../db/database.js";
import { minutesFrom, NOW } from "../db/contract.js";
import type { ClaimedMail, NewMail, OutboxStore } from "./store.js";

/** What the outbox contract is given: a fresh store on an empty database with two tenants. */
export interface OutboxUnderTest {
  outbox: OutboxStore;
  /** The default tenant. */
  tenantA: string;
  tenantB: string;
  /** Another outbox store on its own connection pool to the same database (a second courier). */
  openAnotherConnection(): Promise<OutboxStore>;
}

export type OpenOutbox = (t: TestContext) => Promise<OutboxUnderTest>;

const LEASE_MS = 60_000;

export function aMail(tenantId: string, overrides?: Partial<NewMail>): NewMail {
  return {
    id: randomUUID(),
    tenantId,
    recipient: '"Jane Doe" <jane@example.com>',
    template: "recovery_code_valid",
    contentSealed: "c2VhbGVkLWNvbnRlbnQ=",
    contentSecretIndex: 0,
    emailStageId: null,
    ...overrides,
  };
}

async function enqueueMany(
  outbox: OutboxStore,
  tenantId: string,
  count: number,
  at: Date,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const mail = aMail(tenantId);
    // One millisecond apart, so "oldest first" has one right answer.
    await outbox.enqueueMail(mail, new Date(at.getTime() + i));
    ids.push(mail.id);
  }
  return ids;
}

/** Claims until nothing is due, without marking anything: every claimed id, duplicates included. */
async function claimAll(outbox: OutboxStore, at: Date): Promise<string[]> {
  const claimed: string[] = [];
  for (;;) {
    const batch = await outbox.claimMail(at, 10, LEASE_MS);
    if (batch.length === 0) {
      return claimed;
    }
    claimed.push(...batch.map((mail) => mail.id));
  }
}

async function claimOne(outbox: OutboxStore, at: Date): Promise<ClaimedMail> {
  const [claimed] = await outbox.claimMail(at, 1, LEASE_MS);
  assert.ok(claimed !== undefined, "expected a message to claim");
  return claimed;
}

/** The OutboxStore contract (kratos.md §3.7), run on SQLite and on PostgreSQL. */
export function testOutboxStore(open: OpenOutbox, dialect: Dialect): void {
  test("a queued mail is found as given, queued, with no attempts, and only in its own tenant", async (t) => {
    const { outbox, tenantA, tenantB } = await open(t);
    const mail = aMail(tenantA, { emailStageId: randomUUID() });
    await outbox.enqueueMail(mail, NOW);
    const found = await outbox.findMail(tenantA, mail.id);
    assert.deepEqual(found, {
      ...mail,
      status: "queued",
      sendCount: 0,
      nextAttemptAt: NOW,
      claimedUntil: null,
      lastError: null,
      createdAt: NOW,
      updatedAt: NOW,
    });
    assert.equal(await outbox.findMail(tenantB, mail.id), null);
  });

  test("a claim takes due messages oldest first, up to the limit, with a lease and one counted attempt", async (t) => {
    const { outbox, tenantA, tenantB } = await open(t);
    const first = await enqueueMany(outbox, tenantA, 2, NOW);
    const later = await enqueueMany(outbox, tenantB, 2, minutesFrom(NOW, 1));
    const at = minutesFrom(NOW, 2);
    const claimed = await outbox.claimMail(at, 3, LEASE_MS);
    assert.deepEqual(
      claimed.map((mail) => mail.id),
      [...first, later[0]],
    );
    for (const mail of claimed) {
      assert.equal(mail.status, "processing");
      assert.equal(mail.sendCount, 1);
      assert.deepEqual(mail.claimedUntil, new Date(at.getTime() + LEASE_MS));
    }
    const rest = await outbox.claimMail(at, 10, LEASE_MS);
    assert.deepEqual(
      rest.map((mail) => mail.id),
      [later[1]],
    );
    assert.deepEqual(await outbox.claimMail(at, 10, LEASE_MS), []);
  });

  test("a message queued for later is not claimed before it is due", async (t) => {
    const { outbox, tenantA } = await open(t);
    await outbox.enqueueMail(aMail(tenantA), minutesFrom(NOW, 5));
    assert.deepEqual(await outbox.claimMail(NOW, 10, LEASE_MS), []);
    assert.equal((await outbox.claimMail(minutesFrom(NOW, 5), 10, LEASE_MS)).length, 1);
  });

  test("a sent message is sent, its content erased, and never claimed again", async (t) => {
    const { outbox, tenantA } = await open(t);
    await enqueueMany(outbox, tenantA, 1, NOW);
    const claim = await claimOne(outbox, NOW);
    assert.deepEqual(await outbox.markMailsSent([claim], minutesFrom(NOW, 1)), [claim.id]);
    const stored = await outbox.findMail(tenantA, claim.id);
    assert.equal(stored?.status, "sent");
    assert.equal(stored?.contentSealed, null);
    assert.equal(stored?.contentSecretIndex, null);
    assert.equal(stored?.claimedUntil, null);
    assert.deepEqual(stored?.updatedAt, minutesFrom(NOW, 1));
    assert.deepEqual(await outbox.markMailsSent([claim], NOW), [], "a second mark changes nothing");
    assert.deepEqual(await outbox.claimMail(minutesFrom(NOW, 60), 10, LEASE_MS), []);
  });

  test("marking a batch sent marks every claim still held, across leases, and names them", async (t) => {
    const { outbox, tenantA, tenantB } = await open(t);
    const [m1, m2] = await enqueueMany(outbox, tenantA, 2, NOW);
    const [m3] = await enqueueMany(outbox, tenantB, 1, minutesFrom(NOW, 1));
    const t1 = minutesFrom(NOW, 2);
    const first = await outbox.claimMail(t1, 2, LEASE_MS);
    assert.deepEqual(
      first.map((mail) => mail.id),
      [m1, m2],
    );
    // The first batch's lease runs out; later claims, with leases of their own, take both over.
    const t2 = new Date(t1.getTime() + LEASE_MS);
    const second = await outbox.claimMail(t2, 1, LEASE_MS);
    const third = await outbox.claimMail(new Date(t2.getTime() + 1), 10, LEASE_MS);
    assert.deepEqual(
      [...second, ...third].map((mail) => mail.id),
      [m1, m2, m3],
    );
    assert.deepEqual(await outbox.markMailsSent(first, t2), [], "the first courier lost both claims");
    const marked = await outbox.markMailsSent([...second, ...third], t2);
    assert.deepEqual([...marked].sort(), [m1!, m2!, m3!].sort());
    assert.deepEqual(await outbox.markMailsSent([], t2), []);
  });

  test("a failed message goes back to the queue with its error, keeps its content, and is due at the retry time", async (t) => {
    const { outbox, tenantA } = await open(t);
    const [id] = await enqueueMany(outbox, tenantA, 1, NOW);
    const claim = await claimOne(outbox, NOW);
    const retryAt = minutesFrom(NOW, 3);
    assert.equal(await outbox.markMailFailed(claim, "550 mailbox unavailable", retryAt, NOW), true);
    const stored = await outbox.findMail(tenantA, id!);
    assert.equal(stored?.status, "queued");
    assert.equal(stored?.sendCount, 1);
    assert.equal(stored?.lastError, "550 mailbox unavailable");
    assert.equal(stored?.contentSealed, claim.contentSealed);
    assert.deepEqual(stored?.nextAttemptAt, retryAt);
    assert.deepEqual(await outbox.claimMail(minutesFrom(NOW, 2), 10, LEASE_MS), []);
    const again = await claimOne(outbox, retryAt);
    assert.equal(again.sendCount, 2, "every claim counts one attempt");
  });

  test("an abandoned message keeps its error, loses its content, and is never claimed again", async (t) => {
    const { outbox, tenantA } = await open(t);
    const [id] = await enqueueMany(outbox, tenantA, 1, NOW);
    const claim = await claimOne(outbox, NOW);
    assert.equal(await outbox.abandonMail(claim, "gave up", NOW), true);
    const stored = await outbox.findMail(tenantA, id!);
    assert.equal(stored?.status, "abandoned");
    assert.equal(stored?.contentSealed, null);
    assert.equal(stored?.lastError, "gave up");
    assert.deepEqual(await outbox.claimMail(minutesFrom(NOW, 60), 10, LEASE_MS), []);
  });

  test("a claim whose lease ran out is taken over, and the first courier can no longer change it", async (t) => {
    const { outbox, tenantA } = await open(t);
    await enqueueMany(outbox, tenantA, 1, NOW);
    const crashed = await claimOne(outbox, NOW);
    assert.deepEqual(await outbox.claimMail(new Date(NOW.getTime() + LEASE_MS - 1), 10, LEASE_MS), []);
    const takeover = await claimOne(outbox, new Date(NOW.getTime() + LEASE_MS));
    assert.equal(takeover.id, crashed.id);
    assert.equal(takeover.sendCount, 2);
    assert.deepEqual(await outbox.markMailsSent([crashed], NOW), []);
    assert.equal(await outbox.markMailFailed(crashed, "late", NOW, NOW), false);
    assert.equal(await outbox.abandonMail(crashed, "late", NOW), false);
    assert.deepEqual(await outbox.markMailsSent([takeover], NOW), [takeover.id]);
  });

  test("two couriers on two connections claiming at once never claim the same message twice", {
    skip:
      dialect === "postgres"
        ? false
        : "SQLite serialises writers: the race only means something on PostgreSQL",
  }, async (t) => {
    const { outbox, tenantA, openAnotherConnection } = await open(t);
    const other = await openAnotherConnection();
    // Both pools connected before the race starts, so neither drains the queue while the other connects.
    await Promise.all([outbox.findMail(tenantA, randomUUID()), other.findMail(tenantA, randomUUID())]);
    const ids = await enqueueMany(outbox, tenantA, 300, NOW);
    const later = minutesFrom(NOW, 1);
    const [mine, theirs] = await Promise.all([claimAll(outbox, later), claimAll(other, later)]);
    const all = [...mine, ...theirs];
    assert.equal(new Set(all).size, all.length, "a message was claimed twice");
    assert.deepEqual([...all].sort(), [...ids].sort());
    assert.ok(mine.length > 0 && theirs.length > 0, "both couriers should have claimed some messages");
  });
}
