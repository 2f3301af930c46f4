import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { type TestContext, test } from "node:test";
import { aListQuery, NOW, orderedBy } from "../../db/contract.js";
import { isUniqueViolation } from "../../db/errors.js";
import type { EmailStage, EmailStageStore } from "./store.js";

/** What the email stage contract is given: a fresh store on an empty database with two tenants. */
export interface EmailStagesUnderTest {
  emailStages: EmailStageStore;
  tenantA: string;
  tenantB: string;
}

export type OpenEmailStages = (t: TestContext) => Promise<EmailStagesUnderTest>;

export function anEmailStage(tenantId: string, overrides?: Partial<EmailStage>): EmailStage {
  return {
    id: randomUUID(),
    tenantId,
    name: "recovery-mail",
    useGlobalSettings: false,
    host: "smtp.example.com",
    port: 587,
    username: "mailer",
    passwordSealed: "c2VhbGVkLXBhc3N3b3Jk",
    passwordSecretIndex: 0,
    useTLS: true,
    useSSL: false,
    timeout: 10,
    fromAddress: "noreply@example.com",
    tokenExpiry: "minutes=30",
    subject: "Reset your password",
    template: "email/password_reset.html",
    activateUserOnSuccess: false,
    ...overrides,
  };
}

async function rejectsAsUniqueViolation(work: Promise<unknown>): Promise<void> {
  await assert.rejects(work, (error) => isUniqueViolation(error));
}

/** The EmailStageStore contract, run on SQLite and on PostgreSQL. */
export function testEmailStageStore(open: OpenEmailStages): void {
  test("a created stage is found with every field as written", async (t) => {
    const { emailStages, tenantA } = await open(t);
    const stage = anEmailStage(tenantA, {
      useSSL: true,
      useTLS: false,
      activateUserOnSuccess: true,
      template: "email/setup.html",
    });
    await emailStages.createEmailStage(stage, NOW);
    assert.deepEqual(await emailStages.findEmailStage(tenantA, stage.id), stage);
  });

  test("a stage is not visible from another tenant, and cannot be changed or deleted from there", async (t) => {
    const { emailStages, tenantA, tenantB } = await open(t);
    const stage = anEmailStage(tenantA);
    await emailStages.createEmailStage(stage, NOW);
    assert.equal(await emailStages.findEmailStage(tenantB, stage.id), null);
    assert.equal((await emailStages.listEmailStages(tenantB, {}, aListQuery())).total, 0);
    assert.equal(await emailStages.isEmailStageNameTaken(tenantB, stage.name, null), false);
    await emailStages.updateEmailStage(tenantB, stage.id, { subject: "changed" });
    assert.equal(await emailStages.deleteEmailStage(tenantB, stage.id), false);
    assert.deepEqual(await emailStages.findEmailStage(tenantA, stage.id), stage);
  });

  test("names are unique per tenant: the same name is taken in one and free in another", async (t) => {
    const { emailStages, tenantA, tenantB } = await open(t);
    const stage = anEmailStage(tenantA);
    await emailStages.createEmailStage(stage, NOW);
    assert.equal(await emailStages.isEmailStageNameTaken(tenantA, stage.name, null), true);
    assert.equal(await emailStages.isEmailStageNameTaken(tenantA, stage.name, stage.id), false);
    await rejectsAsUniqueViolation(emailStages.createEmailStage(anEmailStage(tenantA), NOW));
    await emailStages.createEmailStage(anEmailStage(tenantB), NOW);
  });

  test("an update changes only the given fields and may not take another stage's name", async (t) => {
    const { emailStages, tenantA } = await open(t);
    const stage = anEmailStage(tenantA);
    const other = anEmailStage(tenantA, { name: "other" });
    await emailStages.createEmailStage(stage, NOW);
    await emailStages.createEmailStage(other, NOW);
    await emailStages.updateEmailStage(tenantA, stage.id, {
      subject: "New subject",
      port: 2525,
      useTLS: false,
    });
    assert.deepEqual(await emailStages.findEmailStage(tenantA, stage.id), {
      ...stage,
      subject: "New subject",
      port: 2525,
      useTLS: false,
    });
    await emailStages.updateEmailStage(tenantA, stage.id, {
      passwordSealed: null,
      passwordSecretIndex: null,
    });
    assert.equal((await emailStages.findEmailStage(tenantA, stage.id))?.passwordSealed, null);
    await rejectsAsUniqueViolation(emailStages.updateEmailStage(tenantA, stage.id, { name: "other" }));
  });

  test("a deleted stage is gone", async (t) => {
    const { emailStages, tenantA } = await open(t);
    const stage = anEmailStage(tenantA);
    await emailStages.createEmailStage(stage, NOW);
    assert.equal(await emailStages.deleteEmailStage(tenantA, stage.id), true);
    assert.equal(await emailStages.findEmailStage(tenantA, stage.id), null);
    assert.equal(await emailStages.deleteEmailStage(tenantA, stage.id), false);
  });

  test("the list searches names case-insensitively, filters exactly, orders and pages", async (t) => {
    const { emailStages, tenantA } = await open(t);
    await emailStages.createEmailStage(
      anEmailStage(tenantA, { name: "recovery-b", port: 25, useGlobalSettings: true }),
      NOW,
    );
    await emailStages.createEmailStage(anEmailStage(tenantA, { name: "Recovery A", port: 587 }), NOW);
    await emailStages.createEmailStage(
      anEmailStage(tenantA, { name: "welcome", port: 25, template: "email/setup.html" }),
      NOW,
    );
    // Names whose order is the same in SQLite's binary collation and PostgreSQL's locale collation.
    const names = (page: { rows: EmailStage[] }) => page.rows.map((stage) => stage.name);

    const searched = await emailStages.listEmailStages(
      tenantA,
      {},
      aListQuery({ search: ["RECOVERY"], ordering: orderedBy("name") }),
    );
    assert.deepEqual(names(searched), ["Recovery A", "recovery-b"]);
    assert.equal(searched.total, 2);
    const byPort = await emailStages.listEmailStages(
      tenantA,
      { port: 25 },
      aListQuery({ ordering: orderedBy("-name") }),
    );
    assert.deepEqual(names(byPort), ["welcome", "recovery-b"]);
    const global = await emailStages.listEmailStages(tenantA, { useGlobalSettings: true }, aListQuery());
    assert.deepEqual(names(global), ["recovery-b"]);
    const setup = await emailStages.listEmailStages(tenantA, { template: "email/setup.html" }, aListQuery());
    assert.deepEqual(names(setup), ["welcome"]);
    const second = await emailStages.listEmailStages(
      tenantA,
      {},
      aListQuery({ ordering: orderedBy("port", "name"), offset: 1, limit: 1 }),
    );
    assert.deepEqual(names(second), ["welcome"]);
    assert.equal(second.total, 3);
  });
}
