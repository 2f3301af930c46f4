import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { TestApp } from "../support/app.js";
import { createUser } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import { ADMIN_TOKEN } from "../support/app.js";
import {
  createStoredToken,
  HOUR,
  secondTenantAdmin,
  signedInUser,
  TOKEN_KEYS,
  tokenApp,
  whoAmI,
  wireTime,
} from "../support/tokens.js";

const TOKENS = "/api/v3/core/tokens/";

/** The identifiers of a list answer, in order. */
async function identifiers(rekey: TestApp, query: string, token?: string, host?: string): Promise<string[]> {
  const headers = host === undefined ? undefined : { host };
  const response = await rekey.api(
    "GET",
    `${TOKENS}${query}`,
    undefined,
    token === undefined ? undefined : { token, headers },
  );
  assert.equal(response.statusCode, 200, response.body);
  return response.json().results.map((token: { identifier: string }) => token.identifier);
}

/**
 * akadmin's bootstrap token, jdoe's login token plus two of jdoe's and one of alice's. Creation
 * order differs from identifier order, so ordering by pk or by time would show.
 */
async function seed(rekey: TestApp): Promise<{ jdoe: { pk: number; key: string }; alice: number }> {
  const jdoe = await signedInUser(rekey, "jdoe");
  const alice = await createUser(rekey, "alice");
  const bodies = [
    {
      identifier: "zeta-ci",
      user: jdoe.pk,
      intent: "app_password",
      description: "CI runner",
      expires: wireTime(2 * HOUR),
    },
    {
      identifier: "beta-mail",
      user: alice,
      intent: "api",
      description: "Mail sync",
      expiring: false,
      managed: "goauthentik.io/mail",
    },
    {
      identifier: "alpha-backup",
      user: jdoe.pk,
      intent: "api",
      description: "Backup job",
      expires: wireTime(HOUR),
    },
  ];
  for (const body of bodies) {
    const response = await rekey.api("POST", TOKENS, body);
    assert.equal(response.statusCode, 201, response.body);
  }
  return { jdoe, alice };
}

for (const dialect of DIALECTS) {
  describe(`GET /api/v3/core/tokens/ on ${dialect}`, () => {
    test("a normal user lists only their own tokens", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const { jdoe } = await seed(rekey);
      assert.deepEqual(await identifiers(rekey, "", jdoe.key), ["alpha-backup", "jdoe-login", "zeta-ci"]);
      assert.deepEqual(await identifiers(rekey, "?user__username=alice", jdoe.key), []);
    });

    test("a superuser lists every token of the tenant, ordered by identifier", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      await seed(rekey);
      const response = await rekey.api("GET", TOKENS);
      assert.deepEqual(Object.keys(response.json()), ["pagination", "results", "autocomplete"]);
      assert.deepEqual(response.json().autocomplete, {});
      const results = response.json().results;
      assert.deepEqual(
        results.map((token: { identifier: string }) => token.identifier),
        ["alpha-backup", "authentik-bootstrap-token", "beta-mail", "jdoe-login", "zeta-ci"],
      );
      for (const token of results) {
        assert.deepEqual(Object.keys(token), TOKEN_KEYS);
      }
      assert.equal(results[2].user_obj.username, "alice");
      assert.equal(results[2].managed, "goauthentik.io/mail");
    });

    test("filters are exact matches on intent, identifier, owner username, description, expiring, expires and managed", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      await seed(rekey);
      assert.deepEqual(await identifiers(rekey, "?intent=app_password"), ["zeta-ci"]);
      assert.deepEqual(await identifiers(rekey, "?identifier=beta-mail"), ["beta-mail"]);
      assert.deepEqual(await identifiers(rekey, "?identifier=beta"), []);
      assert.deepEqual(await identifiers(rekey, "?user__username=jdoe"), [
        "alpha-backup",
        "jdoe-login",
        "zeta-ci",
      ]);
      assert.deepEqual(await identifiers(rekey, "?description=Mail%20sync"), ["beta-mail"]);
      assert.deepEqual(await identifiers(rekey, "?expiring=false"), [
        "authentik-bootstrap-token",
        "beta-mail",
      ]);
      assert.deepEqual(await identifiers(rekey, "?expiring=true"), ["alpha-backup", "jdoe-login", "zeta-ci"]);
      assert.deepEqual(await identifiers(rekey, `?expires=${wireTime(HOUR)}`), ["alpha-backup"]);
      assert.deepEqual(await identifiers(rekey, "?managed=goauthentik.io/mail"), ["beta-mail"]);
      assert.deepEqual(await identifiers(rekey, "?intent=api&user__username=jdoe"), [
        "alpha-backup",
        "jdoe-login",
      ]);
    });

    test("a malformed or impossible expires filter is a field error", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      for (const expires of [
        "tomorrow",
        "2026-02-30T00:00:00Z",
        "2026-04-31T12:00:00Z",
        "2026-13-01T00:00:00Z",
      ]) {
        const response = await rekey.api("GET", `${TOKENS}?expires=${expires}`);
        assert.equal(response.statusCode, 400, expires);
        assert.deepEqual(response.json(), { expires: ["Enter a valid date/time."] });
      }
      assert.equal((await rekey.api("GET", `${TOKENS}?expires=2024-02-29T00:00:00Z`)).statusCode, 200);
    });

    test("search matches every term case-insensitively in identifier, intent, owner username or description", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      await seed(rekey);
      assert.deepEqual(await identifiers(rekey, "?search=ALIC"), ["beta-mail"]);
      assert.deepEqual(await identifiers(rekey, "?search=runner"), ["zeta-ci"]);
      assert.deepEqual(await identifiers(rekey, "?search=app_pass"), ["zeta-ci"]);
      assert.deepEqual(await identifiers(rekey, "?search=jdoe%20backup"), ["alpha-backup"]);
      assert.deepEqual(await identifiers(rekey, "?search=jdoe%20mail"), []);
      assert.deepEqual(await identifiers(rekey, "?search=%25"), []);
    });

    test("ordering takes several fields, descending ones and ignores unknown names", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      await seed(rekey);
      assert.deepEqual(await identifiers(rekey, "?ordering=-identifier"), [
        "zeta-ci",
        "jdoe-login",
        "beta-mail",
        "authentik-bootstrap-token",
        "alpha-backup",
      ]);
      assert.deepEqual(await identifiers(rekey, "?ordering=intent,-identifier&expiring=true"), [
        "jdoe-login",
        "alpha-backup",
        "zeta-ci",
      ]);
      assert.deepEqual(await identifiers(rekey, "?ordering=nonsense,-description&expiring=true"), [
        "zeta-ci",
        "alpha-backup",
        "jdoe-login",
      ]);
    });

    test("pagination reports all seven fields and refuses a page that does not exist", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      await seed(rekey);
      const first = await rekey.api("GET", `${TOKENS}?page_size=2`);
      assert.deepEqual(first.json().pagination, {
        next: 2,
        previous: 0,
        count: 5,
        current: 1,
        total_pages: 3,
        start_index: 1,
        end_index: 2,
      });
      const last = await rekey.api("GET", `${TOKENS}?page_size=2&page=3`);
      assert.deepEqual(last.json().pagination, {
        next: 0,
        previous: 2,
        count: 5,
        current: 3,
        total_pages: 3,
        start_index: 5,
        end_index: 5,
      });
      assert.deepEqual(
        last.json().results.map((token: { identifier: string }) => token.identifier),
        ["zeta-ci"],
      );
      assert.equal((await rekey.api("GET", `${TOKENS}?page_size=abc`)).json().pagination.total_pages, 1);
      for (const page of ["4", "0", "-1", "abc"]) {
        const response = await rekey.api("GET", `${TOKENS}?page_size=2&page=${page}`);
        assert.equal(response.statusCode, 404, page);
        assert.deepEqual(response.json(), { detail: "Invalid page." });
      }
    });

    test("page_size above 100 gives 100 and one that is not a positive integer gives 20", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      for (let i = 0; i < 120; i++) {
        await createStoredToken(rekey, jdoe, `bulk-${String(i).padStart(3, "0")}`, "verification");
      }
      const capped = (await rekey.api("GET", `${TOKENS}?page_size=1000`)).json();
      assert.equal(capped.results.length, 100);
      assert.deepEqual(capped.pagination, {
        next: 2,
        previous: 0,
        count: 121,
        current: 1,
        total_pages: 2,
        start_index: 1,
        end_index: 100,
      });
      for (const size of ["0", "-5", "abc"]) {
        const response = (await rekey.api("GET", `${TOKENS}?page_size=${size}&page=2`)).json();
        assert.equal(response.results.length, 20, size);
        assert.equal(response.pagination.start_index, 21, size);
      }
    });

    test("an empty result is page 1 of 1 with zero indexes", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const response = await rekey.api("GET", `${TOKENS}?identifier=nothing`);
      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), {
        pagination: {
          next: 0,
          previous: 0,
          count: 0,
          current: 1,
          total_pages: 1,
          start_index: 0,
          end_index: 0,
        },
        results: [],
        autocomplete: {},
      });
    });
  });

  describe(`GET /api/v3/core/tokens/{identifier}/ on ${dialect}`, () => {
    test("a user reads their own token, not another user's, which is 404 as if it did not exist", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const { jdoe } = await seed(rekey);
      const own = await rekey.api("GET", `${TOKENS}zeta-ci/`, undefined, { token: jdoe.key });
      assert.equal(own.statusCode, 200);
      assert.deepEqual(Object.keys(own.json()), TOKEN_KEYS);
      assert.deepEqual(
        {
          identifier: own.json().identifier,
          intent: own.json().intent,
          user: own.json().user,
          description: own.json().description,
        },
        { identifier: "zeta-ci", intent: "app_password", user: jdoe.pk, description: "CI runner" },
      );
      assert.equal(own.json().expires, "2026-03-01T14:00:00.123000Z");
      for (const identifier of ["beta-mail", "authentik-bootstrap-token", "no-such-token"]) {
        const response = await rekey.api("GET", `${TOKENS}${identifier}/`, undefined, { token: jdoe.key });
        assert.equal(response.statusCode, 404, identifier);
        assert.deepEqual(response.json(), { detail: "No Token matches the given query." });
      }
    });

    test("a superuser reads any token; an unknown identifier is 404", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const { alice } = await seed(rekey);
      const response = await rekey.api("GET", `${TOKENS}beta-mail/`);
      assert.equal(response.statusCode, 200);
      assert.equal(response.json().user, alice);
      assert.equal(response.json().expiring, false);
      const missing = await rekey.api("GET", `${TOKENS}nope/`);
      assert.deepEqual(missing.json(), { detail: "No Token matches the given query." });
    });
  });

  describe(`tokens per tenant on ${dialect}`, () => {
    test("identifier, managed and key are unique per tenant and a tenant sees only its own tokens", async (t) => {
      const { rekey } = await tokenApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const onA = { identifier: "shared", managed: "goauthentik.io/shared", description: "A" };
      assert.equal((await rekey.api("POST", TOKENS, onA)).statusCode, 201);
      const b = await secondTenantAdmin(rekey, "b.example.com");
      const asB = { token: b.key, headers: { host: "b.example.com" } };

      const created = await rekey.api("POST", TOKENS, { ...onA, description: "B" }, asB);
      assert.equal(created.statusCode, 201, created.body);
      assert.equal(created.json().user_obj.username, "boss");
      assert.deepEqual(await identifiers(rekey, "", b.key, "b.example.com"), ["boss-login", "shared"]);
      assert.equal(
        (await rekey.api("GET", `${TOKENS}authentik-bootstrap-token/`, undefined, asB)).statusCode,
        404,
      );
      const foreignOwner = await rekey.api("POST", TOKENS, { identifier: "x", user: jdoe }, asB);
      assert.deepEqual(foreignOwner.json(), { user: [`Invalid pk "${jdoe}" - object does not exist.`] });

      assert.equal((await rekey.api("DELETE", `${TOKENS}shared/`, undefined, asB)).statusCode, 204);
      assert.equal((await rekey.api("GET", `${TOKENS}shared/`)).json().description, "A");
      assert.equal(
        (await rekey.api("POST", `${TOKENS}boss-login/set_key/`, { key: ADMIN_TOKEN }, asB)).statusCode,
        204,
      );
      assert.equal(await whoAmI(rekey, ADMIN_TOKEN), "akadmin");
      assert.equal((await identifiers(rekey, "")).includes("boss-login"), false);
    });
  });
}
