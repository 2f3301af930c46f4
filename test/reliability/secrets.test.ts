import { describe, test } from "node:test";
import { checkSecrets } from "./secrets.check.js";

/** The fast part of the secrets scan: one round of the scenario (secrets.reliability.ts runs more). */
describe("no secret in clear in the SQLite files or the logs", () => {
  test("after one round of every kind of secret", (t) => checkSecrets(t, 1));
});
