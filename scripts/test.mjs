#!/usr/bin/env node
// `npm test`: every *.test.ts under src/ and test/, through node:test and tsx, on SQLite and on
// PostgreSQL. Without REKEY_TEST_POSTGRES_URL it looks for the local server (127.0.0.1:5432, user
// postgres) and makes a fresh database there; with CI=true a missing PostgreSQL is a failure.
// `--reliability` (`npm run test:reliability`) runs the slow reliability suite instead: every
// *.reliability.ts under test/reliability/, one file at a time (they start real servers, kill them
// and time their recovery, so two files side by side would only slow each other down). Their fast
// variants are ordinary *.test.ts files there and run with everything else.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";

function findTests(dir, suffix) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path, suffix));
    else if (entry.endsWith(suffix)) found.push(path);
  }
  return found;
}

async function localPostgres() {
  const base = "postgres://postgres@127.0.0.1:5432";
  const name = `rekey_test_${process.pid}_${Date.now()}`;
  const client = new pg.Client({ connectionString: `${base}/postgres`, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query(`create database ${name}`);
    await client.end();
    return { url: `${base}/${name}`, name, base };
  } catch (error) {
    await client.end().catch(() => {});
    return { error };
  }
}

async function dropDatabase(base, name) {
  const client = new pg.Client({ connectionString: `${base}/postgres` });
  await client.connect();
  await client.query(`drop database if exists ${name} with (force)`);
  await client.end();
}

const args = process.argv.slice(2);
const reliability = args.includes("--reliability");
const pattern = args.filter((arg) => arg !== "--reliability");
const candidates = reliability
  ? findTests(join("test", "reliability"), ".reliability.ts")
  : findTests("src", ".test.ts").concat(findTests("test", ".test.ts"));
const files = candidates
  .filter((file) => pattern.length === 0 || pattern.some((part) => file.includes(part)))
  .sort();
if (files.length === 0) {
  console.error(`no test file matches ${JSON.stringify(pattern)}`);
  process.exit(1);
}
const env = { ...process.env };
let created = null;
if (env.REKEY_TEST_POSTGRES_URL === undefined) {
  const local = await localPostgres();
  if (local.url !== undefined) {
    env.REKEY_TEST_POSTGRES_URL = local.url;
    created = local;
    console.log(`PostgreSQL tests run on a fresh local database: ${local.name}`);
  } else if (env.CI === "true") {
    console.error(`CI=true and no PostgreSQL is reachable: ${local.error?.message}`);
    process.exit(1);
  } else {
    console.warn(
      "\n*** PostgreSQL is not reachable: PostgreSQL tests are SKIPPED. Set REKEY_TEST_POSTGRES_URL. ***\n",
    );
  }
}

const concurrency = reliability ? 1 : 2;
// A test that never ends (a request nobody answers) would otherwise hold the run until CI's own
// limit, with nothing said about which one. node:test applies the timeout to every test, suite and
// test file alike, so it must exceed the slowest file: about 2.5 minutes in `npm test`
// (test/cli/cli.test.ts), minutes more for a reliability file.
const timeoutMs = (reliability ? 30 : 10) * 60_000;
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, `--test-timeout=${timeoutMs}`, ...files],
  {
    stdio: "inherit",
    env,
  },
);
if (created !== null) {
  await dropDatabase(created.base, created.name).catch((error) =>
    console.warn(`could not drop ${created.name}: ${error.message}`),
  );
}
process.exit(result.status ?? 1);
