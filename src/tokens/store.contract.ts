import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { aListQuery, minutesFrom, NOW, type OpenStores, orderedBy } from "../db/contract.js";
import { isUniqueViolation } from "../db/errors.js";
import type { ListQuery } from "../db/listing.js";
import type { Stores } from "../db/stores.js";
import { aGroup, aUser } from "../users/store.contract.js";
import type { Token, TokenField, TokenFilters } from "./store.js";

/** An unexpired `api` token (expiring in an hour), its key hash derived from the identifier. */
function aToken(tenantId: string, userId: number, identifier: string, overrides?: Partial<Token>): Token {
  return {
    id: randomUUID(),
    tenantId,
    identifier,
    managed: null,
    intent: "api",
    userId,
    description: "",
    expires: minutesFrom(NOW, 60),
    expiring: true,
    keyHash: `hash-${identifier}`,
    keySealed: null,
    keySecretIndex: null,
    ownerMayView: false,
    ...overrides,
  };
}

async function saved(stores: Stores, token: Token): Promise<Token> {
  await stores.tokens.createToken(token, NOW);
  return token;
}

async function listed(
  stores: Stores,
  tenantId: string,
  filters: TokenFilters,
  query?: Partial<ListQuery<TokenField>>,
): Promise<string[]> {
  const page = await stores.tokens.listTokens(
    tenantId,
    filters,
    aListQuery<TokenField>({ ordering: orderedBy("identifier"), ...query }),
  );
  return page.rows.map((token) => token.identifier);
}

const NEW_KEY = {
  keyHash: "hash-rotated",
  keySealed: "sealed-rotated",
  keySecretIndex: 1,
  expires: minutesFrom(NOW, 30),
};

/** The TokenStore contract: tokens, their uniqueness, API authentication and the cleanup of expired ones. */
export function testTokenStore(open: OpenStores): void {
  describe("TokenStore", () => {
    test("createToken stores every field, and findToken finds it by identifier", async (t) => {
      const { stores, tenantA } = await open(t);
      const owner = await aUser(stores, tenantA, "jdoe");
      const token = await saved(
        stores,
        aToken(tenantA, owner.id, "jdoe-api", {
          managed: "goauthentik.io/test",
          intent: "app_password",
          description: "laptop",
          keySealed: "sealed",
          keySecretIndex: 2,
          ownerMayView: true,
        }),
      );
      const forever = await saved(
        stores,
        aToken(tenantA, owner.id, "forever", { expires: null, expiring: false }),
      );
      assert.deepEqual(await stores.tokens.findToken(tenantA, "jdoe-api"), token);
      assert.deepEqual(await stores.tokens.findToken(tenantA, "forever"), forever);
      assert.equal(await stores.tokens.findToken(tenantA, "JDOE-API"), null);
      assert.equal(await stores.tokens.findToken(tenantA, "unknown"), null);
    });

    test("createToken throws a unique violation when the identifier, managed value or key is taken in the tenant", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const owner = await aUser(stores, tenantA, "jdoe");
      const ownerB = await aUser(stores, tenantB, "jdoe");
      await saved(stores, aToken(tenantA, owner.id, "first", { managed: "m" }));
      for (const clash of [{ identifier: "first" }, { managed: "m" }, { keyHash: "hash-first" }]) {
        await assert.rejects(
          stores.tokens.createToken(aToken(tenantA, owner.id, "second", clash), NOW),
          isUniqueViolation,
          JSON.stringify(clash),
        );
      }
      await saved(stores, aToken(tenantA, owner.id, "no-managed-1"));
      await saved(stores, aToken(tenantA, owner.id, "no-managed-2"));
      await saved(stores, aToken(tenantB, ownerB.id, "first", { managed: "m" }));
      assert.deepEqual(await listed(stores, tenantA, {}), ["first", "no-managed-1", "no-managed-2"]);
    });

    test("listTokens filters by each field", async (t) => {
      const { stores, tenantA } = await open(t);
      const ann = await aUser(stores, tenantA, "ann");
      const bob = await aUser(stores, tenantA, "bob");
      await saved(stores, aToken(tenantA, ann.id, "ann-api", { description: "laptop", managed: "m" }));
      await saved(stores, aToken(tenantA, ann.id, "ann-app", { intent: "app_password", expires: NOW }));
      await saved(stores, aToken(tenantA, bob.id, "bob-api", { expiring: false }));
      assert.deepEqual(await listed(stores, tenantA, { identifier: "ann-app" }), ["ann-app"]);
      assert.deepEqual(await listed(stores, tenantA, { intent: "api" }), ["ann-api", "bob-api"]);
      assert.deepEqual(await listed(stores, tenantA, { username: "ann" }), ["ann-api", "ann-app"]);
      assert.deepEqual(await listed(stores, tenantA, { description: "laptop" }), ["ann-api"]);
      assert.deepEqual(await listed(stores, tenantA, { expires: NOW }), ["ann-app"]);
      assert.deepEqual(await listed(stores, tenantA, { expiring: false }), ["bob-api"]);
      assert.deepEqual(await listed(stores, tenantA, { managed: "m" }), ["ann-api"]);
      assert.deepEqual(await listed(stores, tenantA, { userId: bob.id }), ["bob-api"]);
      assert.deepEqual(await listed(stores, tenantA, { userId: ann.id, intent: "api" }), ["ann-api"]);
      const page = await stores.tokens.listTokens(tenantA, { userId: ann.id }, aListQuery({ limit: 1 }));
      assert.deepEqual({ total: page.total, rows: page.rows.length }, { total: 2, rows: 1 });
    });

    test("listTokens searches identifier, intent, owner username and description, taking % and _ literally", async (t) => {
      const { stores, tenantA } = await open(t);
      const jdoe = await aUser(stores, tenantA, "jdoe");
      const rroe = await aUser(stores, tenantA, "rroe");
      await saved(stores, aToken(tenantA, jdoe.id, "a_b", { description: "Half 50%" }));
      await saved(
        stores,
        aToken(tenantA, rroe.id, "axb", { description: "Half 500", intent: "app_password" }),
      );
      assert.deepEqual(await listed(stores, tenantA, {}, { search: ["A_B"] }), ["a_b"]);
      assert.deepEqual(await listed(stores, tenantA, {}, { search: ["50%"] }), ["a_b"]);
      assert.deepEqual(await listed(stores, tenantA, {}, { search: ["half"] }), ["a_b", "axb"]);
      assert.deepEqual(await listed(stores, tenantA, {}, { search: ["app_pass"] }), ["axb"]);
      assert.deepEqual(await listed(stores, tenantA, {}, { search: ["RROE"] }), ["axb"]);
      assert.deepEqual(await listed(stores, tenantA, {}, { search: ["half", "jdoe"] }), ["a_b"]);
      const page = await stores.tokens.listTokens(tenantA, {}, aListQuery({ search: ["half"], offset: 1 }));
      assert.deepEqual({ total: page.total, rows: page.rows.length }, { total: 2, rows: 1 });
    });

    test("listTokens orders by every field with the id as tie-breaker and nulls last, and pages", async (t) => {
      const { stores, tenantA } = await open(t);
      const u1 = await aUser(stores, tenantA, "u1");
      const u2 = await aUser(stores, tenantA, "u2");
      const id = (n: number): string => `00000000-0000-4000-8000-00000000000${n}`;
      await saved(
        stores,
        aToken(tenantA, u2.id, "c", {
          id: id(1),
          expires: minutesFrom(NOW, 10),
          description: "same",
          managed: "m2",
        }),
      );
      await saved(
        stores,
        aToken(tenantA, u1.id, "a", {
          id: id(2),
          expires: null,
          intent: "recovery",
          description: "same",
          expiring: false,
        }),
      );
      await saved(
        stores,
        aToken(tenantA, u1.id, "b", {
          id: id(3),
          expires: minutesFrom(NOW, 5),
          intent: "app_password",
          description: "alpha",
          managed: "m1",
        }),
      );
      async function order(...fields: (TokenField | `-${TokenField}`)[]): Promise<string> {
        return (await listed(stores, tenantA, {}, { ordering: orderedBy(...fields) })).join("");
      }
      assert.equal(await order("identifier"), "abc");
      assert.equal(await order("expires"), "bca");
      assert.equal(await order("-expires"), "acb");
      assert.equal(await order("intent"), "cba");
      assert.equal(await order("description"), "bca");
      assert.equal(await order("-description"), "cab");
      assert.equal(await order("user"), "abc");
      assert.equal(await order("-expiring"), "cba");
      assert.equal(await order("managed"), "bca");
      assert.equal(await order("-managed"), "acb");
      assert.deepEqual(
        await listed(stores, tenantA, {}, { ordering: orderedBy("identifier"), offset: 1, limit: 1 }),
        ["b"],
      );
    });

    test("updateToken changes only the given fields; null clears managed and expires", async (t) => {
      const { stores, tenantA } = await open(t);
      const owner = await aUser(stores, tenantA, "jdoe");
      const token = await saved(stores, aToken(tenantA, owner.id, "jdoe-api", { managed: "m" }));
      await stores.tokens.updateToken(tenantA, token.id, {
        description: "renamed",
        managed: null,
        expires: null,
        expiring: false,
      });
      const cleared = { ...token, description: "renamed", managed: null, expires: null, expiring: false };
      assert.deepEqual(await stores.tokens.findToken(tenantA, "jdoe-api"), cleared);
      const changes = {
        identifier: "moved",
        intent: "app_password",
        keyHash: "h2",
        keySealed: "s2",
        keySecretIndex: 3,
        managed: "m2",
        expires: NOW,
      } as const;
      await stores.tokens.updateToken(tenantA, token.id, changes);
      assert.deepEqual(await stores.tokens.findToken(tenantA, "moved"), { ...cleared, ...changes });
      await stores.tokens.updateToken(tenantA, token.id, {});
      assert.deepEqual(await stores.tokens.findToken(tenantA, "moved"), { ...cleared, ...changes });
    });

    test("deleteToken removes only that token", async (t) => {
      const { stores, tenantA } = await open(t);
      const owner = await aUser(stores, tenantA, "jdoe");
      const gone = await saved(stores, aToken(tenantA, owner.id, "gone"));
      const kept = await saved(stores, aToken(tenantA, owner.id, "kept"));
      await stores.tokens.deleteToken(tenantA, gone.id);
      assert.equal(await stores.tokens.findToken(tenantA, "gone"), null);
      assert.deepEqual(await stores.tokens.findToken(tenantA, "kept"), kept);
    });

    test("isKeyInUse, isIdentifierTaken and isManagedTaken look at the tenant's other tokens", async (t) => {
      const { stores, tenantA } = await open(t);
      const owner = await aUser(stores, tenantA, "jdoe");
      const token = await saved(stores, aToken(tenantA, owner.id, "jdoe-api", { managed: "m" }));
      const other = await saved(stores, aToken(tenantA, owner.id, "other"));
      assert.equal(await stores.tokens.isKeyInUse(tenantA, "hash-jdoe-api", other.id), true);
      assert.equal(await stores.tokens.isKeyInUse(tenantA, "hash-jdoe-api", token.id), false);
      assert.equal(await stores.tokens.isKeyInUse(tenantA, "hash-unknown", other.id), false);
      assert.equal(await stores.tokens.isIdentifierTaken(tenantA, "jdoe-api", null), true);
      assert.equal(await stores.tokens.isIdentifierTaken(tenantA, "jdoe-api", other.id), true);
      assert.equal(await stores.tokens.isIdentifierTaken(tenantA, "jdoe-api", token.id), false);
      assert.equal(await stores.tokens.isIdentifierTaken(tenantA, "JDOE-API", null), false);
      assert.equal(await stores.tokens.isManagedTaken(tenantA, "m", null), true);
      assert.equal(await stores.tokens.isManagedTaken(tenantA, "m", token.id), false);
      assert.equal(await stores.tokens.isManagedTaken(tenantA, "n", null), false);
    });

    test("findAPITokenOwner answers the active owner, with groups, of an unexpired api token", async (t) => {
      const { stores, tenantA } = await open(t);
      const staff = await aGroup(stores, tenantA, "staff", { isSuperuser: true });
      const owner = await aUser(stores, tenantA, "jdoe", { user: { groupIds: [staff.id] } });
      await saved(stores, aToken(tenantA, owner.id, "jdoe-api", { expires: minutesFrom(NOW, 1) }));
      const found = await stores.tokens.findAPITokenOwner(tenantA, "hash-jdoe-api", NOW);
      assert.deepEqual(found, owner);
      assert.deepEqual(
        found?.groups.map((group) => group.name),
        ["staff"],
      );
    });

    test("findAPITokenOwner answers null for an expired, non-api or unknown token, or an inactive owner", async (t) => {
      const { stores, tenantA } = await open(t);
      const owner = await aUser(stores, tenantA, "jdoe");
      const inactive = await aUser(stores, tenantA, "gone", { user: { isActive: false } });
      await saved(stores, aToken(tenantA, owner.id, "expired", { expires: minutesFrom(NOW, -1) }));
      await saved(stores, aToken(tenantA, owner.id, "expires-now", { expires: NOW }));
      await saved(stores, aToken(tenantA, inactive.id, "inactive"));
      for (const intent of ["app_password", "recovery", "verification"] as const) {
        await saved(stores, aToken(tenantA, owner.id, intent, { intent }));
      }
      for (const identifier of [
        "expired",
        "expires-now",
        "inactive",
        "app_password",
        "recovery",
        "verification",
        "unknown",
      ]) {
        assert.equal(
          await stores.tokens.findAPITokenOwner(tenantA, `hash-${identifier}`, NOW),
          null,
          identifier,
        );
      }
    });

    test("an api token that does not expire authenticates whatever its expiry date", async (t) => {
      const { stores, tenantA } = await open(t);
      const owner = await aUser(stores, tenantA, "jdoe");
      await saved(
        stores,
        aToken(tenantA, owner.id, "never", { expiring: false, expires: minutesFrom(NOW, -60) }),
      );
      await saved(stores, aToken(tenantA, owner.id, "no-date", { expiring: true, expires: null }));
      assert.equal((await stores.tokens.findAPITokenOwner(tenantA, "hash-never", NOW))?.id, owner.id);
      assert.equal((await stores.tokens.findAPITokenOwner(tenantA, "hash-no-date", NOW))?.id, owner.id);
    });

    test("listExpiredTokens lists the expired tokens of every tenant, oldest first, up to the limit", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const ownerA = await aUser(stores, tenantA, "a");
      const ownerB = await aUser(stores, tenantB, "b");
      await saved(stores, aToken(tenantA, ownerA.id, "now", { expires: NOW, intent: "recovery" }));
      await saved(stores, aToken(tenantB, ownerB.id, "oldest", { expires: minutesFrom(NOW, -60) }));
      await saved(stores, aToken(tenantA, ownerA.id, "older", { expires: minutesFrom(NOW, -30) }));
      await saved(stores, aToken(tenantA, ownerA.id, "future", { expires: minutesFrom(NOW, 1) }));
      await saved(
        stores,
        aToken(tenantA, ownerA.id, "never", { expiring: false, expires: minutesFrom(NOW, -90) }),
      );
      await saved(stores, aToken(tenantA, ownerA.id, "no-date", { expires: null }));
      const expired = await stores.tokens.listExpiredTokens(NOW, 10);
      assert.deepEqual(
        expired.map((token) => token.identifier),
        ["oldest", "older", "now"],
      );
      assert.deepEqual(expired[0], await stores.tokens.findToken(tenantB, "oldest"));
      assert.deepEqual(
        (await stores.tokens.listExpiredTokens(NOW, 2)).map((token) => token.identifier),
        ["oldest", "older"],
      );
    });

    test("listExpiredTokens breaks a tie between equal expiries by id", async (t) => {
      const { stores, tenantA } = await open(t);
      const owner = await aUser(stores, tenantA, "jdoe");
      const expires = minutesFrom(NOW, -1);
      for (const n of [3, 1, 2]) {
        await saved(
          stores,
          aToken(tenantA, owner.id, `tied-${n}`, { id: `00000000-0000-4000-8000-00000000000${n}`, expires }),
        );
      }
      const expired = await stores.tokens.listExpiredTokens(NOW, 10);
      assert.deepEqual(
        expired.map((token) => token.identifier),
        ["tied-1", "tied-2", "tied-3"],
      );
    });

    test("rotateExpiredToken rotates only while the token still has the expiry it was read with", async (t) => {
      const { stores, tenantA } = await open(t);
      const owner = await aUser(stores, tenantA, "jdoe");
      const token = await saved(
        stores,
        aToken(tenantA, owner.id, "jdoe-api", { expires: minutesFrom(NOW, -1) }),
      );
      assert.equal(await stores.tokens.rotateExpiredToken(token, NEW_KEY), true);
      const rotated = { ...token, ...NEW_KEY };
      assert.deepEqual(await stores.tokens.findToken(tenantA, "jdoe-api"), rotated);
      assert.equal(
        await stores.tokens.rotateExpiredToken(token, { ...NEW_KEY, keyHash: "hash-again" }),
        false,
      );
      assert.deepEqual(await stores.tokens.findToken(tenantA, "jdoe-api"), rotated);
      const forever = await saved(
        stores,
        aToken(tenantA, owner.id, "forever", { expires: null, expiring: false }),
      );
      assert.equal(
        await stores.tokens.rotateExpiredToken(forever, { ...NEW_KEY, keyHash: "hash-forever-2" }),
        false,
      );
      assert.equal(
        await stores.tokens.rotateExpiredToken(aToken(tenantA, owner.id, "unknown"), NEW_KEY),
        false,
      );
    });

    test("deleteExpiredToken deletes a token only while it is expired, and answers false once it is gone", async (t) => {
      const { stores, tenantA } = await open(t);
      const owner = await aUser(stores, tenantA, "jdoe");
      const expired = await saved(
        stores,
        aToken(tenantA, owner.id, "expired", { expires: NOW, intent: "recovery" }),
      );
      const future = await saved(stores, aToken(tenantA, owner.id, "future"));
      const never = await saved(
        stores,
        aToken(tenantA, owner.id, "never", { expiring: false, expires: minutesFrom(NOW, -5) }),
      );
      const noDate = await saved(stores, aToken(tenantA, owner.id, "no-date", { expires: null }));
      assert.equal(await stores.tokens.deleteExpiredToken(tenantA, future.id, NOW), false);
      assert.equal(await stores.tokens.deleteExpiredToken(tenantA, never.id, NOW), false);
      assert.equal(await stores.tokens.deleteExpiredToken(tenantA, noDate.id, NOW), false);
      assert.equal(await stores.tokens.deleteExpiredToken(tenantA, expired.id, NOW), true);
      assert.equal(await stores.tokens.deleteExpiredToken(tenantA, expired.id, NOW), false);
      assert.deepEqual(await listed(stores, tenantA, {}), ["future", "never", "no-date"]);
    });

    test("a token is not visible from another tenant", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const owner = await aUser(stores, tenantA, "jdoe");
      await aUser(stores, tenantB, "jdoe");
      await saved(stores, aToken(tenantA, owner.id, "jdoe-api", { managed: "m" }));
      assert.equal(await stores.tokens.findToken(tenantB, "jdoe-api"), null);
      assert.deepEqual(await stores.tokens.listTokens(tenantB, {}, aListQuery()), { total: 0, rows: [] });
      assert.deepEqual(await stores.tokens.listTokens(tenantB, { userId: owner.id }, aListQuery()), {
        total: 0,
        rows: [],
      });
      assert.equal(await stores.tokens.isKeyInUse(tenantB, "hash-jdoe-api", randomUUID()), false);
      assert.equal(await stores.tokens.isIdentifierTaken(tenantB, "jdoe-api", null), false);
      assert.equal(await stores.tokens.isManagedTaken(tenantB, "m", null), false);
      assert.equal(await stores.tokens.findAPITokenOwner(tenantB, "hash-jdoe-api", NOW), null);
    });

    test("a token cannot be changed, rotated or deleted from another tenant", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const owner = await aUser(stores, tenantA, "jdoe");
      const token = await saved(
        stores,
        aToken(tenantA, owner.id, "jdoe-api", { expires: minutesFrom(NOW, -1) }),
      );
      await stores.tokens.updateToken(tenantB, token.id, { description: "changed", keyHash: "hash-changed" });
      assert.equal(await stores.tokens.rotateExpiredToken({ ...token, tenantId: tenantB }, NEW_KEY), false);
      assert.equal(await stores.tokens.deleteExpiredToken(tenantB, token.id, NOW), false);
      await stores.tokens.deleteToken(tenantB, token.id);
      assert.deepEqual(await stores.tokens.findToken(tenantA, "jdoe-api"), token);
    });
  });
}

/** Races that only PostgreSQL can show: SQLite serialises every write. */
export function testTokenStoreRaces(open: OpenStores): void {
  test("exactly one of 20 concurrent rotateExpiredToken calls on the same expired token rotates it", async (t) => {
    const { stores, tenantA } = await open(t);
    const owner = await aUser(stores, tenantA, "jdoe");
    const token = await saved(
      stores,
      aToken(tenantA, owner.id, "jdoe-api", { expires: minutesFrom(NOW, -1) }),
    );
    const attempts = Array.from({ length: 20 }, (_, n) =>
      stores.tokens.rotateExpiredToken(token, { ...NEW_KEY, keyHash: `hash-${n}` }),
    );
    const results = await Promise.all(attempts);
    assert.equal(results.filter((rotated) => rotated).length, 1);
    assert.equal(
      (await stores.tokens.findToken(tenantA, "jdoe-api"))?.keyHash,
      `hash-${results.indexOf(true)}`,
    );
  });

  test("exactly one of 20 concurrent deleteExpiredToken calls on the same expired token deletes it", async (t) => {
    const { stores, tenantA } = await open(t);
    const owner = await aUser(stores, tenantA, "jdoe");
    const token = await saved(
      stores,
      aToken(tenantA, owner.id, "jdoe-recovery", { intent: "recovery", expires: NOW }),
    );
    const attempts = Array.from({ length: 20 }, () =>
      stores.tokens.deleteExpiredToken(tenantA, token.id, NOW),
    );
    assert.equal((await Promise.all(attempts)).filter((deleted) => deleted).length, 1);
    assert.equal(await stores.tokens.findToken(tenantA, "jdoe-recovery"), null);
  });
}
