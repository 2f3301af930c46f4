// The case-insensitive user lookups (recovery by address, sign-in by address, a new identity's
// identifier) are answered from the indexes of migration 008, not by reading every user of the
// tenant. Each lookup runs through the real users store; the statement it ran is then explained.
import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { CompiledQuery, sql } from "kysely";
import type { DB } from "../../src/db/database.js";
import { storesOn } from "../../src/db/stores.js";
import { DIALECTS, freshDatabase } from "../support/databases.js";
import { type RanStatement, recordStatements } from "../support/statements.js";

/** The query plan of `statement`, as text. */
async function planOf(db: DB, statement: RanStatement): Promise<string> {
  const prefix = db.dialect === "sqlite" ? "explain query plan" : "explain";
  const plan = await db.kysely.executeQuery<{ detail?: string; "QUERY PLAN"?: string }>(
    CompiledQuery.raw(`${prefix} ${statement.sql}`, statement.parameters),
  );
  return plan.rows.map((row) => row.detail ?? row["QUERY PLAN"]).join("\n");
}

/**
 * PostgreSQL plans from statistics, and for a table of a few rows reading it all is cheapest; give
 * it a tenant the size that makes the index matter (2,000 users) and ANALYZE, as autovacuum would.
 */
async function aRealTenant(db: DB, tenantId: string): Promise<void> {
  if (db.dialect !== "postgres") return;
  await sql`insert into "user" (tenant_id, uuid, username, name, email, email_verified, is_active,
      date_joined, password_change_date, last_updated, attributes, path, type)
    select ${tenantId}, gen_random_uuid()::text, 'user-' || n, 'User ' || n, 'User-' || n || '@example.com',
      0, 1, 0, 0, 0, '{}', 'users', 'internal'
    from generate_series(1, 2000) as n`.execute(db.kysely);
  await sql`analyze "user"`.execute(db.kysely);
}

async function setUp(t: TestContext, dialect: (typeof DIALECTS)[number]) {
  const { db } = await freshDatabase(t, dialect);
  const stores = storesOn(db.kysely, db.dialect);
  const tenantId = (await stores.tenants.defaultTenant()).id;
  await aRealTenant(db, tenantId);
  return { db, stores, tenantId, recorder: recordStatements(t, dialect) };
}

for (const dialect of DIALECTS) {
  describe(`case-insensitive user lookups on ${dialect}`, () => {
    test("by address: the (tenant_id, lower(email)) index", async (t) => {
      const { db, stores, tenantId, recorder } = await setUp(t, dialect);
      await stores.users.findUserProfilesByEmail(tenantId, "Ada@Example.com");
      const [lookup] = recorder.takeWithParameters();
      assert.match(lookup!.sql, /lower\("email"\)/);
      assert.match(await planOf(db, lookup!), /user_tenant_lower_email/);
    });

    test("sign-in by address: the same index once the username missed", async (t) => {
      const { db, stores, tenantId, recorder } = await setUp(t, dialect);
      await stores.users.findSignInUser(tenantId, "Ada@Example.com");
      const statements = recorder.takeWithParameters();
      const byEmail = statements.find((statement) => /lower\("email"\)/.test(statement.sql));
      assert.ok(byEmail, statements.map((statement) => statement.sql).join("\n"));
      assert.match(await planOf(db, byEmail), /user_tenant_lower_email/);
    });

    test("an identifier, as username or address: both indexes", async (t) => {
      const { db, stores, tenantId, recorder } = await setUp(t, dialect);
      await stores.users.findUsersByIdentifier(tenantId, "Ada");
      const lookup = recorder
        .takeWithParameters()
        .find((statement) => /lower\("username"\)/.test(statement.sql));
      assert.ok(lookup);
      const plan = await planOf(db, lookup);
      assert.match(plan, /user_tenant_lower_username/);
      assert.match(plan, /user_tenant_lower_email/);
    });
  });
}
