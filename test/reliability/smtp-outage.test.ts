import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import { smtpOutageScenario } from "./smtp-outage.scenario.js";

/** The fast variant of issue 6's SMTP outage test, in `npm test`: 10 mails (100 in smtp-outage.reliability.ts). */
for (const dialect of DIALECTS) {
  describe(`an SMTP outage with a kill -9 inside it on ${dialect}`, () => {
    test("10 recovery emails requested while the port is closed each arrive exactly once", async (t) => {
      await smtpOutageScenario(t, dialect, 10);
    });
  });
}
