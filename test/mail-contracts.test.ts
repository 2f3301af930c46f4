// The mail store contracts (outbox, email stages) on every dialect: SQLite always, PostgreSQL when
// REKEY_TEST_POSTGRES_URL is set (scripts/test.mjs finds the local server; CI requires it).
import { randomUUID } from "node:crypto";
import { describe, type TestContext } from "node:test";
import { NOW } from "../src/db/contract.js";
import { type Dialect, openDatabase } from "../src/db/database.js";
import { testEmailStageStore } from "../src/mail/stages/store.contract.js";
import { sqlEmailStageStore } from "../src/mail/stages/store.sql.js";
import { testOutboxStore } from "../src/mail/store.contract.js";
import { sqlOutboxStore } from "../src/mail/store.sql.js";
import { sqlTenantStore } from "../src/tenants/store.sql.js";
import { DIALECTS, freshDatabase } from "./support/databases.js";

async function openMailStores(t: TestContext, dialect: Dialect) {
  const database = await freshDatabase(t, dialect);
  const kysely = database.db.kysely;
  const tenants = sqlTenantStore(kysely);
  const tenantA = (await tenants.defaultTenant()).id;
  const tenantB = randomUUID();
  await tenants.createTenant({ id: tenantB, schemaName: "t_tenant_b", name: "Tenant B" }, NOW);
  return {
    outbox: sqlOutboxStore(kysely, dialect),
    emailStages: sqlEmailStageStore(kysely),
    tenantA,
    tenantB,
    async openAnotherConnection() {
      const other = openDatabase(database.url, { poolSize: 4 });
      t.after(() => other.close());
      return sqlOutboxStore(other.kysely, other.dialect);
    },
  };
}

for (const dialect of DIALECTS) {
  describe(`OutboxStore on ${dialect}`, () => testOutboxStore((t) => openMailStores(t, dialect), dialect));
  describe(`EmailStageStore on ${dialect}`, () => testEmailStageStore((t) => openMailStores(t, dialect)));
}
