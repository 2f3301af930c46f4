// `rekey --help` and the REKEY_* settings, through the real command (issue #2, items 2, 11 and 14):
// every command documents itself, a bad setting stops `serve` with one line naming it, the SQLite
// secret is generated once and reused, and `serve` serves, bootstraps idempotently and stops on SIGTERM.
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { SETTINGS } from "../../src/config.js";
import { verifyPassword } from "../../src/users/passwords.js";
import { DIALECTS, freshDatabase, POSTGRES_URL } from "../support/databases.js";
import { freePort } from "../support/ports.js";
import {
  ADMIN_TOKEN,
  appOn,
  type Run,
  rekey,
  runOutput,
  SECRET,
  serve,
  stderrLines,
  tempDir,
} from "./support.js";

/** What a failed command must look like: a non-zero exit, one line on stderr, no stack trace. */
function assertOneLineFailure(run: Run, pattern: RegExp): void {
  assert.notEqual(run.code, 0, `expected a failure; stdout: ${run.stdout}`);
  assert.notEqual(run.code, null, `killed by ${run.signal}`);
  const lines = stderrLines(run);
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${run.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(run.stderr, /^\s+at /m, "a stack trace on stderr");
}

const HELP_CASES: { args: string[]; usage: string; options: string[] }[] = [
  { args: ["--help"], usage: "Usage: rekey <command>", options: ["serve", "migrate", "users create"] },
  { args: [], usage: "Usage: rekey <command>", options: ["token create", "create_recovery_key"] },
  { args: ["serve", "--help"], usage: "Usage: rekey serve", options: ["REKEY_DATABASE_URL"] },
  { args: ["migrate", "--help"], usage: "Usage: rekey migrate", options: ["REKEY_DATABASE_URL"] },
  {
    args: ["users", "create", "--help"],
    usage: "Usage: rekey users create",
    options: ["--username", "--email", "--name", "--superuser", "--tenant"],
  },
  {
    args: ["users", "set-password", "--help"],
    usage: "Usage: rekey users set-password <username>",
    options: ["standard input", "--tenant"],
  },
  {
    args: ["token", "create", "--help"],
    usage: "Usage: rekey token create",
    options: ["--user", "--intent api|app_password", "--identifier", "--expires", "--tenant"],
  },
  {
    args: ["create_recovery_key", "--help"],
    usage: "Usage: rekey create_recovery_key <days> <username>",
    options: ["--tenant", "1 to 3650"],
  },
  {
    args: ["create_admin_group", "-h"],
    usage: "Usage: rekey create_admin_group <username>",
    options: ["--tenant", "authentik Admins"],
  },
];

// Suites run side by side: each spawn is mostly waiting on Node start-up, and no two share a database.
describe("rekey settings", { concurrency: true }, () => {
  describe("rekey --help", { concurrency: true }, () => {
    for (const { args, usage, options } of HELP_CASES) {
      test(`\`${["rekey", ...args].join(" ")}\` prints its usage and options and exits 0`, async () => {
        // A bad setting must not get in the way of reading the help.
        const run = await rekey(args, { env: { REKEY_LISTEN: "nonsense" } });
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.stderr, "");
        assert.ok(run.stdout.startsWith(usage), run.stdout);
        for (const option of options)
          assert.ok(run.stdout.includes(option), `no ${option} in:\n${run.stdout}`);
      });
    }

    test("`rekey serve --help` lists every REKEY_* setting that config.ts reads, with its default", async () => {
      const run = await rekey(["serve", "--help"]);
      assert.equal(run.code, 0, run.stderr);
      const read = readFileSync(join(import.meta.dirname, "../../src/config.ts"), "utf8").match(
        /"REKEY_[A-Z_]+"/g,
      );
      const names = new Set((read ?? []).map((quoted) => quoted.slice(1, -1)));
      assert.ok(names.size >= 20, `only ${names.size} settings found in config.ts`);
      for (const name of names) {
        assert.ok(
          SETTINGS.some((setting) => setting.name === name),
          `${name} is read but not documented`,
        );
      }
      const lines = run.stdout.split("\n");
      for (const setting of SETTINGS) {
        const at = lines.findIndex((line) => line.trimStart().startsWith(`${setting.name} `));
        assert.notEqual(at, -1, `${setting.name} missing from serve --help`);
        assert.equal(lines[at + 1]?.trim(), `default: ${setting.default}`, `default of ${setting.name}`);
      }
    });

    test("an unknown command exits 2 and names it, with the usage on stderr", async () => {
      const run = await rekey(["frobnicate"]);
      assert.equal(run.code, 2);
      assert.equal(run.stdout, "");
      assert.match(run.stderr, /^rekey: unknown command 'frobnicate'\n/);
    });
  });

  const BAD_SETTINGS: [setting: string, value: string][] = [
    ["REKEY_LISTEN", "127.0.0.1:99999"],
    ["REKEY_LISTEN", "9000"],
    ["REKEY_LOG_LEVEL", "loud"],
    ["REKEY_PUBLIC_URL", "not a url"],
    ["REKEY_PUBLIC_URL", "ftp://example.com/"],
    ["REKEY_DATABASE_URL", "mysql://localhost/rekey"],
    ["REKEY_SMTP_URL", "http://mail.example.com"],
    ["REKEY_DEFAULT_TOKEN_DURATION", "forever"],
    ["REKEY_DEFAULT_TOKEN_DURATION", "days=0"],
    ["REKEY_RECOVERY_CODE_LENGTH", "5"],
    ["REKEY_SESSION_LIFETIME", "one day"],
    ["REKEY_TOKEN_CLEANUP_INTERVAL", "-1"],
    ["REKEY_DATABASE_POOL_SIZE", "0"],
    ["REKEY_TRUST_PROXY", "maybe"],
    ["REKEY_RECOVERY_USE", "sms"],
    ["REKEY_EMAIL_FROM", "nobody"],
    ["REKEY_RECOVERY_FLOW_SLUG", "not a slug"],
    ["REKEY_SECRET_KEY", "too-short"],
  ];

  describe("a bad setting", { concurrency: true }, () => {
    for (const [setting, value] of BAD_SETTINGS) {
      test(`${setting}=${JSON.stringify(value)} stops serve with one line naming it, before opening the database`, async (t) => {
        const file = join(tempDir(t), "data", "rekey.db");
        const run = await rekey(["serve"], {
          env: { REKEY_DATABASE_URL: `sqlite:${file}`, REKEY_LISTEN: "127.0.0.1:0", [setting]: value },
        });
        assertOneLineFailure(run, new RegExp(`^rekey: ${setting}: `));
        assert.equal(run.stdout, "");
        if (setting !== "REKEY_DATABASE_URL")
          assert.equal(existsSync(dirname(file)), false, "the data folder was created");
      });
    }
  });

  describe("a setting that only fails once used", { concurrency: true }, () => {
    test("REKEY_LISTEN on a port already taken stops serve with one line naming it", async (t) => {
      const taken = createServer();
      await new Promise<void>((listening) => taken.listen(0, "127.0.0.1", listening));
      t.after(() => taken.close());
      const { port } = taken.address() as AddressInfo;
      const file = join(tempDir(t), "rekey.db");
      const run = await rekey(["serve"], {
        env: {
          REKEY_DATABASE_URL: `sqlite:${file}`,
          REKEY_LISTEN: `127.0.0.1:${port}`,
          REKEY_LOG_LEVEL: "warn",
        },
      });
      assertOneLineFailure(run, /^rekey: REKEY_LISTEN: cannot listen there: .*EADDRINUSE/);
    });

    test("REKEY_DATABASE_URL naming a PostgreSQL server that is down stops serve and migrate with one line", async () => {
      const env = {
        REKEY_DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/rekey`,
        REKEY_SECRET_KEY: SECRET,
        REKEY_LISTEN: "127.0.0.1:0",
      };
      const runs = await Promise.all([rekey(["serve"], { env }), rekey(["migrate"], { env })]);
      for (const run of runs)
        assertOneLineFailure(run, /^rekey: REKEY_DATABASE_URL: cannot connect: .*ECONNREFUSED/);
    });

    test("REKEY_DATABASE_URL naming a PostgreSQL database that does not exist stops serve with one line", {
      skip: DIALECTS.includes("postgres") ? false : "REKEY_TEST_POSTGRES_URL is not set",
    }, async () => {
      const url = new URL(POSTGRES_URL!);
      url.pathname = "/rekey_never_created";
      const env = { REKEY_DATABASE_URL: url.href, REKEY_SECRET_KEY: SECRET, REKEY_LISTEN: "127.0.0.1:0" };
      const run = await rekey(["serve"], { env });
      assertOneLineFailure(run, /^rekey: REKEY_DATABASE_URL: cannot connect: database "rekey_never_created"/);
    });

    test("REKEY_DATABASE_URL with a SQLite path below a file stops serve with one line", async (t) => {
      const notAFolder = join(tempDir(t), "file");
      writeFileSync(notAFolder, "");
      const env = {
        REKEY_DATABASE_URL: `sqlite:${join(notAFolder, "rekey.db")}`,
        REKEY_LISTEN: "127.0.0.1:0",
      };
      const run = await rekey(["serve"], { env });
      assertOneLineFailure(run, /^rekey: REKEY_DATABASE_URL: cannot open the SQLite file: /);
    });
  });

  describe("the server secret", { concurrency: true }, () => {
    test("with SQLite and no REKEY_SECRET_KEY, one is generated into the data folder (0600) and reused", async (t) => {
      const database = await freshDatabase(t, "sqlite");
      const secretFile = join(dirname(database.file!), "secret.key");
      const env = { REKEY_DATABASE_URL: database.url, REKEY_BOOTSTRAP_TOKEN: ADMIN_TOKEN };
      const first = await serve(t, env);
      assert.equal(statSync(secretFile).mode & 0o777, 0o600);
      const secret = readFileSync(secretFile, "utf8");
      assert.ok(secret.trim().length >= 32, "a short secret");
      assert.equal((await first.stop()).code, 0);

      const second = await serve(t, env);
      assert.equal(readFileSync(secretFile, "utf8"), secret);
      // The bootstrap token's key is stored encrypted under the secret: reading it back after the
      // restart shows the second start decrypts with the same secret, not just that the file survived.
      const viewed = await fetch(`${second.base}/api/v3/core/tokens/authentik-bootstrap-token/view_key/`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      assert.equal(viewed.status, 200);
      assert.deepEqual(await viewed.json(), { key: ADMIN_TOKEN });
      assert.equal((await second.stop()).code, 0);
    });

    test("with PostgreSQL and no REKEY_SECRET_KEY, serve refuses to start with one line", {
      skip: DIALECTS.includes("postgres") ? false : "REKEY_TEST_POSTGRES_URL is not set",
    }, async () => {
      // A database that does not exist: the setting is checked before any connection is tried.
      const url = new URL(POSTGRES_URL!);
      url.pathname = "/rekey_never_opened";
      const run = await rekey(["serve"], {
        env: { REKEY_DATABASE_URL: url.href, REKEY_LISTEN: "127.0.0.1:0" },
      });
      assertOneLineFailure(run, /^rekey: REKEY_SECRET_KEY: required with PostgreSQL/);
    });
  });

  for (const dialect of DIALECTS) {
    describe(`rekey serve on ${dialect}`, () => {
      test("serves the API, and SIGTERM stops it with exit 0", async (t) => {
        const database = await freshDatabase(t, dialect);
        const server = await serve(t, { REKEY_DATABASE_URL: database.url, REKEY_SECRET_KEY: SECRET });
        const schema = await fetch(`${server.base}/api/v3/schema/`);
        assert.equal(schema.status, 200);
        assert.match(await schema.text(), /^openapi: /m);
        const stopped = await server.stop();
        // The log lines name the step a shutdown that did not finish was stuck in.
        assert.equal(stopped.code, 0, runOutput(stopped));
        await assert.rejects(fetch(`${server.base}/api/v3/schema/`), "still answering after SIGTERM");
      });

      test("two starts with the bootstrap settings leave one admin whose token and password work", async (t) => {
        const database = await freshDatabase(t, dialect);
        const env = {
          REKEY_DATABASE_URL: database.url,
          REKEY_SECRET_KEY: SECRET,
          REKEY_BOOTSTRAP_PASSWORD: "bootstrap password 1",
          REKEY_BOOTSTRAP_TOKEN: ADMIN_TOKEN,
          REKEY_BOOTSTRAP_EMAIL: "admin@example.com",
        };
        for (let start = 1; start <= 2; start++) {
          const server = await serve(t, env);
          const me = await fetch(`${server.base}/api/v3/core/users/me/`, {
            headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          });
          assert.equal(me.status, 200, `start ${start}`);
          const { user } = (await me.json()) as {
            user: { username: string; email: string; is_superuser: boolean };
          };
          assert.deepEqual(
            [user.username, user.email, user.is_superuser],
            ["akadmin", "admin@example.com", true],
          );
          const stopped = await server.stop();
          assert.equal(stopped.code, 0, runOutput(stopped));
        }
        const inspect = await appOn(t, database);
        const users = (await inspect.api("GET", "/api/v3/core/users/?username=akadmin")).json();
        assert.equal(users.pagination.count, 1);
        const groups = (await inspect.api("GET", "/api/v3/core/groups/?name=authentik%20Admins")).json();
        assert.equal(groups.pagination.count, 1);
        assert.deepEqual(groups.results[0].users, [users.results[0].pk]);
        const tokens = (
          await inspect.api("GET", "/api/v3/core/tokens/?identifier=authentik-bootstrap-token")
        ).json();
        assert.equal(tokens.pagination.count, 1);
        const tenant = await inspect.deps.persistence.stores.tenants.defaultTenant();
        const hash = await inspect.deps.persistence.stores.users.passwordHash(tenant.id, users.results[0].pk);
        assert.equal(await verifyPassword(hash!, "bootstrap password 1"), true);
      });
    });
  }
});
