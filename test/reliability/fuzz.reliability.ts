import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import { fuzzEverySurface } from "./fuzz.run.js";

/**
 * Issue 6, reliability item 4: 100,000 generated requests in all, split over the dialects the suite
 * runs on, across /api/v3 (from its OpenAPI document), Kratos' routes and the pages: zero 5xx, every
 * error in its dialect's shape, the database unchanged by every refused request.
 */

const TOTAL = Number(process.env["REKEY_FUZZ_TOTAL"] ?? 100_000);
/** In slices, so a failure names a smaller run and each slice starts from a fresh database. */
const SLICE = 10_000;

for (const dialect of DIALECTS) {
  describe(`every surface under ${TOTAL / DIALECTS.length} generated requests on ${dialect}`, () => {
    const perDialect = Math.ceil(TOTAL / DIALECTS.length);
    for (let start = 0; start < perDialect; start += SLICE) {
      const runs = Math.min(SLICE, perDialect - start);
      test(
        `requests ${start + 1}–${start + runs}: no 5xx, dialect-shaped errors, refused requests change nothing`,
        {
          timeout: 3_600_000,
        },
        (t) => fuzzEverySurface(t, dialect, runs),
      );
    }
  });
}
