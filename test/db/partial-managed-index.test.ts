// Migration 009 makes `managed` unique through a partial index: tokens already stored come through
// the change untouched (on SQLite the token table is rebuilt), the index holds managed tokens only,
// and a managed name is still unique in its tenant, refused under the constraint name the token
// service maps to the `managed` field.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sql } from "kysely";
import type { DB } from "../../src/db/database.js";
import { isUniqueViolation, violatedConstraint } from "../../src/db/errors.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import { storesOn } from "../../src/db/stores.js";
import type { Token } from "../../src/tokens/store.js";
import { aUser } from "../../src/users/store.contract.js";
import { DIALECTS, freshDatabase } from "../support/databases.js";

const CREATED = new Date("2026-11-01T10:00:00Z");

function aToken(tenantId: string, userId: number, identifier: string, managed: string | null): Token {
  return {
    id: `00000000-0000-7000-8000-${identifier.padStart(12, "0").slice(-12)}`,
    tenantId,
    identifier,
    managed,
    intent: "api",
    userId,
    description: `token ${identifier}`,
    expires: new Date("2026-12-01T10:00:00Z"),
    expiring: true,
    keyHash: `hash-${identifier}`,
    keySealed: `sealed-${identifier}`,
    keySecretIndex: 0,
    ownerMayView: true,
  };
}

async function allTokenRows(db: DB): Promise<unknown[]> {
  const rows = await db.kysely.selectFrom("token").selectAll().orderBy("id").execute();
  return rows.map((row) => ({ ...row }));
}

async function managedIndexDefinition(db: DB): Promise<string> {
  if (db.dialect === "sqlite") {
    const row = await sql<{
      sql: string;
    }>`select sql from sqlite_master where name = 'token_tenant_managed'`.execute(db.kysely);
    return row.rows[0]?.sql ?? "";
  }
  const row = await sql<{ indexdef: string }>`select indexdef from pg_indexes
      where indexname = 'token_tenant_managed' and schemaname = current_schema()`.execute(db.kysely);
  return row.rows[0]?.indexdef ?? "";
}

for (const dialect of DIALECTS) {
  describe(`migration 009 (partial managed index) on ${dialect}`, () => {
    test("keeps every stored token and its uniqueness rules", async (t) => {
      const { db } = await freshDatabase(t, dialect, { upTo: "008_case_insensitive_lookups" });
      const stores = storesOn(db.kysely, db.dialect);
      const tenantId = (await stores.tenants.defaultTenant()).id;
      const owner = await aUser(stores, tenantId, "jdoe");
      for (const [identifier, managed] of [
        ["plain-1", null],
        ["plain-2", null],
        ["managed-1", "goauthentik.io/one"],
        ["managed-2", "goauthentik.io/two"],
      ] as const) {
        await stores.tokens.createToken(aToken(tenantId, owner.id, identifier, managed), CREATED);
      }
      const before = await allTokenRows(db);
      assert.doesNotMatch(await managedIndexDefinition(db), /where/i);

      assert.deepEqual(await migrateToLatest(db), ["009_partial_managed_index"]);

      assert.deepEqual(await allTokenRows(db), before);
      assert.match(await managedIndexDefinition(db), /where[\s(]*"?managed"?\)? is not null/i);
      // Still one managed name per tenant, refused under a name that says `managed`.
      const clash = await stores.tokens
        .createToken(aToken(tenantId, owner.id, "managed-3", "goauthentik.io/one"), CREATED)
        .then(
          () => null,
          (error: unknown) => error,
        );
      assert.ok(isUniqueViolation(clash), String(clash));
      assert.match(violatedConstraint(clash), /managed/);
      // Any number without one, and the other unique rules and indexes came through the rebuild.
      await stores.tokens.createToken(aToken(tenantId, owner.id, "plain-3", null), CREATED);
      const duplicateIdentifier = await stores.tokens
        .createToken(
          { ...aToken(tenantId, owner.id, "plain-1", null), id: "00000000-0000-7000-8000-0000000000ff" },
          CREATED,
        )
        .then(
          () => null,
          (error: unknown) => error,
        );
      assert.match(violatedConstraint(duplicateIdentifier), /identifier/);
      const found = await stores.tokens.findAPICredential(tenantId, "hash-managed-2", CREATED);
      assert.equal(found?.owner.username, "jdoe");
    });
  });
}
