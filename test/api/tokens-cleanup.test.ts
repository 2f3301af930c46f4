import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { cleanUpExpiredTokens } from "../../src/tokens/service.js";
import { createUser, type TestApp } from "../support/app.js";
import { DIALECTS, noPostgres } from "../support/databases.js";
import {
  createStoredToken,
  DAY,
  eventsOf,
  HOUR,
  signedInUser,
  systemAudit,
  tokenApp,
  tokenReference,
  whoAmI,
  wireTime,
} from "../support/tokens.js";

const TOKENS = "/api/v3/core/tokens/";

function cleanUp(rekey: TestApp): Promise<number> {
  return cleanUpExpiredTokens(rekey.deps, systemAudit);
}

for (const dialect of DIALECTS) {
  describe(`expired token cleanup on ${dialect}`, () => {
    test("an expired api token gets a new key and expiry, and secret_rotate is recorded", async (t) => {
      const { rekey, clock } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      const created = (
        await rekey.api("POST", TOKENS, { identifier: "ci", user: jdoe.pk, expires: wireTime(HOUR) })
      ).json();
      const oldKey = (await rekey.api("GET", `${TOKENS}ci/view_key/`)).json().key as string;
      assert.equal(await whoAmI(rekey, oldKey), "jdoe");

      clock.advance(2 * HOUR);
      assert.deepEqual(await whoAmI(rekey, oldKey), { detail: "Token invalid/expired" });
      const listed = await rekey.api("GET", `${TOKENS}?identifier=ci`);
      assert.equal(listed.json().pagination.count, 1, "an expired token stays listed until the cleanup");

      assert.equal(await cleanUp(rekey), 1);
      const after = (await rekey.api("GET", `${TOKENS}ci/`)).json();
      assert.equal(after.pk, created.pk);
      assert.equal(after.expires, wireTime(2 * HOUR + DAY));
      const newKey = (await rekey.api("GET", `${TOKENS}ci/view_key/`)).json().key as string;
      assert.match(newKey, /^[A-Za-z0-9]{60}$/);
      assert.notEqual(newKey, oldKey);
      assert.equal(await whoAmI(rekey, newKey), "jdoe");
      assert.deepEqual(await whoAmI(rekey, oldKey), { detail: "Token invalid/expired" });

      const events = await eventsOf(rekey, "secret_rotate");
      assert.equal(events.length, 1);
      assert.deepEqual(events[0]!.user, { pk: 0, username: "rekey:system", email: "" });
      assert.equal(events[0]!.app, "rekey.tasks");
      assert.deepEqual(events[0]!.context, {
        message: "Token ci's secret was rotated.",
        secret: tokenReference(created),
      });
      assert.equal(await cleanUp(rekey), 0, "a rotated token is not expired any more");
    });

    test("expired app passwords, recovery and verification tokens are deleted without an event", async (t) => {
      const { rekey, clock } = await tokenApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      await rekey.api("POST", TOKENS, {
        identifier: "mail",
        user: jdoe,
        intent: "app_password",
        expires: wireTime(HOUR),
      });
      await createStoredToken(rekey, jdoe, "jdoe-recovery", "recovery");
      await createStoredToken(rekey, jdoe, "jdoe-verification", "verification");
      const before = await eventsOf(rekey, "model_deleted");

      clock.advance(2 * HOUR);
      assert.equal(await cleanUp(rekey), 3);
      for (const identifier of ["mail", "jdoe-recovery", "jdoe-verification"]) {
        assert.equal((await rekey.api("GET", `${TOKENS}${identifier}/`)).statusCode, 404, identifier);
      }
      assert.deepEqual(await eventsOf(rekey, "model_deleted"), before);
      assert.deepEqual(await eventsOf(rekey, "secret_rotate"), []);
    });

    test("tokens that have not expired, or never expire, are left alone", async (t) => {
      const { rekey, clock } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      await rekey.api("POST", TOKENS, {
        identifier: "later",
        user: jdoe.pk,
        intent: "app_password",
        expires: wireTime(3 * HOUR),
      });
      await rekey.api("POST", TOKENS, {
        identifier: "forever",
        user: jdoe.pk,
        expiring: false,
        expires: wireTime(HOUR),
      });
      clock.advance(2 * HOUR);
      assert.equal(await cleanUp(rekey), 0);
      const listed = await rekey.api("GET", `${TOKENS}?user__username=jdoe`);
      assert.deepEqual(
        listed.json().results.map((token: { identifier: string }) => token.identifier),
        ["forever", "jdoe-login", "later"],
      );
      assert.equal(await whoAmI(rekey, jdoe.key), "jdoe");
    });
  });
}

describe("expired token cleanup racing on postgres", () => {
  test("two cleanups running at once rotate each expired api token exactly once", {
    skip: noPostgres,
  }, async (t) => {
    const { rekey, clock } = await tokenApp(t, "postgres");
    const jdoe = await createUser(rekey, "jdoe");
    const identifiers = Array.from({ length: 10 }, (_, i) => `ci-${i}`);
    for (const identifier of identifiers) {
      const response = await rekey.api("POST", TOKENS, { identifier, user: jdoe, expires: wireTime(HOUR) });
      assert.equal(response.statusCode, 201, response.body);
    }
    clock.advance(2 * HOUR);
    const counts = await Promise.all([cleanUp(rekey), cleanUp(rekey)]);
    assert.equal(counts[0]! + counts[1]!, identifiers.length);
    const events = await eventsOf(rekey, "secret_rotate");
    const perToken = new Map<string, number>();
    for (const event of events) {
      const name = (event.context["secret"] as { name: string }).name;
      perToken.set(name, (perToken.get(name) ?? 0) + 1);
    }
    assert.deepEqual(
      Object.fromEntries([...perToken].sort()),
      Object.fromEntries(identifiers.map((id) => [id, 1])),
    );
    for (const identifier of identifiers) {
      const key = (await rekey.api("GET", `${TOKENS}${identifier}/view_key/`)).json().key as string;
      assert.equal(await whoAmI(rekey, key), "jdoe", identifier);
    }
  });
});
