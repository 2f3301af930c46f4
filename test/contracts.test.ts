import { randomUUID } from "node:crypto";
import { describe, type TestContext } from "node:test";
import { NOW, type StoresUnderTest } from "../src/db/contract.js";
import type { Dialect } from "../src/db/database.js";
import { storesOn } from "../src/db/stores.js";
import { testEventStore } from "../src/events/store.contract.js";
import { testTenantStore } from "../src/tenants/store.contract.js";
import { testTokenStore, testTokenStoreRaces } from "../src/tokens/store.contract.js";
import { testGroupStore, testUserStore, testUserStoreRaces } from "../src/users/store.contract.js";
import { DIALECTS, freshDatabase, noPostgres } from "./support/databases.js";

/** Fresh stores on a migrated database: tenant A is the default tenant, tenant B a second, empty one. */
async function openStores(t: TestContext, dialect: Dialect): Promise<StoresUnderTest> {
  const { db } = await freshDatabase(t, dialect);
  const stores = storesOn(db.kysely, dialect);
  const tenantA = (await stores.tenants.defaultTenant()).id;
  const tenantB = randomUUID();
  if (!(await stores.tenants.createTenant({ id: tenantB, schemaName: "t_other", name: "Other" }, NOW))) {
    throw new Error("could not create the second test tenant");
  }
  return { stores, tenantA, tenantB };
}

for (const dialect of DIALECTS) {
  describe(`stores on ${dialect}`, () => {
    const open = (t: TestContext): Promise<StoresUnderTest> => openStores(t, dialect);
    testTenantStore(open);
    testUserStore(open);
    testGroupStore(open);
    testTokenStore(open);
    testEventStore(open);
  });
}

// SQLite serialises writes and would hide these races: they only mean something on PostgreSQL.
describe("store races on postgres", { skip: noPostgres }, () => {
  const open = (t: TestContext): Promise<StoresUnderTest> => openStores(t, "postgres");
  testTokenStoreRaces(open);
  testUserStoreRaces(open);
});
