import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { sql } from "kysely";
import { fixedClock } from "../../src/clock.js";
import { sha256Hex } from "../../src/crypto/secrets.js";
import { SYSTEM_ACTOR } from "../../src/events/store.js";
import { cleanUpExpiredTokens, generateTokenKey, storedKey } from "../../src/tokens/service.js";
import type { TokenIntent } from "../../src/tokens/store.js";
import { ADMIN_TOKEN, SECRET, type TestApp, TENANTS_KEY, testApp } from "../support/app.js";

const NOW = new Date("2026-03-01T12:00:00Z");
const HOUR = 3_600_000;
const PASSWORD = "correct horse battery staple";

/**
 * Every base64 and base64url spelling of `secret` that could sit inside a longer encoded value: the
 * characters that depend on the secret alone, for each of the three byte alignments.
 */
function base64Spellings(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  const spellings: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString("base64");
    const start = Math.ceil((8 * shift) / 6);
    const end = Math.floor((8 * (shift + bytes.length)) / 6);
    const core = encoded.slice(start, end);
    spellings.push(core, core.replaceAll("+", "-").replaceAll("/", "_"));
  }
  return spellings;
}

/** The SQLite file and its write-ahead log, if one is there: everything a stolen disk would hold. */
function databaseBytes(file: string): { name: string; bytes: Buffer }[] {
  return [file, `${file}-wal`]
    .filter((path) => existsSync(path))
    .map((path) => ({ name: path, bytes: readFileSync(path) }));
}

function assertNowhereOnDisk(file: string, secrets: Record<string, string>): void {
  const files = databaseBytes(file);
  assert.ok(files.length > 0 && files[0]!.bytes.length > 0, "the database file exists");
  for (const { name, bytes } of files) {
    for (const [label, secret] of Object.entries(secrets)) {
      for (const spelling of [secret, ...base64Spellings(secret)]) {
        assert.equal(
          bytes.includes(Buffer.from(spelling, "utf8")),
          false,
          `${label} (as "${spelling}") found in ${name}`,
        );
      }
    }
  }
}

async function createToken(
  rekey: TestApp,
  identifier: string,
  intent: TokenIntent,
  expires?: Date,
): Promise<string> {
  const created = await rekey.api("POST", "/api/v3/core/tokens/", {
    identifier,
    intent,
    expires: expires?.toISOString(),
  });
  assert.equal(created.statusCode, 201, created.body);
  return viewKey(rekey, identifier);
}

async function viewKey(rekey: TestApp, identifier: string): Promise<string> {
  const viewed = await rekey.api("GET", `/api/v3/core/tokens/${identifier}/view_key/`);
  assert.equal(viewed.statusCode, 200, viewed.body);
  return viewed.json().key as string;
}

describe("secrets at rest in the SQLite file", () => {
  test("no token key, password or server secret can be read from the SQLite file or its WAL", async (t) => {
    const clock = fixedClock(NOW);
    const rekey = await testApp(t, "sqlite", { clock });
    const file = rekey.database.file!;
    const secrets: Record<string, string> = {
      "bootstrap token": ADMIN_TOKEN,
      "bootstrap password": "bootstrap-password-1",
      "server secret": SECRET,
      "tenants API key": TENANTS_KEY,
    };
    for (let i = 0; i < 3; i++) {
      secrets[`api key ${i}`] = await createToken(rekey, `api-${i}`, "api");
      secrets[`app password ${i}`] = await createToken(rekey, `app-${i}`, "app_password");
    }
    secrets["rotated api key"] = await createToken(rekey, "rotate-me", "api", new Date(NOW.getTime() + HOUR));

    const chosen = "my-own-chosen-secret-key-0123456789";
    const setKey = await rekey.api("POST", "/api/v3/core/tokens/api-0/set_key/", { key: chosen });
    assert.equal(setKey.statusCode, 204, setKey.body);
    assert.equal(await viewKey(rekey, "api-0"), chosen);
    secrets["key chosen with set_key"] = chosen;

    clock.advance(2 * HOUR);
    const changed = await cleanUpExpiredTokens(rekey.deps, (tenantId) => ({
      tenantId,
      actor: SYSTEM_ACTOR,
      clientIP: null,
      httpRequest: null,
      app: "rekey.tasks",
    }));
    assert.equal(changed, 1);
    const rotated = await viewKey(rekey, "rotate-me");
    assert.notEqual(rotated, secrets["rotated api key"]);
    secrets["api key after rotation"] = rotated;

    const me = await rekey.api("GET", "/api/v3/core/users/me/");
    const password = await rekey.api("POST", `/api/v3/core/users/${me.json().user.pk}/set_password/`, {
      password: PASSWORD,
    });
    assert.equal(password.statusCode, 204, password.body);
    secrets["password"] = PASSWORD;

    await rekey.app.close();
    assertNowhereOnDisk(file, secrets);
    // The same holds once the WAL has been folded into the main file.
    await sql`pragma wal_checkpoint(TRUNCATE)`.execute(rekey.database.db.kysely);
    assertNowhereOnDisk(file, secrets);
  });

  test("recovery and verification keys are stored as a hash only, with no ciphertext to open", async (t) => {
    const rekey = await testApp(t, "sqlite");
    const stores = rekey.deps.persistence.stores;
    const tenant = await stores.tenants.defaultTenant();
    const admin = await stores.users.findUserByUsername(tenant.id, "akadmin");
    assert.ok(admin !== null);
    const keys: Record<string, string> = {};
    for (const intent of ["recovery", "verification", "api"] as const) {
      const key = generateTokenKey(rekey.deps);
      keys[intent] = key;
      await stores.tokens.createToken(
        {
          id: rekey.deps.random.uuid(),
          tenantId: tenant.id,
          identifier: `stored-${intent}`,
          managed: null,
          intent,
          userId: admin.id,
          description: "",
          expires: null,
          expiring: false,
          ownerMayView: true,
          ...storedKey(rekey.deps, intent, key),
        },
        rekey.deps.clock.now(),
      );
    }

    const rows = await rekey.database.db.kysely
      .selectFrom("token")
      .select(["identifier", "key_hash", "key_sealed", "key_secret_index"])
      .where("identifier", "like", "stored-%")
      .orderBy("identifier")
      .execute();
    assert.deepEqual(
      rows.map((row) => [row.identifier, row.key_hash, row.key_sealed === null, row.key_secret_index]),
      [
        ["stored-api", sha256Hex(keys["api"]!), false, 0],
        ["stored-recovery", sha256Hex(keys["recovery"]!), true, null],
        ["stored-verification", sha256Hex(keys["verification"]!), true, null],
      ],
    );
    const view = await rekey.api("GET", "/api/v3/core/tokens/stored-recovery/view_key/");
    assert.equal(view.statusCode, 404);
    assert.deepEqual(view.json(), { detail: "Token not found or expired" });

    await rekey.app.close();
    assertNowhereOnDisk(rekey.database.file!, keys);
  });
});
