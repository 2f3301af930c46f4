// The operator commands of issue #2 (item 14) and design.md, through the real `rekey` command on a
// real database: what each one writes is read back through /api/v3 of an app on the same database.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import SQLite from "better-sqlite3";
import pg from "pg";
import type { Dialect } from "../../src/db/database.js";
import { verifyPassword } from "../../src/users/passwords.js";
import { DIALECTS, freshDatabase, POSTGRES_URL, type TestDatabase } from "../support/databases.js";
import { appOn, type InProcessApp, type Run, rekey, SECRET, stderrLines, tempDir } from "./support.js";

/** What a failed command must look like: this exit code, one line on stderr, no stack trace. */
function assertOneLineFailure(run: Run, code: number, pattern: RegExp): void {
  assert.equal(run.code, code, `stdout: ${run.stdout}\nstderr: ${run.stderr}`);
  const lines = stderrLines(run);
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${run.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(run.stderr, /^\s+at /m, "a stack trace on stderr");
}

interface Setup {
  database: TestDatabase;
  /** Runs `rekey <args>` on the test's database. */
  run(args: string[], input?: string): Promise<Run>;
}

async function setup(t: TestContext, dialect: Dialect): Promise<Setup> {
  const database = await freshDatabase(t, dialect);
  const env = {
    REKEY_DATABASE_URL: database.url,
    REKEY_SECRET_KEY: SECRET,
    REKEY_PUBLIC_URL: "https://rekey.example.com",
  };
  return { database, run: (args, input) => rekey(args, { env, input }) };
}

/** Creates a user with the CLI and returns its pk, read from what the command printed. */
async function createUser(cli: Setup, username: string, extra: string[] = []): Promise<number> {
  const run = await cli.run([
    "users",
    "create",
    "--username",
    username,
    "--email",
    `${username}@example.com`,
    ...extra,
  ]);
  assert.equal(run.code, 0, run.stderr);
  const printed = /^Created user '(.+)' \(pk (\d+)\)\.\n$/.exec(run.stdout);
  assert.ok(printed !== null, run.stdout);
  assert.equal(printed[1], username);
  return Number(printed[2]);
}

interface WireUser {
  pk: number;
  username: string;
  name: string;
  email: string;
  is_superuser: boolean;
  groups_obj: { name: string }[];
}

async function readUser(app: InProcessApp, pk: number): Promise<WireUser> {
  const response = await app.api("GET", `/api/v3/core/users/${pk}/`);
  assert.equal(response.statusCode, 200, response.body);
  return response.json() as WireUser;
}

async function storedPasswordHash(app: InProcessApp, pk: number): Promise<string | null> {
  const tenant = await app.deps.persistence.stores.tenants.defaultTenant();
  return app.deps.persistence.stores.users.passwordHash(tenant.id, pk);
}

// Suites run side by side (each spawn mostly waits on Node start-up); see below for PostgreSQL.
describe("rekey commands", { concurrency: true }, () => {
  describe("rekey migrate", { concurrency: true }, () => {
    test("on a new SQLite file applies every migration once; a second run changes nothing", async (t) => {
      const file = join(tempDir(t), "data", "rekey.db");
      const env = { REKEY_DATABASE_URL: `sqlite:${file}` };
      const first = await rekey(["migrate"], { env });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^Applied: 001_foundation, 002_recovery, .+\n$/);
      const applied = first.stdout.slice("Applied: ".length).trim().split(", ");
      const tables = (): string[] => {
        const sqlite = new SQLite(file, { readonly: true });
        try {
          const rows = sqlite
            .prepare("select name from sqlite_master where type = 'table' order by name")
            .all();
          return (rows as { name: string }[]).map((row) => row.name);
        } finally {
          sqlite.close();
        }
      };
      const before = tables();
      for (const table of ["tenant", "user", "group", "token", "event", "kysely_migration"]) {
        assert.ok(before.includes(table), `no table ${table}: ${before.join(", ")}`);
      }
      const second = await rekey(["migrate"], { env });
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.stdout, "Schema is up to date.\n");
      assert.deepEqual(tables(), before);
      const sqlite = new SQLite(file, { readonly: true });
      t.after(() => sqlite.close());
      const recorded = sqlite.prepare("select name from kysely_migration order by name").all() as {
        name: string;
      }[];
      assert.deepEqual(
        recorded.map((row) => row.name),
        applied,
      );
    });

    test("on a new PostgreSQL database applies every migration once; a second run changes nothing", {
      skip: POSTGRES_URL === undefined ? "REKEY_TEST_POSTGRES_URL is not set" : false,
    }, async (t) => {
      // A whole database, not freshDatabase's schema: that one arrives already migrated.
      const name = `rekey_cli_${process.pid}_${randomBytes(3).toString("hex")}`;
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`create database "${name}"`);
      await admin.end();
      t.after(async () => {
        const cleanup = new pg.Client({ connectionString: POSTGRES_URL });
        await cleanup.connect();
        await cleanup.query(`drop database if exists "${name}" with (force)`);
        await cleanup.end();
      });
      const url = new URL(POSTGRES_URL!);
      url.pathname = `/${name}`;
      const env = { REKEY_DATABASE_URL: url.href, REKEY_SECRET_KEY: SECRET };
      const first = await rekey(["migrate"], { env });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^Applied: 001_foundation, 002_recovery, .+\n$/);
      const second = await rekey(["migrate"], { env });
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.stdout, "Schema is up to date.\n");
      // Ended here, not in t.after: hooks run in the order added, and the database drop comes first.
      const client = new pg.Client({ connectionString: url.href });
      await client.connect();
      try {
        const tables = await client.query<{ table_name: string }>(
          "select table_name from information_schema.tables where table_schema = 'public'",
        );
        const names = tables.rows.map((row) => row.table_name);
        for (const table of ["tenant", "user", "group", "token", "event"]) {
          assert.ok(names.includes(table), `no table ${table}: ${names.join(", ")}`);
        }
        const recorded = await client.query("select name from kysely_migration");
        assert.equal(recorded.rowCount, first.stdout.split(", ").length);
      } finally {
        await client.end();
      }
    });
  });

  for (const dialect of DIALECTS) {
    // PostgreSQL tests run one at a time: Kysely's migrator in each child lists every schema of the
    // test database, and a schema dropped meanwhile by a finished test would fail that query.
    describe(`rekey users and tokens on ${dialect}`, { concurrency: dialect === "sqlite" }, () => {
      test("users create makes the user, --superuser a member of authentik Admins; a taken name fails", async (t) => {
        const cli = await setup(t, dialect);
        const admin = await createUser(cli, "alice", ["--name", "Alice Liddell", "--superuser"]);
        const plain = await createUser(cli, "bob");
        const duplicate = await cli.run([
          "users",
          "create",
          "--username",
          "alice",
          "--email",
          "other@example.com",
        ]);
        assertOneLineFailure(duplicate, 1, /^rekey: username: /);
        const missing = await cli.run(["users", "create", "--username", "carol"]);
        assertOneLineFailure(missing, 2, /--email/);
        const unknownOption = await cli.run([
          "users",
          "create",
          "--username",
          "carol",
          "--email",
          "c@x.org",
          "--admin",
        ]);
        assertOneLineFailure(unknownOption, 2, /--admin/);

        const app = await appOn(t, cli.database);
        const alice = await readUser(app, admin);
        assert.deepEqual(
          [alice.username, alice.name, alice.email, alice.is_superuser],
          ["alice", "Alice Liddell", "alice@example.com", true],
        );
        assert.deepEqual(
          alice.groups_obj.map((group) => group.name),
          ["authentik Admins"],
        );
        const bob = await readUser(app, plain);
        assert.deepEqual([bob.name, bob.is_superuser, bob.groups_obj], ["", false, []]);
        const named = (await app.api("GET", "/api/v3/core/users/?username=alice")).json();
        assert.equal(named.pagination.count, 1, "the failed duplicate created a second alice");
        assert.equal((await app.api("GET", "/api/v3/core/users/?username=carol")).json().pagination.count, 0);
      });

      test("users set-password reads the password from stdin; a weak one or an unknown user fails", async (t) => {
        const cli = await setup(t, dialect);
        const pk = await createUser(cli, "dave");
        const set = await cli.run(
          ["users", "set-password", "dave"],
          "correct horse battery staple 9\nignored\n",
        );
        assert.equal(set.code, 0, set.stderr);
        assert.equal(set.stdout, "Password of 'dave' set.\n");
        const weak = await cli.run(["users", "set-password", "dave"], "123\n");
        assertOneLineFailure(weak, 1, /^rekey: password: /);
        const unknown = await cli.run(
          ["users", "set-password", "nobody"],
          "correct horse battery staple 9\n",
        );
        assertOneLineFailure(unknown, 1, /^rekey: User 'nobody' not found\.$/);
        const noName = await cli.run(["users", "set-password"], "correct horse battery staple 9\n");
        assertOneLineFailure(noName, 2, /needs a username/);

        const app = await appOn(t, cli.database);
        const hash = await storedPasswordHash(app, pk);
        assert.ok(hash !== null, "no password stored");
        assert.equal(await verifyPassword(hash, "correct horse battery staple 9"), true);
        assert.equal(await verifyPassword(hash, "123"), false);
      });

      test("token create prints an api key once, and that key authenticates users/me", async (t) => {
        const cli = await setup(t, dialect);
        await createUser(cli, "erin");
        const command = ["token", "create", "--user", "erin", "--intent", "api", "--identifier", "erin-ci"];
        const created = await cli.run(command);
        assert.equal(created.code, 0, created.stderr);
        assert.match(created.stdout, /^[A-Za-z0-9]{60}\n$/);
        const key = created.stdout.trim();
        assert.equal(created.stderr, "Token 'erin-ci' created; the key above is shown once.\n");
        // Creating it again fails without printing the key (or any other) a second time.
        const again = await cli.run(command);
        assertOneLineFailure(again, 1, /^rekey: identifier: /);
        assert.equal(again.stdout, "");

        const app = await appOn(t, cli.database);
        const me = await app.api("GET", "/api/v3/core/users/me/", { token: key });
        assert.equal(me.statusCode, 200, me.body);
        assert.equal(me.json().user.username, "erin");
        const listed = await app.api("GET", "/api/v3/core/tokens/?identifier=erin-ci");
        assert.equal(listed.json().pagination.count, 1);
        assert.equal(listed.json().results[0].intent, "api");
        assert.ok(!listed.body.includes(key), "the token list shows the key");
        const expires = Date.parse(listed.json().results[0].expires);
        const inADay = Date.now() + 24 * 3_600_000; // REKEY_DEFAULT_TOKEN_DURATION's default, days=1
        assert.ok(Math.abs(expires - inADay) < 10 * 60_000, `expires ${listed.json().results[0].expires}`);
      });

      test("token create makes an app password with --expires and a generated identifier", async (t) => {
        const cli = await setup(t, dialect);
        await createUser(cli, "frank");
        const expires = new Date(Date.now() + 12 * 3_600_000); // within the maximum lifetime, days=1
        expires.setUTCMilliseconds(0);
        const created = await cli.run([
          "token",
          "create",
          "--user",
          "frank",
          "--intent",
          "app_password",
          "--expires",
          expires.toISOString(),
        ]);
        assert.equal(created.code, 0, created.stderr);
        const key = created.stdout.trim();
        assert.match(key, /^[A-Za-z0-9]{60}$/);
        const identifier = /^Token '(frank-app_password-[a-z0-9]{8})' created/.exec(created.stderr)?.[1];
        assert.ok(identifier !== undefined, created.stderr);

        const app = await appOn(t, cli.database);
        const token = (await app.api("GET", `/api/v3/core/tokens/${identifier}/`)).json();
        assert.equal(token.intent, "app_password");
        assert.equal(Date.parse(token.expires), expires.getTime());
        assert.equal(token.user_obj.username, "frank");
      });

      test("token create with a bad intent, a bad date or an unknown user fails with one line", async (t) => {
        const cli = await setup(t, dialect);
        await createUser(cli, "grace");
        const badIntent = await cli.run(["token", "create", "--user", "grace", "--intent", "recovery"]);
        assertOneLineFailure(badIntent, 2, /--intent api\|app_password/);
        const badDate = await cli.run([
          "token",
          "create",
          "--user",
          "grace",
          "--intent",
          "api",
          "--expires",
          "soon",
        ]);
        assertOneLineFailure(badDate, 2, /^rekey: --expires: "soon" is not an ISO 8601 date-time\.$/);
        const unknown = await cli.run(["token", "create", "--user", "nobody", "--intent", "api"]);
        assertOneLineFailure(unknown, 1, /^rekey: User 'nobody' not found\.$/);
        for (const run of [badIntent, badDate, unknown]) assert.equal(run.stdout, "");

        const app = await appOn(t, cli.database);
        const tokens = (await app.api("GET", "/api/v3/core/tokens/?user__username=grace")).json();
        assert.equal(tokens.pagination.count, 0);
      });

      test("create_admin_group makes a user a superuser; create_recovery_key prints a URL and its expiry", async (t) => {
        const cli = await setup(t, dialect);
        const pk = await createUser(cli, "heidi");
        const promoted = await cli.run(["create_admin_group", "heidi"]);
        assert.equal(promoted.code, 0, promoted.stderr);
        assert.equal(promoted.stdout, "User 'heidi' successfully added to the group 'authentik Admins'.\n");
        const key = await cli.run(["create_recovery_key", "2", "heidi"]);
        assert.equal(key.code, 0, key.stderr);
        const [link, validUntil] = key.stdout.trim().split("\n");
        assert.ok(link?.startsWith("https://rekey.example.com/"), key.stdout);
        const until = Date.parse(validUntil!.replace("Valid until ", ""));
        assert.ok(Math.abs(until - (Date.now() + 2 * 24 * 3_600_000)) < 10 * 60_000, validUntil);
        assertOneLineFailure(await cli.run(["create_recovery_key", "0", "heidi"]), 2, /1 to 3650/);
        assertOneLineFailure(
          await cli.run(["create_admin_group", "nobody"]),
          1,
          /^rekey: User 'nobody' not found\.$/,
        );

        const app = await appOn(t, cli.database);
        assert.equal((await readUser(app, pk)).is_superuser, true);
      });
    });
  }
});
