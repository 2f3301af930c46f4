import { describe, test } from "node:test";
import { checkSecrets } from "./secrets.check.js";

/**
 * Issue 6, reliability item 6: token keys, recovery keys, codes, link tokens, TOTP secrets, backup
 * codes and passwords never sit in clear in the SQLite files or the logs. Several rounds, so the WAL
 * and the log hold many of each.
 */
describe("no secret in clear in the SQLite files or the logs", () => {
  test("after five rounds of every kind of secret", { timeout: 600_000 }, (t) => checkSecrets(t, 5));
});
