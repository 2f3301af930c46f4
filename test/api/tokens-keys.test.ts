import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { ADMIN_TOKEN, createUser } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  createStoredToken,
  eventsOf,
  signedInUser,
  tokenApp,
  tokenReference,
  whoAmI,
} from "../support/tokens.js";

const TOKENS = "/api/v3/core/tokens/";
const FORBIDDEN = { detail: "You do not have permission to perform this action." };
const NOT_FOUND = { detail: "No Token matches the given query." };

for (const dialect of DIALECTS) {
  describe(`GET /api/v3/core/tokens/{identifier}/view_key/ on ${dialect}`, () => {
    test("the owner who created a token reads its key, uncached, and secret_view is recorded", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      const created = (
        await rekey.api("POST", TOKENS, { identifier: "mine", intent: "app_password" }, { token: jdoe.key })
      ).json();
      const response = await rekey.api("GET", `${TOKENS}mine/view_key/`, undefined, { token: jdoe.key });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(Object.keys(response.json()), ["key"]);
      assert.match(response.json().key, /^[A-Za-z0-9]{60}$/);
      assert.equal(response.headers["cache-control"], "no-store");
      const events = await eventsOf(rekey, "secret_view");
      const mine = events.filter((event) => event.user.username === "jdoe");
      assert.equal(mine.length, 1);
      assert.deepEqual(mine[0]!.context["secret"], tokenReference(created));
    });

    test("a user cannot view the key of a token an admin created for them; the admin can", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      const denied = await rekey.api("GET", `${TOKENS}jdoe-login/view_key/`, undefined, { token: jdoe.key });
      assert.equal(denied.statusCode, 403);
      assert.deepEqual(denied.json(), FORBIDDEN);
      const admin = await rekey.api("GET", `${TOKENS}jdoe-login/view_key/`);
      assert.equal(admin.statusCode, 200);
      assert.equal(admin.json().key, jdoe.key);
      assert.equal(
        (await eventsOf(rekey, "secret_view")).filter((event) => event.user.username === "jdoe").length,
        0,
      );
    });

    test("another user's token is 404 for a normal user", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      const response = await rekey.api("GET", `${TOKENS}authentik-bootstrap-token/view_key/`, undefined, {
        token: jdoe.key,
      });
      assert.equal(response.statusCode, 404);
      assert.deepEqual(response.json(), NOT_FOUND);
    });

    test("recovery and verification keys are stored hash-only and cannot be viewed", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      for (const intent of ["recovery", "verification"] as const) {
        await createStoredToken(rekey, jdoe, `jdoe-${intent}`, intent);
        const response = await rekey.api("GET", `${TOKENS}jdoe-${intent}/view_key/`);
        assert.equal(response.statusCode, 404, intent);
        assert.deepEqual(response.json(), { detail: "Token not found or expired" });
      }
      assert.deepEqual(await eventsOf(rekey, "secret_view"), []);
    });
  });

  describe(`POST /api/v3/core/tokens/{identifier}/set_key/ on ${dialect}`, () => {
    test("a superuser sets a user's key: 204, the new key authenticates and the old one does not", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      assert.equal(await whoAmI(rekey, jdoe.key), "jdoe"); // used once, so a cache may remember it
      const response = await rekey.api("POST", `${TOKENS}jdoe-login/set_key/`, { key: "my-own-secret" });
      assert.equal(response.statusCode, 204);
      assert.equal(response.body, "");
      assert.equal(await whoAmI(rekey, "my-own-secret"), "jdoe");
      assert.deepEqual(await whoAmI(rekey, jdoe.key), { detail: "Token invalid/expired" });
      assert.equal((await rekey.api("GET", `${TOKENS}jdoe-login/view_key/`)).json().key, "my-own-secret");
      const events = await eventsOf(rekey, "model_updated");
      assert.equal(events.length, 1);
      assert.equal((events[0]!.context["model"] as { name: string }).name, "jdoe-login");
    });

    test("a normal user may not set a key, not even on their own token", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      await rekey.api("POST", TOKENS, { identifier: "own" }, { token: jdoe.key });
      for (const identifier of ["own", "authentik-bootstrap-token", "no-such-token"]) {
        const response = await rekey.api(
          "POST",
          `${TOKENS}${identifier}/set_key/`,
          { key: "mine" },
          { token: jdoe.key },
        );
        assert.equal(response.statusCode, 403, identifier);
        assert.deepEqual(response.json(), FORBIDDEN);
      }
      assert.deepEqual(await whoAmI(rekey, "mine"), { detail: "Token invalid/expired" });
    });

    test("the key is required and may not be blank, but any other string is taken as is", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      await signedInUser(rekey, "jdoe");
      const blank = await rekey.api("POST", `${TOKENS}jdoe-login/set_key/`, { key: "" });
      assert.equal(blank.statusCode, 400);
      assert.deepEqual(blank.json(), { key: ["This field may not be blank."] });
      const missing = await rekey.api("POST", `${TOKENS}jdoe-login/set_key/`, {});
      assert.deepEqual(missing.json(), { key: ["This field is required."] });
      assert.equal((await rekey.api("POST", `${TOKENS}jdoe-login/set_key/`, { key: "x" })).statusCode, 204);
      assert.equal(await whoAmI(rekey, "x"), "jdoe");
      const unknown = await rekey.api("POST", `${TOKENS}no-such-token/set_key/`, { key: "y" });
      assert.equal(unknown.statusCode, 404);
      assert.deepEqual(unknown.json(), NOT_FOUND);
    });

    test("a key another token already has is refused", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      const response = await rekey.api("POST", `${TOKENS}jdoe-login/set_key/`, { key: ADMIN_TOKEN });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), { key: ["Token with this key already exists."] });
      assert.equal(await whoAmI(rekey, jdoe.key), "jdoe");
      assert.equal(await whoAmI(rekey, ADMIN_TOKEN), "akadmin");
      const same = await rekey.api("POST", `${TOKENS}jdoe-login/set_key/`, { key: jdoe.key });
      assert.equal(same.statusCode, 204, same.body);
    });

    test("a recovery token's new key stays hash-only", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      await createStoredToken(rekey, jdoe, "jdoe-recovery", "recovery");
      assert.equal(
        (await rekey.api("POST", `${TOKENS}jdoe-recovery/set_key/`, { key: "recover-me" })).statusCode,
        204,
      );
      const row = await rekey.database.db.kysely
        .selectFrom("token")
        .selectAll()
        .where("identifier", "=", "jdoe-recovery")
        .executeTakeFirstOrThrow();
      assert.equal(row.key_sealed, null);
      assert.equal((await rekey.api("GET", `${TOKENS}jdoe-recovery/view_key/`)).statusCode, 404);
    });
  });

  describe(`GET /api/v3/core/tokens/{identifier}/used_by/ on ${dialect}`, () => {
    test("answers an empty list for a visible token and 404 for another user's", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      const own = await rekey.api("GET", `${TOKENS}jdoe-login/used_by/`, undefined, { token: jdoe.key });
      assert.equal(own.statusCode, 200);
      assert.deepEqual(own.json(), []);
      const other = await rekey.api("GET", `${TOKENS}authentik-bootstrap-token/used_by/`, undefined, {
        token: jdoe.key,
      });
      assert.equal(other.statusCode, 404);
      assert.deepEqual(other.json(), NOT_FOUND);
    });
  });

  describe(`token storage on ${dialect}`, () => {
    test("the database holds no plaintext key and recovery and verification tokens have no ciphertext", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      await rekey.api("POST", TOKENS, { identifier: "app", user: jdoe.pk, intent: "app_password" });
      const appKey = (await rekey.api("GET", `${TOKENS}app/view_key/`)).json().key as string;
      const recoveryKey = await createStoredToken(rekey, jdoe.pk, "jdoe-recovery", "recovery");
      const verificationKey = await createStoredToken(rekey, jdoe.pk, "jdoe-verification", "verification");
      const keys = [ADMIN_TOKEN, jdoe.key, appKey, recoveryKey, verificationKey];

      const rows = await rekey.database.db.kysely
        .selectFrom("token")
        .selectAll()
        .orderBy("identifier")
        .execute();
      const everything =
        JSON.stringify(rows) +
        JSON.stringify(await rekey.database.db.kysely.selectFrom("event").selectAll().execute());
      for (const key of keys) {
        assert.equal(everything.includes(key), false, `a key is stored in plain text: ${key.slice(0, 6)}…`);
      }
      if (rekey.database.file !== null) {
        const bytes = Buffer.concat([
          readFileSync(rekey.database.file),
          readFileSync(`${rekey.database.file}-wal`),
        ]);
        for (const key of keys) {
          assert.equal(bytes.includes(key), false);
        }
      }
      const sealed = Object.fromEntries(rows.map((row) => [row.identifier, row.key_sealed !== null]));
      assert.deepEqual(sealed, {
        app: true,
        "authentik-bootstrap-token": true,
        "jdoe-login": true,
        "jdoe-recovery": false,
        "jdoe-verification": false,
      });
      for (const row of rows) {
        assert.match(row.key_hash, /^[0-9a-f]{64}$/);
      }
    });
  });
}
