import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import { smtpOutageScenario } from "./smtp-outage.scenario.js";

/** Issue 6, reliability 3 in full (`npm run test:reliability`). */
for (const dialect of DIALECTS) {
  describe(`an SMTP outage with a kill -9 inside it on ${dialect}`, () => {
    test("100 recovery emails requested while the port is closed each arrive exactly once", async (t) => {
      await smtpOutageScenario(t, dialect, 100);
    });
  });
}
