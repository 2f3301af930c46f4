import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import { checkTenantIsolation } from "./tenants.property.js";

/** Issue 6, reliability item 5: no read, write or recovery in one tenant ever touches another. */

const RUNS = Number(process.env["REKEY_TENANT_RUNS"] ?? 400);

for (const dialect of DIALECTS) {
  describe(`tenant isolation on ${dialect}`, () => {
    test(
      `${RUNS} random sequences of reads, writes and recoveries in A never touch or name tenant B`,
      {
        timeout: 3_600_000,
      },
      (t) => checkTenantIsolation(t, dialect, RUNS),
    );
  });
}
