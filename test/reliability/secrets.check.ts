import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import type { TestContext } from "node:test";
import { sql } from "kysely";
import { ADMIN_TOKEN, SECRET, TENANTS_KEY } from "../support/app.js";
import { runScenario, startSecretsHarness } from "./secrets.scenario.js";

/**
 * Secrets at rest and in the logs, for every kind at once: after the scenario, neither the SQLite
 * file, its WAL, nor any log line holds a secret in clear or in a usual encoding of it.
 */

/** The base64 and base64url text that depends on `bytes` alone, at each of the three alignments. */
function base64Cores(bytes: Buffer): string[] {
  const spellings: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString("base64");
    const core = encoded.slice(Math.ceil((8 * shift) / 6), Math.floor((8 * (shift + bytes.length)) / 6));
    spellings.push(core, core.replaceAll("+", "-").replaceAll("/", "_"));
  }
  return spellings;
}

/** The ways a secret could sit in a file or a log line: as is, URL-encoded, base64, hex. */
function spellings(secret: string | Buffer): Buffer[] {
  const bytes = typeof secret === "string" ? Buffer.from(secret, "utf8") : secret;
  const forms = [...base64Cores(bytes), bytes.toString("hex"), bytes.toString("hex").toUpperCase()];
  if (typeof secret === "string") forms.push(secret, encodeURIComponent(secret));
  const encoded: Buffer[] = [...new Set(forms)].map((form) => Buffer.from(form, "utf8"));
  if (typeof secret !== "string") encoded.push(Buffer.from(bytes));
  return encoded;
}

function databaseFiles(file: string): { name: string; bytes: Buffer }[] {
  return [file, `${file}-wal`, `${file}-journal`]
    .filter((path) => existsSync(path))
    .map((path) => ({ name: path, bytes: readFileSync(path) }));
}

export async function checkSecrets(t: TestContext, rounds: number): Promise<void> {
  const harness = await startSecretsHarness(t);
  const secrets = new Map<string, string>([
    ["bootstrap token", ADMIN_TOKEN],
    ["bootstrap password", "bootstrap-password-1"],
    ["server secret", SECRET],
    ["tenants API key", TENANTS_KEY],
  ]);
  const raw = new Map<string, Buffer>();
  for (let round = 0; round < rounds; round++) await runScenario(harness, round, secrets, raw);
  const file = harness.rekey.database.file!;
  const scan = (where: string, haystacks: { name: string; bytes: Buffer }[]) => {
    const found: string[] = [];
    for (const [label, secret] of [...secrets, ...raw]) {
      // Six-digit codes turn up by chance in any large file; they are looked for in the logs only.
      if (typeof secret === "string" && /^\d{1,8}$/.test(secret) && where === "database") continue;
      for (const form of spellings(secret)) {
        for (const { name, bytes } of haystacks) {
          if (form.length >= 6 && bytes.includes(form))
            found.push(`${label} as "${form.toString().slice(0, 40)}" in ${name}`);
        }
      }
    }
    return found;
  };
  assert.ok(harness.log.length > 40, `the server logged (${harness.log.length} lines)`);
  const kinds = [
    ...new Set([...secrets.keys()].map((label) => label.replace(/ \(round \d+\)$/, "").replace(/ \d+$/, ""))),
  ];
  t.diagnostic(
    `${secrets.size + raw.size} secrets of ${kinds.length} kinds; ${harness.log.length} log lines`,
  );
  // The scanner finds a secret where one is: a planted line fails the scan.
  const planted = JSON.stringify({
    msg: "control",
    value: Buffer.from(secrets.get("server secret")!).toString("base64"),
  });
  assert.notDeepEqual(scan("logs", [{ name: "a planted line", bytes: Buffer.from(planted) }]), []);
  const inLogs = scan("logs", [{ name: "the log", bytes: Buffer.from(harness.log.join("")) }]);
  await harness.rekey.app.close();
  const onDisk = scan("database", databaseFiles(file));
  // Once more after the WAL is folded into the main file.
  await sql`pragma wal_checkpoint(TRUNCATE)`.execute(harness.rekey.database.db.kysely);
  const afterCheckpoint = scan("database", databaseFiles(file));
  assert.deepEqual([...inLogs, ...onDisk, ...afterCheckpoint], []);
}
