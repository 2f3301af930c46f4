import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, type TestContext, test } from "node:test";
import { NOW } from "../../src/db/contract.js";
import type { Dialect } from "../../src/db/database.js";
import { type Stores, storesOn } from "../../src/db/stores.js";
import { aGroup, aUser } from "../../src/users/store.contract.js";
import { testApp } from "../support/app.js";
import { DIALECTS, freshDatabase } from "../support/databases.js";
import { createIdentity, KratosClient, startRecovery, submitEmail } from "./helpers.js";

/**
 * The lean reads behind whoami and the recovery address step: a user without groups, second-factor
 * presence within the session read, several rate limits counted in one upsert. Each must answer
 * exactly what the fuller read it replaces would.
 */

async function open(t: TestContext, dialect: Dialect): Promise<{ stores: Stores; tenantId: string }> {
  const { db } = await freshDatabase(t, dialect);
  const stores = storesOn(db.kysely, dialect);
  return { stores, tenantId: (await stores.tenants.defaultTenant()).id };
}

for (const dialect of DIALECTS) {
  describe(`lean reads on ${dialect}`, () => {
    test("a user profile is the user without its groups", async (t) => {
      const { stores, tenantId } = await open(t, dialect);
      const group = await aGroup(stores, tenantId, "staff");
      const user = await aUser(stores, tenantId, "ada", {
        user: { email: "Ada@Example.com", groupIds: [group.id], metadataPublic: { a: 1 } },
      });
      const full = await stores.users.findUser(tenantId, user.id);
      assert.equal(full?.groups.length, 1);
      const { groups: _groups, ...expected } = full!;
      assert.deepEqual(await stores.users.findUserProfile(tenantId, user.id), expected);
      assert.deepEqual(await stores.users.findUserProfilesByEmail(tenantId, "ada@example.COM"), [expected]);
      assert.equal(await stores.users.findUserProfile(tenantId, user.id + 1000), null);
      assert.equal(await stores.users.findUserProfile("other-tenant", user.id), null);
      assert.deepEqual(await stores.users.findUserProfilesByEmail(tenantId, "nobody@example.com"), []);
    });

    test("the session reads' second-factor check: a confirmed TOTP device or an unused backup code, nothing else", async (t) => {
      const { stores, tenantId } = await open(t, dialect);
      const user = await aUser(stores, tenantId, "bob");
      const other = await aUser(stores, tenantId, "eve");
      const sessionOf = async (userId: number, aal: "aal1" | "aal2", tokenHash: string) => {
        await stores.sessions.createSession(
          {
            id: randomUUID(),
            tenantId,
            userId,
            kind: "api",
            aal,
            authMethods: ["password"],
            authenticatedAt: NOW,
            issuedAt: NOW,
            expiresAt: new Date(NOW.getTime() + 3_600_000),
            lastSeenAt: NOW,
            device: null,
          },
          tokenHash,
        );
        return tokenHash;
      };
      const bobs = await sessionOf(user.id, "aal1", "hash-bob");
      const bobsStrong = await sessionOf(user.id, "aal2", "hash-bob-aal2");
      const eves = await sessionOf(other.id, "aal1", "hash-eve");
      // Both reads must agree: whoami uses one, the flows the other.
      const needs = async (tokenHash: string) => {
        const withIdentity = await stores.sessions.findActiveSessionWithIdentity(
          tenantId,
          tokenHash,
          NOW,
          60_000,
        );
        const withUser = await stores.sessions.findActiveSessionWithUser(tenantId, tokenHash, NOW, 60_000);
        assert.equal(withIdentity?.needsSecondFactor, withUser?.needsSecondFactor, tokenHash);
        return withIdentity!.needsSecondFactor;
      };
      assert.equal(await needs(bobs), false);

      const totp = await stores.totpDevices.createTOTPDevice(
        {
          tenantId,
          userId: user.id,
          name: "phone",
          secretSecretIndex: 0,
          secretSealed: "sealed",
          digits: 6,
          period: 30,
          algorithm: "sha1",
          confirmed: false,
        },
        NOW,
      );
      assert.equal(await needs(bobs), false, "an unconfirmed device is not a factor");
      await stores.totpDevices.confirmTOTPDevice(tenantId, totp.id);
      assert.equal(await needs(bobs), true);
      assert.equal(await needs(bobsStrong), false, "an aal2 session needs nothing more");
      assert.equal(await needs(eves), false, "another user's device is not this one's factor");
      await stores.totpDevices.deleteTOTPDevice(tenantId, totp.id);
      assert.equal(await needs(bobs), false);

      await stores.staticDevices.createStaticDevice(
        { tenantId, userId: user.id, name: "codes" },
        ["h1"],
        NOW,
      );
      assert.equal(await needs(bobs), true);
      assert.equal(await stores.staticDevices.useStaticToken(tenantId, user.id, ["h1"], NOW), true);
      assert.equal(await needs(bobs), false, "a device whose codes are all used is not a factor");
    });

    test("hitMany counts each key in its own window, in one call", async (t) => {
      const { stores } = await open(t, dialect);
      const limits = stores.rateLimits;
      const short = { key: "short", windowMs: 1_000 };
      const long = { key: "long", windowMs: 60_000 };
      const at = (ms: number) => new Date(NOW.getTime() + ms);
      assert.deepEqual(await limits.hitMany([short, long], at(0)), [
        { count: 1, windowStart: NOW.getTime() },
        { count: 1, windowStart: NOW.getTime() },
      ]);
      // Results follow the order asked, whatever order the database returns rows in.
      assert.deepEqual(await limits.hitMany([long, short], at(500)), [
        { count: 2, windowStart: NOW.getTime() },
        { count: 2, windowStart: NOW.getTime() },
      ]);
      // Past the short window only the short counter starts over.
      assert.deepEqual(await limits.hitMany([short, long], at(1_000)), [
        { count: 1, windowStart: at(1_000).getTime() },
        { count: 3, windowStart: NOW.getTime() },
      ]);
      // It agrees with hit and peek on the same keys.
      assert.deepEqual(await limits.hit("long", 60_000, at(1_500)), { count: 4, windowStart: NOW.getTime() });
      assert.deepEqual(await limits.peek("short", 1_000, at(1_500)), {
        count: 1,
        windowStart: at(1_000).getTime(),
      });
      await assert.rejects(limits.hitMany([short, short], at(2_000)), /distinct keys/);
    });

    test("recovery submissions take both limits in one statement: per address and per IP", async (t) => {
      const rekey = await testApp(t, dialect);
      await createIdentity(rekey, "ada");
      const submit = async (ip: string, email: string): Promise<number> => {
        const client = new KratosClient(rekey, "api", { remoteAddress: ip });
        return (await submitEmail(client, await startRecovery(client), email)).statusCode;
      };
      // Five per address per hour, whatever the IP; the sixth is refused.
      for (let i = 0; i < 5; i++) {
        assert.equal(await submit(`10.1.0.${i}`, "ada@example.com"), 200);
      }
      assert.equal(await submit("10.1.0.9", "ADA@example.com"), 429);
      // Ten per IP per quarter hour, whatever the address (known or not); the eleventh is refused.
      for (let i = 0; i < 10; i++) {
        assert.equal(await submit("10.2.0.1", `nobody${i}@example.com`), 200);
      }
      assert.equal(await submit("10.2.0.1", "someone-else@example.com"), 429);
    });
  });
}
