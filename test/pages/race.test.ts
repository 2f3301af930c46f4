import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createUser, type TestApp, testApp } from "../support/app.js";
import { noPostgres } from "../support/databases.js";
import { createKey, createLink, csrfTokenOf, type IssuedSecret, PageClient } from "./helpers.js";

const RACERS = 20;

/**
 * RACERS browsers, each with its own CSRF cookie and token, press Continue on one link or key at
 * the same moment. SQLite serialises writes and would hide a race, so this runs on PostgreSQL only
 * (style.md, Tests: Races).
 */
async function race(rekey: TestApp, secret: IssuedSecret, action: string): Promise<number[]> {
  const browsers: { client: PageClient; token: string }[] = [];
  for (let i = 0; i < RACERS; i++) {
    // Distinct addresses, as distinct people would have: the per-IP redeem limit is not what is tested.
    const client = new PageClient(rekey, { remoteAddress: `198.51.100.${i + 1}` });
    const page = await client.get(secret.path);
    assert.equal(page.statusCode, 200, page.body);
    browsers.push({ client, token: csrfTokenOf(page.body) });
  }
  const responses = await Promise.all(
    browsers.map(({ client, token }) => client.post(action, { key: secret.key, csrf_token: token })),
  );
  for (const response of responses) {
    assert.ok(
      response.statusCode === 303 || response.statusCode === 404,
      `${response.statusCode} ${response.body}`,
    );
  }
  return responses.map((response) => response.statusCode);
}

describe("concurrent Continue on PostgreSQL", () => {
  test(`one link pressed by ${RACERS} browsers at once opens exactly one recovery session`, {
    skip: noPostgres,
  }, async (t) => {
    const rekey = await testApp(t, "postgres");
    const link = await createLink(rekey, await createUser(rekey, "jdoe"));
    const statuses = await race(rekey, link, "/if/flow/default-recovery-flow/");
    assert.equal(statuses.filter((status) => status === 303).length, 1, JSON.stringify(statuses));
  });

  test(`one recovery key pressed by ${RACERS} browsers at once opens exactly one recovery session`, {
    skip: noPostgres,
  }, async (t) => {
    const rekey = await testApp(t, "postgres");
    await createUser(rekey, "jdoe");
    const key = await createKey(rekey, "jdoe");
    const statuses = await race(rekey, key, key.path);
    assert.equal(statuses.filter((status) => status === 303).length, 1, JSON.stringify(statuses));
  });
});
