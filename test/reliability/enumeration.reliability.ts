import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import { assertSameTiming, checkEnumeration, type EndpointResult } from "./enumeration.check.js";

/**
 * Issue 6, reliability item 7: the forgot-password page and Kratos' recovery answer known and
 * unknown addresses with the same status, body shape and timing (median gap under 5 ms, 200 tries).
 */

const TRIES = Number(process.env["REKEY_ENUMERATION_TRIES"] ?? 200);

for (const dialect of DIALECTS) {
  describe(`recovery by address does not tell known from unknown on ${dialect}`, () => {
    let results: EndpointResult[] = [];
    test(`${TRIES} tries each: same status and same body`, { timeout: 900_000 }, async (t) => {
      results = await checkEnumeration(t, dialect, TRIES);
    });
    test("authentik forgot-password page: median gap under 5 ms", () => assertSameTiming(results[0]!));
    test("Kratos self-service recovery: median gap under 5 ms", () => assertSameTiming(results[1]!));
  });
}
