import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import { crashScenario } from "./crash.scenario.js";

/** The fast variant of issue 6's crash test, in `npm test`: 3 kills per dialect (20 in crash.reliability.ts). */
for (const dialect of DIALECTS) {
  describe(`kill -9 under token-creation load on ${dialect}`, () => {
    test("after each of 3 restarts, every token answered 201 exists and its key works", async (t) => {
      await crashScenario(t, dialect, 3);
    });
  });
}
