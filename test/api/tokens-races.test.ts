import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createUser } from "../support/app.js";
import { noPostgres } from "../support/databases.js";
import { signedInUser, tokenApp, whoAmI } from "../support/tokens.js";

const TOKENS = "/api/v3/core/tokens/";
const RACERS = 12;

/** How many responses had each status, and the distinct bodies of the 400s. */
function tally(responses: { statusCode: number; body: string }[]): {
  statuses: Record<number, number>;
  errors: string[];
} {
  const statuses: Record<number, number> = {};
  const errors = new Set<string>();
  for (const response of responses) {
    statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
    if (response.statusCode === 400) errors.add(response.body);
  }
  return { statuses, errors: [...errors] };
}

// SQLite serialises writes, so the checks before each write always see the winner: these races
// only mean something on PostgreSQL, where the unique constraints are the last word.
describe("token writes racing on postgres", () => {
  test("of many creates with one identifier, one wins and the rest get the identifier error", {
    skip: noPostgres,
  }, async (t) => {
    const { rekey } = await tokenApp(t, "postgres");
    const creates = Array.from({ length: RACERS }, (_, i) =>
      rekey.api("POST", TOKENS, { identifier: "contested", description: `racer ${i}` }),
    );
    const { statuses, errors } = tally(await Promise.all(creates));
    assert.deepEqual(statuses, { 201: 1, 400: RACERS - 1 });
    assert.deepEqual(errors, [
      JSON.stringify({ identifier: ["Token with this identifier already exists."] }),
    ]);
  });

  test("of many creates with one managed value, one wins and the rest get the managed error", {
    skip: noPostgres,
  }, async (t) => {
    const { rekey } = await tokenApp(t, "postgres");
    const creates = Array.from({ length: RACERS }, (_, i) =>
      rekey.api("POST", TOKENS, { identifier: `racer-${i}`, managed: "goauthentik.io/contested" }),
    );
    const { statuses, errors } = tally(await Promise.all(creates));
    assert.deepEqual(statuses, { 201: 1, 400: RACERS - 1 });
    assert.deepEqual(errors, [
      JSON.stringify({ managed: ["Token with this Managed by authentik already exists."] }),
    ]);
  });

  test("of many tokens given one key at once, one gets it and the rest get the key error", {
    skip: noPostgres,
  }, async (t) => {
    const { rekey } = await tokenApp(t, "postgres");
    const jdoe = await createUser(rekey, "jdoe");
    for (let i = 0; i < RACERS; i++) {
      assert.equal(
        (await rekey.api("POST", TOKENS, { identifier: `racer-${i}`, user: jdoe })).statusCode,
        201,
      );
    }
    const sets = Array.from({ length: RACERS }, (_, i) =>
      rekey.api("POST", `${TOKENS}racer-${i}/set_key/`, { key: "one-key-for-all" }),
    );
    const { statuses, errors } = tally(await Promise.all(sets));
    assert.deepEqual(statuses, { 204: 1, 400: RACERS - 1 });
    assert.deepEqual(errors, [JSON.stringify({ key: ["Token with this key already exists."] })]);
    assert.equal(await whoAmI(rekey, "one-key-for-all"), "jdoe");
  });

  test("a user's concurrent creates with distinct identifiers all succeed", {
    skip: noPostgres,
  }, async (t) => {
    const { rekey } = await tokenApp(t, "postgres");
    const jdoe = await signedInUser(rekey, "jdoe");
    const creates = Array.from({ length: RACERS }, (_, i) =>
      rekey.api("POST", TOKENS, { identifier: `mine-${i}` }, { token: jdoe.key }),
    );
    assert.deepEqual(tally(await Promise.all(creates)).statuses, { 201: RACERS });
    const listed = await rekey.api("GET", `${TOKENS}?search=mine-`, undefined, { token: jdoe.key });
    assert.equal(listed.json().pagination.count, RACERS);
  });
});
