import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createUser, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  DAY,
  eventsOf,
  HOUR,
  NOW,
  signedInUser,
  TOKEN_KEYS,
  tokenApp,
  tokenReference,
  whoAmI,
  wireTime,
} from "../support/tokens.js";

const TOKENS = "/api/v3/core/tokens/";

for (const dialect of DIALECTS) {
  describe(`POST /api/v3/core/tokens/ on ${dialect}`, () => {
    test("a normal user's new token is their own api token, expiring in a day, and they can view its key", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      const response = await rekey.api("POST", TOKENS, { identifier: "test-token" }, { token: jdoe.key });
      assert.equal(response.statusCode, 201, response.body);
      const body = response.json();
      assert.deepEqual(Object.keys(body), TOKEN_KEYS);
      assert.match(body.pk, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.equal(body.managed, null);
      assert.equal(body.identifier, "test-token");
      assert.equal(body.intent, "api");
      assert.equal(body.user, jdoe.pk);
      assert.equal(body.user_obj.pk, jdoe.pk);
      assert.deepEqual(body.user_obj, (await rekey.api("GET", `/api/v3/core/users/${jdoe.pk}/`)).json());
      assert.equal(body.description, "");
      assert.equal(body.expires, "2026-03-02T12:00:00.123000Z");
      assert.equal(body.expiring, true);
      assert.equal("key" in body, false);

      const viewed = await rekey.api("GET", `${TOKENS}test-token/view_key/`, undefined, { token: jdoe.key });
      assert.equal(viewed.statusCode, 200, viewed.body);
      assert.match(viewed.json().key, /^[A-Za-z0-9]{60}$/);
      assert.equal(await whoAmI(rekey, viewed.json().key), "jdoe");
    });

    test("a normal user who names another owner, or asks for a never-expiring token, is silently overruled", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      const alice = await createUser(rekey, "alice");
      const response = await rekey.api(
        "POST",
        TOKENS,
        { identifier: "mine", user: alice, expiring: false },
        { token: jdoe.key },
      );
      assert.equal(response.statusCode, 201, response.body);
      assert.equal(response.json().user, jdoe.pk);
      assert.equal(response.json().user_obj.username, "jdoe");
      assert.equal(response.json().expiring, true);
    });

    test("a superuser creates a token for any user and may make it never expire", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const alice = await createUser(rekey, "alice");
      const response = await rekey.api("POST", TOKENS, {
        identifier: "for-alice",
        user: alice,
        intent: "app_password",
        description: "Mail client",
        expiring: false,
        expires: null,
        managed: "goauthentik.io/test",
      });
      assert.equal(response.statusCode, 201, response.body);
      const body = response.json();
      assert.deepEqual(Object.keys(body), TOKEN_KEYS);
      assert.deepEqual(
        {
          managed: body.managed,
          intent: body.intent,
          user: body.user,
          description: body.description,
          expiring: body.expiring,
        },
        {
          managed: "goauthentik.io/test",
          intent: "app_password",
          user: alice,
          description: "Mail client",
          expiring: false,
        },
      );
      assert.equal(body.user_obj.username, "alice");
      const read = await rekey.api("GET", `${TOKENS}for-alice/`);
      assert.deepEqual(read.json(), body);
    });

    test("only api and app_password can be created; other intents are refused with the value echoed", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      for (const intent of ["recovery", "verification"]) {
        const response = await rekey.api("POST", TOKENS, { identifier: `x-${intent}`, intent });
        assert.equal(response.statusCode, 400);
        assert.deepEqual(response.json(), { intent: [`Invalid intent ${intent}`] });
      }
      const unknown = await rekey.api("POST", TOKENS, { identifier: "x-unknown", intent: "x" });
      assert.deepEqual(unknown.json(), { intent: ['"x" is not a valid choice.'] });
      const listed = await rekey.api("GET", `${TOKENS}?search=x-`);
      assert.equal(listed.json().pagination.count, 0);
      const appPassword = await rekey.api("POST", TOKENS, { identifier: "app", intent: "app_password" });
      assert.equal(appPassword.json().intent, "app_password");
    });

    test("identifier is required, a slug, unique in the tenant and at most 255 characters", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const cases: [unknown, unknown][] = [
        [{}, { identifier: ["This field is required."] }],
        [{ identifier: "" }, { identifier: ["This field may not be blank."] }],
        [
          { identifier: "not a slug!" },
          { identifier: ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'] },
        ],
        [
          { identifier: "authentik-bootstrap-token" },
          { identifier: ["Token with this identifier already exists."] },
        ],
        [
          { identifier: "a".repeat(256) },
          { identifier: ["Ensure this field has no more than 255 characters."] },
        ],
      ];
      for (const [body, expected] of cases) {
        const response = await rekey.api("POST", TOKENS, body);
        assert.equal(response.statusCode, 400, JSON.stringify(body));
        assert.deepEqual(response.json(), expected);
      }
      const longest = await rekey.api("POST", TOKENS, { identifier: `A-z_0${"a".repeat(250)}` });
      assert.equal(longest.statusCode, 201, longest.body);
    });

    test("managed is unique in the tenant, may be null on many tokens and may not be blank", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      assert.equal(
        (await rekey.api("POST", TOKENS, { identifier: "one", managed: "goauthentik.io/x" })).statusCode,
        201,
      );
      const taken = await rekey.api("POST", TOKENS, { identifier: "two", managed: "goauthentik.io/x" });
      assert.equal(taken.statusCode, 400);
      assert.deepEqual(taken.json(), { managed: ["Token with this Managed by authentik already exists."] });
      const blank = await rekey.api("POST", TOKENS, { identifier: "three", managed: "" });
      assert.deepEqual(blank.json(), { managed: ["This field may not be blank."] });
      for (const identifier of ["four", "five"]) {
        const response = await rekey.api("POST", TOKENS, { identifier, managed: null });
        assert.equal(response.statusCode, 201, response.body);
        assert.equal(response.json().managed, null);
      }
    });

    test("an unknown user is a field error", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const response = await rekey.api("POST", TOKENS, { identifier: "orphan", user: 999 });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), { user: ['Invalid pk "999" - object does not exist.'] });
      assert.equal((await rekey.api("GET", `${TOKENS}orphan/`)).statusCode, 404);
    });

    test("records model_created with a reference to the token and the caller as actor", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await signedInUser(rekey, "jdoe");
      const created = (
        await rekey.api("POST", TOKENS, { identifier: "audited" }, { token: jdoe.key })
      ).json();
      const events = (await eventsOf(rekey, "model_created")).filter(
        (event) => (event.context["model"] as { name?: string }).name === "audited",
      );
      assert.equal(events.length, 1);
      assert.deepEqual(events[0]!.context["model"], tokenReference(created));
      assert.deepEqual(events[0]!.user, { pk: jdoe.pk, username: "jdoe", email: "jdoe@example.com" });
      assert.equal(events[0]!.app, "rekey.api");
      assert.equal((events[0]!.context["http_request"] as { method: string }).method, "POST");
    });
  });

  describe(`token expiry rules on ${dialect}`, () => {
    test("the owner's token-expires attribute decides expiring for normal users", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const never = await signedInUser(rekey, "never", {
        attributes: { "goauthentik.io/user/token-expires": false },
      });
      const always = await signedInUser(rekey, "always", {
        attributes: { "goauthentik.io/user/token-expires": true },
      });
      const a = await rekey.api(
        "POST",
        TOKENS,
        { identifier: "never-token", expiring: true },
        { token: never.key },
      );
      assert.equal(a.statusCode, 201, a.body);
      assert.equal(a.json().expiring, false);
      const b = await rekey.api(
        "POST",
        TOKENS,
        { identifier: "always-token", expiring: false },
        { token: always.key },
      );
      assert.equal(b.json().expiring, true);
    });

    for (const intent of ["app_password", "api"]) {
      test(`an ${intent} token keeps an expiry within the owner's maximum lifetime and refuses one beyond it`, async (t) => {
        const { rekey } = await tokenApp(t, dialect);
        const attributes = {
          "goauthentik.io/user/token-expires": true,
          "goauthentik.io/user/token-maximum-lifetime": "hours=2",
        };
        const jdoe = await signedInUser(rekey, "jdoe", { attributes });

        const within = await rekey.api(
          "POST",
          TOKENS,
          { identifier: "within", intent, expires: wireTime(HOUR) },
          { token: jdoe.key },
        );
        assert.equal(within.statusCode, 201, within.body);
        assert.equal(within.json().expires, "2026-03-01T13:00:00.123000Z");
        assert.equal(
          (await rekey.api("GET", `${TOKENS}within/`)).json().expires,
          "2026-03-01T13:00:00.123000Z",
        );

        const beyond = await rekey.api(
          "POST",
          TOKENS,
          { identifier: "beyond", intent, expires: wireTime(3 * HOUR) },
          { token: jdoe.key },
        );
        assert.equal(beyond.statusCode, 400);
        assert.deepEqual(beyond.json(), {
          expires: ["Token expires exceeds maximum lifetime (2026-03-01 14:00:00.123000+00:00 UTC)."],
        });
        assert.equal((await rekey.api("GET", `${TOKENS}beyond/`)).statusCode, 404);

        const unset = await rekey.api("POST", TOKENS, { identifier: "unset", intent }, { token: jdoe.key });
        assert.equal(unset.json().expires, wireTime(DAY));
        const nulled = await rekey.api(
          "POST",
          TOKENS,
          { identifier: "nulled", intent, expires: null },
          { token: jdoe.key },
        );
        assert.equal(nulled.json().expires, wireTime(DAY));
      });
    }

    test("the maximum lifetime applies when a superuser creates the token for its owner", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe", {
        attributes: { "goauthentik.io/user/token-maximum-lifetime": "hours=2" },
      });
      const beyond = await rekey.api("POST", TOKENS, {
        identifier: "beyond",
        user: jdoe,
        expires: wireTime(3 * HOUR),
      });
      assert.equal(beyond.statusCode, 400);
      assert.deepEqual(beyond.json(), {
        expires: ["Token expires exceeds maximum lifetime (2026-03-01 14:00:00.123000+00:00 UTC)."],
      });
      const ownBeyond = await rekey.api("POST", TOKENS, {
        identifier: "admin-own",
        expires: wireTime(3 * HOUR),
      });
      assert.equal(ownBeyond.statusCode, 201, ownBeyond.body);
    });

    test("group attributes set the maximum lifetime and the user's own attribute overrides them", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const grouped = await createUser(rekey, "grouped");
      const overridden = await createUser(rekey, "overridden", {
        attributes: { "goauthentik.io/user/token-maximum-lifetime": "hours=5" },
      });
      const group = await rekey.api("POST", "/api/v3/core/groups/", {
        name: "short-lived",
        users: [grouped, overridden],
        attributes: { "goauthentik.io/user/token-maximum-lifetime": "hours=2" },
      });
      assert.equal(group.statusCode, 201, group.body);
      const fromGroup = await rekey.api("POST", TOKENS, {
        identifier: "g",
        user: grouped,
        expires: wireTime(3 * HOUR),
      });
      assert.deepEqual(fromGroup.json(), {
        expires: ["Token expires exceeds maximum lifetime (2026-03-01 14:00:00.123000+00:00 UTC)."],
      });
      const fromUser = await rekey.api("POST", TOKENS, {
        identifier: "u",
        user: overridden,
        expires: wireTime(3 * HOUR),
      });
      assert.equal(fromUser.statusCode, 201, fromUser.body);
      const pastUser = await rekey.api("POST", TOKENS, {
        identifier: "u2",
        user: overridden,
        expires: wireTime(6 * HOUR),
      });
      assert.deepEqual(pastUser.json(), {
        expires: ["Token expires exceeds maximum lifetime (2026-03-01 17:00:00.123000+00:00 UTC)."],
      });
    });

    test("an unparsable maximum lifetime falls back to the tenant default duration", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe", {
        attributes: { "goauthentik.io/user/token-maximum-lifetime": "forever" },
      });
      const within = await rekey.api("POST", TOKENS, {
        identifier: "within",
        user: jdoe,
        expires: wireTime(23 * HOUR),
      });
      assert.equal(within.statusCode, 201, within.body);
      const beyond = await rekey.api("POST", TOKENS, {
        identifier: "beyond",
        user: jdoe,
        expires: wireTime(25 * HOUR),
      });
      assert.deepEqual(beyond.json(), {
        expires: ["Token expires exceeds maximum lifetime (2026-03-02 12:00:00.123000+00:00 UTC)."],
      });
    });

    test("expires must be a date-time and an offset is honoured", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const bad = await rekey.api("POST", TOKENS, { identifier: "bad", expires: "tomorrow" });
      assert.equal(bad.statusCode, 400);
      assert.deepEqual(bad.json(), {
        expires: [
          "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
        ],
      });
      const offset = await rekey.api("POST", TOKENS, {
        identifier: "offset",
        expires: "2026-03-01T20:00:00.5+02:00",
      });
      assert.equal(offset.statusCode, 201, offset.body);
      assert.equal(offset.json().expires, "2026-03-01T18:00:00.500000Z");
    });

    // authentik-v3.md §2.5: "In: ISO 8601; no offset means UTC".
    test("an expiry without an offset, or without seconds, is read as UTC", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const naive = await rekey.api("POST", TOKENS, { identifier: "naive", expires: "2026-03-01T18:00:00" });
      assert.equal(naive.statusCode, 201, naive.body);
      assert.equal(naive.json().expires, "2026-03-01T18:00:00Z");
      const short = await rekey.api("POST", TOKENS, { identifier: "short", expires: "2026-03-01T18:30" });
      assert.equal(short.json().expires, "2026-03-01T18:30:00Z");
    });

    test("a past expiry is accepted and the token is born expired", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const response = await rekey.api("POST", TOKENS, {
        identifier: "stale",
        user: jdoe,
        expires: "2000-01-01T00:00:00Z",
      });
      assert.equal(response.statusCode, 201, response.body);
      assert.equal(response.json().expires, "2000-01-01T00:00:00Z");
      const key = (await rekey.api("GET", `${TOKENS}stale/view_key/`)).json().key;
      assert.deepEqual(await whoAmI(rekey, key), { detail: "Token invalid/expired" });
    });

    test("without an expiry a token lives for the configured default duration", async (t) => {
      const rekey = await testApp(t, dialect, {
        env: { REKEY_DEFAULT_TOKEN_DURATION: "hours=3" },
        clock: { now: () => NOW },
      });
      const response = await rekey.api("POST", TOKENS, { identifier: "short" });
      assert.equal(response.json().expires, "2026-03-01T15:00:00.123000Z");
    });
  });
}
