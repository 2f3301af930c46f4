import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { sql } from "kysely";
import { testApp } from "../support/app.js";
import { noPostgres } from "../support/databases.js";
import { createIdentity, defaultTenantId, type JSONBody } from "./admin-support.js";

const TOKEN_LINK = /token=([A-Za-z0-9]{32})$/;

describe("admin recovery secrets at rest", () => {
  test("no admin code or link token is stored in clear in the SQLite file", async (t) => {
    // Twelve digits: a six-digit code could appear by chance inside any timestamp of the file.
    const rekey = await testApp(t, "sqlite", { env: { REKEY_RECOVERY_CODE_LENGTH: "12" } });
    const identity = await createIdentity(rekey, { email: "jane@example.com" });
    const secrets: string[] = [];
    for (let i = 0; i < 5; i++) {
      const code = (
        await rekey.api("POST", "/admin/recovery/code", { identity_id: identity["id"] })
      ).json() as JSONBody;
      secrets.push(code["recovery_code"]);
      const link = (
        await rekey.api("POST", "/iam/recovery/link", { identity_id: identity["id"] })
      ).json() as JSONBody;
      secrets.push(TOKEN_LINK.exec(link["recovery_link"])![1]!);
    }
    const file = rekey.database.file!;
    const bytes = Buffer.concat(
      [file, `${file}-wal`].filter((path) => existsSync(path)).map((path) => readFileSync(path)),
    );
    assert.ok(bytes.includes(Buffer.from("jane@example.com")), "the scan sees what was written");
    for (const secret of secrets) {
      assert.equal(bytes.includes(Buffer.from(secret, "ascii")), false, `${secret} is in the database file`);
      assert.equal(bytes.includes(Buffer.from(secret, "utf16le")), false);
    }
    const rows = await sql<{ secret_hmac: string }>`select secret_hmac from recovery_code`.execute(
      rekey.deps.db.kysely,
    );
    assert.equal(rows.rows.length, 10);
  });

  test("20 concurrent uses of one admin code on PostgreSQL: exactly one succeeds", {
    skip: noPostgres,
  }, async (t) => {
    const rekey = await testApp(t, "postgres");
    const identity = await createIdentity(rekey, { email: "jane@example.com" });
    const issued = (
      await rekey.api("POST", "/admin/recovery/code", { identity_id: identity["id"] })
    ).json() as JSONBody;
    const flowId = /flow=([0-9a-f-]{36})$/.exec(issued["recovery_link"])![1]!;
    const store = rekey.deps.persistence.stores.selfServiceRecovery;
    const [code] = await store.listRecoveryCodes(defaultTenantId(rekey), flowId);
    assert.ok(rekey.deps.codeHMAC.matches(issued["recovery_code"], code!.secretHMAC));
    const now = rekey.deps.clock.now();
    const uses = await Promise.all(
      Array.from({ length: 20 }, () => store.useRecoveryCode(defaultTenantId(rekey), code!.id, now)),
    );
    assert.equal(uses.filter((used) => used).length, 1);
    assert.equal(
      await store.useRecoveryCode(defaultTenantId(rekey), code!.id, now),
      false,
      "and it stays used",
    );
  });
});
