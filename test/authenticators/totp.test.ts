import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  acceptTOTPCode,
  createTOTPKeyURI,
  decodeBase32Secret,
  encodeBase32,
  matchingStep,
  totpCodeAt,
} from "../../src/authenticators/totp.js";
import { createTOTPDevice, regenerateBackupCodes, useBackupCode } from "../../src/authenticators/service.js";
import type { TOTPAlgorithm } from "../../src/authenticators/store.js";
import { fixedClock } from "../../src/clock.js";
import { SYSTEM_ACTOR } from "../../src/events/store.js";
import { createUser, testApp } from "../support/app.js";
import { DIALECTS, noPostgres } from "../support/databases.js";

const ascii = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "ascii"));
const SHA1_SECRET = ascii("12345678901234567890");
const SHA256_SECRET = ascii("12345678901234567890123456789012");
const SHA512_SECRET = ascii("1234567890123456789012345678901234567890123456789012345678901234");

describe("TOTP verification (RFC 6238 Appendix B test vectors)", () => {
  const vectors: [number, TOTPAlgorithm, Uint8Array, string][] = [
    [59, "sha1", SHA1_SECRET, "94287082"],
    [59, "sha256", SHA256_SECRET, "46119246"],
    [59, "sha512", SHA512_SECRET, "90693936"],
    [1111111109, "sha1", SHA1_SECRET, "07081804"],
    [1111111111, "sha256", SHA256_SECRET, "67062674"],
    [1234567890, "sha512", SHA512_SECRET, "93441116"],
    [2000000000, "sha1", SHA1_SECRET, "69279037"],
    [20000000000, "sha256", SHA256_SECRET, "77737706"],
  ];
  for (const [seconds, algorithm, secret, code] of vectors) {
    test(`${algorithm} at T=${seconds} gives ${code}, and that code matches its own step`, () => {
      const device = { digits: 8 as const, period: 30, algorithm };
      const at = new Date(seconds * 1000);
      assert.equal(totpCodeAt(device, secret, at), code);
      assert.equal(matchingStep(device, secret, code, at), Math.floor(seconds / 30));
    });
  }

  test("a code is accepted one step either side and refused two steps away", () => {
    const device = { digits: 6 as const, period: 30, algorithm: "sha1" as const };
    const at = new Date(1_700_000_000_000);
    const code = totpCodeAt(device, SHA1_SECRET, at);
    assert.notEqual(matchingStep(device, SHA1_SECRET, code, new Date(at.getTime() + 30_000)), null);
    assert.notEqual(matchingStep(device, SHA1_SECRET, code, new Date(at.getTime() - 30_000)), null);
    assert.equal(matchingStep(device, SHA1_SECRET, code, new Date(at.getTime() + 61_000)), null);
    assert.equal(matchingStep(device, SHA1_SECRET, code, new Date(at.getTime() - 61_000)), null);
  });

  test("wrong digits, wrong algorithm and non-numeric input are refused", () => {
    const at = new Date(59_000);
    assert.equal(
      matchingStep({ digits: 6, period: 30, algorithm: "sha1" }, SHA1_SECRET, "94287082", at),
      null,
    );
    assert.equal(
      matchingStep({ digits: 8, period: 30, algorithm: "sha256" }, SHA1_SECRET, "94287082", at),
      null,
    );
    assert.equal(
      matchingStep({ digits: 8, period: 30, algorithm: "sha1" }, SHA1_SECRET, "9428708x", at),
      null,
    );
  });

  test("imported base32 secrets decode case-insensitively with padding and spaces, within 10 to 64 bytes", () => {
    const base32 = encodeBase32(SHA1_SECRET);
    assert.deepEqual(decodeBase32Secret(base32.toLowerCase()), SHA1_SECRET);
    assert.deepEqual(decodeBase32Secret(`${base32.slice(0, 8)} ${base32.slice(8)}====`), SHA1_SECRET);
    assert.equal(decodeBase32Secret("JBSWY3DP"), null); // 5 bytes: too short
    assert.equal(decodeBase32Secret("not base32!"), null);
    assert.equal(decodeBase32Secret(encodeBase32(new Uint8Array(65))), null);
  });

  test("the otpauth URI names issuer, account, algorithm, digits and period", () => {
    const uri = createTOTPKeyURI({
      issuer: "Rekey",
      account: "jdoe",
      secret: SHA1_SECRET,
      algorithm: "sha1",
      digits: 6,
      period: 30,
    });
    assert.equal(
      uri,
      `otpauth://totp/Rekey%3Ajdoe?secret=${encodeBase32(SHA1_SECRET)}&algorithm=SHA1&digits=6&period=30&issuer=Rekey`,
    );
  });
});

for (const dialect of DIALECTS) {
  describe(`second factors on ${dialect}`, () => {
    test("a TOTP code is accepted once, a later step is accepted again, an earlier one never", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:10Z"));
      const rekey = await testApp(t, dialect, { clock });
      const userId = await createUser(rekey, "jdoe");
      const tenant = await rekey.deps.persistence.stores.tenants.defaultTenant();
      const user = (await rekey.deps.persistence.stores.users.findUser(tenant.id, userId))!;
      const audit = {
        tenantId: user.tenantId,
        actor: SYSTEM_ACTOR,
        clientIP: null,
        httpRequest: null,
        app: "rekey.api" as const,
      };
      const { device } = await createTOTPDevice(rekey.deps, audit, {
        user,
        name: "phone",
        digits: 6,
        period: 30,
        algorithm: "sha1",
        secret: SHA1_SECRET,
        confirmed: true,
      });
      const stores = rekey.deps.persistence.stores;
      const now = clock.now();
      const code = totpCodeAt(device, SHA1_SECRET, now);
      const devices = () => stores.totpDevices.userTOTPDevices(user.tenantId, user.id);
      assert.notEqual(await acceptTOTPCode(rekey.deps, stores, await devices(), code), null);
      assert.equal(await acceptTOTPCode(rekey.deps, stores, await devices(), code), null, "replayed code");
      const previous = totpCodeAt(device, SHA1_SECRET, new Date(now.getTime() - 30_000));
      assert.equal(
        await acceptTOTPCode(rekey.deps, stores, await devices(), previous),
        null,
        "earlier step after a later one",
      );
      clock.advance(30_000);
      const next = totpCodeAt(device, SHA1_SECRET, clock.now());
      assert.notEqual(await acceptTOTPCode(rekey.deps, stores, await devices(), next), null);
    });

    test("backup codes work once each, ignore case and hyphens, and a new set replaces the old", async (t) => {
      const rekey = await testApp(t, dialect);
      const userId = await createUser(rekey, "jdoe");
      const tenant = await rekey.deps.persistence.stores.tenants.defaultTenant();
      const user = (await rekey.deps.persistence.stores.users.findUser(tenant.id, userId))!;
      const audit = {
        tenantId: tenant.id,
        actor: SYSTEM_ACTOR,
        clientIP: null,
        httpRequest: null,
        app: "rekey.api" as const,
      };
      const first = await regenerateBackupCodes(rekey.deps, audit, user);
      assert.equal(first.codes.length, 10);
      assert.equal(new Set(first.codes).size, 10);
      const stores = rekey.deps.persistence.stores;
      const code = first.codes[0]!;
      assert.equal(
        await useBackupCode(rekey.deps, stores, user, `${code.slice(0, 6).toUpperCase()}-${code.slice(6)}`),
        true,
      );
      assert.equal(await useBackupCode(rekey.deps, stores, user, code), false, "used twice");
      assert.equal((await stores.staticDevices.userStaticDevices(tenant.id, user.id))[0]!.unusedCount, 9);
      const second = await regenerateBackupCodes(rekey.deps, audit, user);
      assert.equal(await useBackupCode(rekey.deps, stores, user, first.codes[1]!), false, "old set is gone");
      assert.equal(await useBackupCode(rekey.deps, stores, user, second.codes[1]!), true);
    });

    test("the same valid TOTP code and the same backup code submitted 20 times at once are each accepted once", {
      skip: dialect === "sqlite" ? false : noPostgres,
    }, async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:10Z"));
      const rekey = await testApp(t, dialect, { clock });
      const userId = await createUser(rekey, "racer");
      const tenant = await rekey.deps.persistence.stores.tenants.defaultTenant();
      const user = (await rekey.deps.persistence.stores.users.findUser(tenant.id, userId))!;
      const audit = {
        tenantId: tenant.id,
        actor: SYSTEM_ACTOR,
        clientIP: null,
        httpRequest: null,
        app: "rekey.api" as const,
      };
      const { device } = await createTOTPDevice(rekey.deps, audit, {
        user,
        name: "phone",
        digits: 6,
        period: 30,
        algorithm: "sha1",
        secret: SHA1_SECRET,
        confirmed: true,
      });
      const stores = rekey.deps.persistence.stores;
      const code = totpCodeAt(device, SHA1_SECRET, clock.now());
      const devices = await stores.totpDevices.userTOTPDevices(tenant.id, user.id);
      const totpResults = await Promise.all(
        Array.from({ length: 20 }, () => acceptTOTPCode(rekey.deps, stores, devices, code)),
      );
      assert.equal(totpResults.filter((result) => result !== null).length, 1);
      const { codes } = await regenerateBackupCodes(rekey.deps, audit, user);
      const backupResults = await Promise.all(
        Array.from({ length: 20 }, () => useBackupCode(rekey.deps, stores, user, codes[0]!)),
      );
      assert.equal(backupResults.filter(Boolean).length, 1);
    });
  });
}
