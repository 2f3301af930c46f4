import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import { crashScenario } from "./crash.scenario.js";

/** Issue 6, reliability 1 in full (`npm run test:reliability`): 20 kills per dialect. */
for (const dialect of DIALECTS) {
  describe(`kill -9 under token-creation load on ${dialect}`, () => {
    test("after each of 20 restarts, every token answered 201 exists and its key works", async (t) => {
      await crashScenario(t, dialect, 20);
    });
  });
}
