import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import { checkTenantIsolation } from "./tenants.property.js";

/** The fast part of the tenant property (tenants.reliability.ts runs many more sequences). */

const RUNS = Number(process.env["REKEY_TENANT_RUNS"] ?? 25);

for (const dialect of DIALECTS) {
  describe(`tenant isolation on ${dialect}`, () => {
    test(`${RUNS} random sequences of reads, writes and recoveries in A never touch or name tenant B`, (t) =>
      checkTenantIsolation(t, dialect, RUNS));
  });
}
