import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import { createIdentity, harness, KratosClient, signInWithPassword } from "./helpers.js";

const PASSWORD = "correct-horse-battery-1";

/**
 * A sign-in stamps last_login without announcing a change: an announcement empties the credential
 * and tenant caches of every replica, so under steady logins no cached API token would survive.
 */
for (const dialect of DIALECTS) {
  describe(`signing in and the caches on ${dialect}`, () => {
    test("a password login records last_login and leaves every cache in place", async (t) => {
      const { rekey } = await harness(t, dialect);
      const jane = await createIdentity(rekey, "jane", { password: PASSWORD });
      let announced = 0;
      rekey.deps.changes.subscribe(() => {
        announced += 1;
      });
      const before = await rekey.api("GET", `/api/v3/core/users/${jane.pk}/`);
      assert.equal(before.json().last_login, null);
      const identityBefore = (await rekey.api("GET", `/admin/identities/${jane.uuid}`)).json();
      assert.equal(typeof identityBefore.updated_at, "string");

      await signInWithPassword(new KratosClient(rekey, "api"), "jane", PASSWORD);
      assert.equal(announced, 0, "a sign-in announced a change");
      const after = (await rekey.api("GET", `/api/v3/core/users/${jane.pk}/`)).json();
      assert.notEqual(after.last_login, null);
      // A sign-in is not an edit of the identity.
      const identityAfter = (await rekey.api("GET", `/admin/identities/${jane.uuid}`)).json();
      assert.equal(identityAfter.updated_at, identityBefore.updated_at);

      // The probe hears a real edit, so the zero above means something.
      const renamed = await rekey.api("PATCH", `/api/v3/core/users/${jane.pk}/`, { name: "Jane D." });
      assert.equal(renamed.statusCode, 200, renamed.body);
      assert.ok(announced > 0);
    });
  });
}
