import assert from "node:assert/strict";
import { describe, test } from "node:test";
import pg from "pg";
import { type BulkReport, bulkLoad, SCALE_PASSWORD } from "../../bench/lib/bulk.js";
import { verifyPassword } from "../../src/users/passwords.js";
import { DIALECTS } from "../support/databases.js";
import { SECRET, type TestApp, testApp } from "../support/app.js";

/** The token table's keys and indexes as the database describes them (PostgreSQL). */
async function tokenSchema(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const rows = await client.query<{ def: string }>(
      `select indexdef as def from pg_indexes where schemaname = current_schema() and tablename = 'token'
       union all
       select conname || ' ' || pg_get_constraintdef(oid) from pg_constraint where conrelid = 'token'::regclass
       order by 1`,
    );
    return rows.rows.map((row) => row.def);
  } finally {
    await client.end();
  }
}

async function load(test: TestApp): Promise<BulkReport> {
  return bulkLoad(test.database.url, {
    users: 30,
    tokens: 200,
    serverSecret: SECRET,
    sampleKeys: 40,
    progress: () => undefined,
  });
}

for (const dialect of DIALECTS) {
  describe(`bulk loader on ${dialect}`, () => {
    test("loaded api keys authenticate as their owner; app passwords do not; view_key opens them", async (t) => {
      const app = await testApp(t, dialect);
      const report = await load(app);
      assert.equal(report.users, 30);
      assert.equal(report.tokens, 200);
      const api = report.samples.filter((sample) => sample.intent === "api");
      assert.ok(api.length >= 10, `only ${api.length} api samples`);
      for (const sample of api) {
        const me = await app.api("GET", "/api/v3/core/users/me/", undefined, { token: sample.key });
        assert.equal(me.statusCode, 200, me.body);
        assert.equal(me.json().user.username, sample.username);
        assert.ok(me.json().user.groups.length >= 1);
      }
      const appPassword = report.samples.find((sample) => sample.intent === "app_password");
      assert.ok(appPassword !== undefined);
      const refused = await app.api("GET", "/api/v3/core/users/me/", undefined, { token: appPassword.key });
      assert.equal(refused.statusCode, 403);
      for (const sample of [api[0]!, appPassword]) {
        const view = await app.api("GET", `/api/v3/core/tokens/${sample.identifier}/view_key/`);
        assert.equal(view.statusCode, 200, view.body);
        assert.equal(view.json().key, sample.key);
      }
    });

    test("loaded users read like API-made ones, with the shared argon2id password", async (t) => {
      const app = await testApp(t, dialect);
      await load(app);
      const list = await app.api("GET", "/api/v3/core/users/?username=scale-user-10");
      assert.equal(list.statusCode, 200, list.body);
      const [user] = list.json().results;
      assert.equal(user.email, "scale-user-10@example.com");
      assert.equal(user.path, "users");
      assert.equal(user.type, "internal");
      assert.equal(user.is_active, true);
      assert.equal(user.groups_obj.length, 2, "every tenth user is in two groups");
      const tenant = await app.deps.persistence.stores.tenants.defaultTenant();
      const hash = await app.deps.persistence.stores.users.passwordHash(tenant.id, user.pk);
      assert.ok(hash?.startsWith("$argon2id$"));
      assert.equal(await verifyPassword(hash!, SCALE_PASSWORD), true);
      const all = await app.api("GET", "/api/v3/core/users/?page_size=1");
      assert.equal(all.json().pagination.count, 31, "30 loaded users and akadmin");
    });

    test("the token table keeps every key: identifiers stay unique after a load", async (t) => {
      const app = await testApp(t, dialect);
      const before = dialect === "postgres" ? await tokenSchema(app.database.url) : [];
      await load(app);
      if (dialect === "postgres") {
        assert.deepEqual(await tokenSchema(app.database.url), before);
      }
      const duplicate = await app.api("POST", "/api/v3/core/tokens/", {
        identifier: "scale-token-5",
        intent: "api",
      });
      assert.equal(duplicate.statusCode, 400, duplicate.body);
      const tokens = await app.api("GET", "/api/v3/core/tokens/?page_size=1");
      assert.equal(tokens.json().pagination.count, 201, "200 loaded and the bootstrap token");
    });
  });
}
