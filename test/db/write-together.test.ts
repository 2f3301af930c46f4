import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SYSTEM_ACTOR } from "../../src/events/store.js";
import { writeTogether } from "../../src/db/write-together.js";
import { testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";

/**
 * writeTogether: the writes of a recovery address step commit together or not at all, one statement
 * on PostgreSQL (each part's parameters renumbered), a transaction on SQLite.
 */

const NOW = new Date("2026-03-01T12:00:00Z");

for (const dialect of DIALECTS) {
  describe(`writeTogether on ${dialect}`, () => {
    test("every write lands with its own values", async (t) => {
      const rekey = await testApp(t, dialect);
      const stores = rekey.deps.persistence.stores;
      const tenantId = (await stores.tenants.defaultTenant()).id;
      const event = {
        id: "0190e0a0-0000-7000-8000-000000000001",
        tenantId,
        action: "recovery_failed" as const,
        app: "rekey.kratos" as const,
        actor: SYSTEM_ACTOR,
        context: { reason: "test" },
        clientIP: "192.0.2.1",
        created: NOW,
        expires: new Date(NOW.getTime() + 60_000),
      };
      const mail = (id: string, recipient: string) => ({
        id,
        tenantId,
        recipient,
        template: "recovery_code_invalid" as const,
        contentSealed: `sealed-${id}`,
        contentSecretIndex: 0,
        emailStageId: null,
      });
      await writeTogether(rekey.deps, async (tx) => {
        await tx.outbox.enqueueMail(mail("11111111-1111-4111-8111-111111111111", "a@example.com"), NOW);
        await tx.events.recordEvent(event);
        await tx.outbox.enqueueMail(mail("22222222-2222-4222-8222-222222222222", "b@example.com"), NOW);
      });
      const first = await stores.outbox.findMail(tenantId, "11111111-1111-4111-8111-111111111111");
      const second = await stores.outbox.findMail(tenantId, "22222222-2222-4222-8222-222222222222");
      assert.equal(first?.recipient, "a@example.com");
      assert.equal(first?.contentSealed, "sealed-11111111-1111-4111-8111-111111111111");
      assert.equal(second?.recipient, "b@example.com");
      assert.equal(second?.contentSealed, "sealed-22222222-2222-4222-8222-222222222222");
      const stored = await stores.events.findEvent(tenantId, event.id);
      assert.equal(stored?.clientIP, "192.0.2.1");
      assert.deepEqual(stored?.context, { reason: "test" });
    });

    test("one failing write keeps the others out", async (t) => {
      const rekey = await testApp(t, dialect);
      const stores = rekey.deps.persistence.stores;
      const tenantId = (await stores.tenants.defaultTenant()).id;
      const event = {
        id: "0190e0a0-0000-7000-8000-000000000002",
        tenantId,
        action: "recovery_failed" as const,
        app: "rekey.kratos" as const,
        actor: SYSTEM_ACTOR,
        context: {},
        clientIP: null,
        created: NOW,
        expires: new Date(NOW.getTime() + 60_000),
      };
      await stores.events.recordEvent(event);
      const id = "33333333-3333-4333-8333-333333333333";
      await assert.rejects(
        writeTogether(rekey.deps, async (tx) => {
          await tx.outbox.enqueueMail(
            {
              id,
              tenantId,
              recipient: "c@example.com",
              template: "recovery_code_invalid",
              contentSealed: "sealed",
              contentSecretIndex: 0,
              emailStageId: null,
            },
            NOW,
          );
          await tx.events.recordEvent(event); // the same id again: a unique violation
        }),
      );
      assert.equal(await stores.outbox.findMail(tenantId, id), null);
    });
  });
}
