import { describe, test } from "node:test";
import { noPostgres } from "../support/databases.js";
import { replicaScenario } from "./replicas.scenario.js";

/** Issue 6, reliability 2 in full (`npm run test:reliability`). */
describe("two Rekey processes on one PostgreSQL database", () => {
  test("1,000 redemptions of 50 codes, 50 links and 50 keys, and 200 mails through two couriers", {
    skip: noPostgres,
  }, async (t) => {
    await replicaScenario(t, { secrets: 50, attempts: 1000, mails: 200 });
  });
});
