import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createUser } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  createStoredToken,
  DAY,
  eventsOf,
  HOUR,
  signedInUser,
  TOKEN_KEYS,
  tokenApp,
  tokenReference,
  whoAmI,
  wireTime,
} from "../support/tokens.js";

const TOKENS = "/api/v3/core/tokens/";
const MAXIMUM_LIFETIME = "goauthentik.io/user/token-maximum-lifetime";

for (const dialect of DIALECTS) {
  describe(`PUT and PATCH /api/v3/core/tokens/{identifier}/ on ${dialect}`, () => {
    test("PUT with another user is refused and the owner stays the same", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      const admin = (await rekey.api("GET", "/api/v3/core/users/me/")).json().user.pk as number;
      assert.equal(
        (await rekey.api("POST", TOKENS, { identifier: "own" }, { token: jdoe.key })).statusCode,
        201,
      );

      const asOwner = await rekey.api(
        "PUT",
        `${TOKENS}own/`,
        { identifier: "user_token_poc_v3", intent: "api", user: admin },
        { token: jdoe.key },
      );
      assert.equal(asOwner.statusCode, 400);
      assert.deepEqual(asOwner.json(), { user: ["User cannot be changed"] });
      const asAdmin = await rekey.api("PATCH", `${TOKENS}own/`, { user: admin });
      assert.deepEqual(asAdmin.json(), { user: ["User cannot be changed"] });

      const read = await rekey.api("GET", `${TOKENS}own/`);
      assert.equal(read.json().user, jdoe.pk);
      assert.equal((await rekey.api("GET", `${TOKENS}user_token_poc_v3/`)).statusCode, 404);
      const same = await rekey.api(
        "PUT",
        `${TOKENS}own/`,
        { identifier: "own", user: jdoe.pk, description: "kept" },
        { token: jdoe.key },
      );
      assert.equal(same.statusCode, 200, same.body);
      assert.equal(same.json().description, "kept");
    });

    test("PATCH of an app password's description keeps its intent, owner and expiry", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const body = { identifier: "mail", user: jdoe, intent: "app_password", expires: wireTime(2 * HOUR) };
      const created = (await rekey.api("POST", TOKENS, body)).json();
      const patched = await rekey.api("PATCH", `${TOKENS}mail/`, { description: "Thunderbird" });
      assert.equal(patched.statusCode, 200, patched.body);
      assert.deepEqual(Object.keys(patched.json()), TOKEN_KEYS);
      assert.deepEqual(patched.json(), { ...created, description: "Thunderbird" });
      assert.deepEqual((await rekey.api("GET", `${TOKENS}mail/`)).json(), patched.json());
    });

    test("PUT keeps every omitted field, intent and managed included", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const body = {
        identifier: "kept",
        intent: "app_password",
        description: "d",
        managed: "goauthentik.io/kept",
        expires: wireTime(HOUR),
      };
      const created = (await rekey.api("POST", TOKENS, body)).json();
      const put = await rekey.api("PUT", `${TOKENS}kept/`, { identifier: "kept" });
      assert.equal(put.statusCode, 200, put.body);
      assert.deepEqual(put.json(), created);
      const missing = await rekey.api("PUT", `${TOKENS}kept/`, { description: "x" });
      assert.deepEqual(missing.json(), { identifier: ["This field is required."] });
    });

    test("intent switches between api and app_password only when asked", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      await rekey.api("POST", TOKENS, { identifier: "switch", user: jdoe });
      const key = (await rekey.api("GET", `${TOKENS}switch/view_key/`)).json().key as string;
      assert.equal(await whoAmI(rekey, key), "jdoe");

      const toApp = await rekey.api("PATCH", `${TOKENS}switch/`, { intent: "app_password" });
      assert.equal(toApp.json().intent, "app_password");
      assert.deepEqual(await whoAmI(rekey, key), { detail: "Token invalid/expired" });
      assert.equal(
        (await rekey.api("PATCH", `${TOKENS}switch/`, { description: "x" })).json().intent,
        "app_password",
      );

      const toAPI = await rekey.api("PUT", `${TOKENS}switch/`, { identifier: "switch", intent: "api" });
      assert.equal(toAPI.json().intent, "api");
      assert.equal(await whoAmI(rekey, key), "jdoe");
      const refused = await rekey.api("PATCH", `${TOKENS}switch/`, { intent: "recovery" });
      assert.equal(refused.statusCode, 400);
      assert.deepEqual(refused.json(), { intent: ["Invalid intent recovery"] });
      assert.equal((await rekey.api("GET", `${TOKENS}switch/`)).json().intent, "api");
    });

    test("recovery and verification tokens cannot be edited", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      for (const intent of ["recovery", "verification"] as const) {
        await createStoredToken(rekey, jdoe, `jdoe-${intent}`, intent);
        const before = (await rekey.api("GET", `${TOKENS}jdoe-${intent}/`)).json();
        const patch = await rekey.api("PATCH", `${TOKENS}jdoe-${intent}/`, {
          description: "changed",
          intent: "api",
        });
        assert.equal(patch.statusCode, 400);
        assert.deepEqual(patch.json(), { intent: [`Invalid intent ${intent}`] });
        const put = await rekey.api("PUT", `${TOKENS}jdoe-${intent}/`, { identifier: `jdoe-${intent}` });
        assert.deepEqual(put.json(), { intent: [`Invalid intent ${intent}`] });
        assert.deepEqual((await rekey.api("GET", `${TOKENS}jdoe-${intent}/`)).json(), before);
      }
    });

    test("a new expiry is held to the owner's maximum lifetime and null resets it to the default", async (t) => {
      const { rekey, clock } = await tokenApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe", { attributes: { [MAXIMUM_LIFETIME]: "hours=2" } });
      await rekey.api("POST", TOKENS, { identifier: "limited", user: jdoe, expires: wireTime(HOUR) });
      clock.advance(HOUR);
      const beyond = await rekey.api("PATCH", `${TOKENS}limited/`, { expires: wireTime(4 * HOUR) });
      assert.equal(beyond.statusCode, 400);
      assert.deepEqual(beyond.json(), {
        expires: ["Token expires exceeds maximum lifetime (2026-03-01 15:00:00.123000+00:00 UTC)."],
      });
      assert.equal(
        (await rekey.api("GET", `${TOKENS}limited/`)).json().expires,
        "2026-03-01T13:00:00.123000Z",
      );
      const within = await rekey.api("PATCH", `${TOKENS}limited/`, { expires: wireTime(3 * HOUR) });
      assert.equal(within.json().expires, "2026-03-01T15:00:00.123000Z");
      const reset = await rekey.api("PATCH", `${TOKENS}limited/`, { expires: null });
      assert.equal(reset.json().expires, wireTime(HOUR + DAY));
      assert.equal((await rekey.api("GET", `${TOKENS}limited/`)).json().expires, wireTime(HOUR + DAY));
    });

    test("a normal user cannot make their token never expire by editing it", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      await rekey.api("POST", TOKENS, { identifier: "own" }, { token: jdoe.key });
      const response = await rekey.api(
        "PATCH",
        `${TOKENS}own/`,
        { expiring: false, description: "forever?" },
        { token: jdoe.key },
      );
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json().expiring, true);
      assert.equal(response.json().description, "forever?");
    });

    test("an identifier can be renamed to a free slug only", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      await rekey.api("POST", TOKENS, { identifier: "old-name" });
      const taken = await rekey.api("PATCH", `${TOKENS}old-name/`, {
        identifier: "authentik-bootstrap-token",
      });
      assert.deepEqual(taken.json(), { identifier: ["Token with this identifier already exists."] });
      const invalid = await rekey.api("PATCH", `${TOKENS}old-name/`, { identifier: "new name" });
      assert.deepEqual(invalid.json(), {
        identifier: ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'],
      });
      const renamed = await rekey.api("PATCH", `${TOKENS}old-name/`, { identifier: "new-name" });
      assert.equal(renamed.json().identifier, "new-name");
      assert.equal((await rekey.api("GET", `${TOKENS}old-name/`)).statusCode, 404);
      assert.equal((await rekey.api("GET", `${TOKENS}new-name/`)).statusCode, 200);
    });

    test("another user's token is 404 before the body is looked at", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      const response = await rekey.api(
        "PATCH",
        `${TOKENS}authentik-bootstrap-token/`,
        { intent: "nonsense" },
        { token: jdoe.key },
      );
      assert.equal(response.statusCode, 404);
      assert.deepEqual(response.json(), { detail: "No Token matches the given query." });
    });

    test("records model_updated with a reference to the token as it is after the change", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      await rekey.api("POST", TOKENS, { identifier: "before" });
      const updated = (await rekey.api("PATCH", `${TOKENS}before/`, { identifier: "after" })).json();
      const events = await eventsOf(rekey, "model_updated");
      assert.equal(events.length, 1);
      assert.deepEqual(events[0]!.context["model"], tokenReference(updated));
      assert.equal(events[0]!.user.username, "akadmin");
    });
  });

  describe(`DELETE /api/v3/core/tokens/{identifier}/ on ${dialect}`, () => {
    test("answers 204 with no body, the token is gone and model_deleted is recorded", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const created = (await rekey.api("POST", TOKENS, { identifier: "doomed", user: jdoe })).json();
      const key = (await rekey.api("GET", `${TOKENS}doomed/view_key/`)).json().key as string;
      assert.equal(await whoAmI(rekey, key), "jdoe");
      const response = await rekey.api("DELETE", `${TOKENS}doomed/`);
      assert.equal(response.statusCode, 204);
      assert.equal(response.body, "");
      assert.equal((await rekey.api("GET", `${TOKENS}doomed/`)).statusCode, 404);
      assert.deepEqual(await whoAmI(rekey, key), { detail: "Token invalid/expired" });
      const events = await eventsOf(rekey, "model_deleted");
      assert.equal(events.length, 1);
      assert.deepEqual(events[0]!.context["model"], tokenReference(created));
    });

    test("a normal user deletes their own token but gets 404 for another user's", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      await rekey.api("POST", TOKENS, { identifier: "own" }, { token: jdoe.key });
      const other = await rekey.api("DELETE", `${TOKENS}authentik-bootstrap-token/`, undefined, {
        token: jdoe.key,
      });
      assert.equal(other.statusCode, 404);
      assert.deepEqual(other.json(), { detail: "No Token matches the given query." });
      assert.equal(
        (await rekey.api("DELETE", `${TOKENS}own/`, undefined, { token: jdoe.key })).statusCode,
        204,
      );
      assert.equal((await rekey.api("GET", `${TOKENS}own/`)).statusCode, 404);
    });

    test("deleting a recovery token records no event", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      await createStoredToken(rekey, jdoe, "jdoe-recovery", "recovery");
      assert.equal((await rekey.api("DELETE", `${TOKENS}jdoe-recovery/`)).statusCode, 204);
      assert.equal((await rekey.api("GET", `${TOKENS}jdoe-recovery/`)).statusCode, 404);
      assert.deepEqual(await eventsOf(rekey, "model_deleted"), []);
    });
  });
}
