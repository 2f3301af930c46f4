import { describe, test } from "node:test";
import { noPostgres } from "../support/databases.js";
import { replicaScenario } from "./replicas.scenario.js";

/** The fast variant of issue 6's replica races, in `npm test` (the full sizes: replicas.reliability.ts). */
describe("two Rekey processes on one PostgreSQL database", () => {
  test("races on 5 codes, 5 links and 5 keys, and 20 mails through two couriers", {
    skip: noPostgres,
  }, async (t) => {
    await replicaScenario(t, { secrets: 5, attempts: 120, mails: 20 });
  });
});
