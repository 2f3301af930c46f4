import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { buildApp } from "../../src/app.js";
import { openDeps } from "../../src/boot.js";
import { loadConfig } from "../../src/config.js";
import { SECRET } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  createIdentity,
  defaultTenantId,
  harness,
  KratosClient,
  startRecovery,
  submitEmail,
} from "./helpers.js";

/** Every byte of the SQLite database, its WAL included, as text a secret could be found in. */
function sqliteBytes(file: string): string {
  const folder = dirname(file);
  return readdirSync(folder)
    .map((name) => readFileSync(join(folder, name)).toString("latin1"))
    .join("\n");
}

describe("recovery secrets at rest on sqlite", () => {
  test("no code or link token is stored in clear, before or after its mail was sent", async (t) => {
    const codes = await harness(t, "sqlite", { env: { REKEY_RECOVERY_CODE_LENGTH: "12" } });
    await createIdentity(codes.rekey, "jane", { email: "jane@example.com" });
    const client = new KratosClient(codes.rekey, "api");
    const flow = await startRecovery(client);
    await submitEmail(client, flow, "jane@example.com");
    const code = await codes.codeFor("jane@example.com");
    assert.match(code, /^\d{12}$/);
    const stored = await codes.rekey.deps.persistence.stores.selfServiceRecovery.listRecoveryCodes(
      await defaultTenantId(codes.rekey),
      flow.id,
    );
    assert.equal(stored.length, 1);
    assert.match(stored[0]!.secretHMAC, /^[0-9a-f]{64}$/);
    assert.equal(stored[0]!.secretHMAC, codes.rekey.deps.codeHMAC.digest(code));
    assert.ok(!sqliteBytes(codes.rekey.database.file!).includes(code), "the code is in the database file");

    const links = await harness(t, "sqlite", { env: { REKEY_RECOVERY_USE: "link" } });
    await createIdentity(links.rekey, "jane", { email: "jane@example.com" });
    const linkClient = new KratosClient(links.rekey, "api");
    const linkFlow = await startRecovery(linkClient);
    await linkClient.submit(linkFlow.ui.action, { method: "link", email: "jane@example.com" });
    const mails = await links.mails();
    const token = /token=([A-Za-z0-9]{32})/.exec(mails[0]!.parsed.text ?? "")![1]!;
    assert.ok(
      !sqliteBytes(links.rekey.database.file!).includes(token),
      "the link token is in the database file",
    );
  });
});

for (const dialect of DIALECTS) {
  describe(`recovery secrets under a rotated REKEY_SECRET_KEY on ${dialect}`, () => {
    test("a code issued before the rotation (new secret first, old second) still works", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const client = new KratosClient(h.rekey, "api");
      const flow = await startRecovery(client);
      await submitEmail(client, flow, "jane@example.com");
      const code = await h.codeFor("jane@example.com");
      const config = loadConfig({
        REKEY_DATABASE_URL: h.rekey.database.url,
        REKEY_SECRET_KEY: `rotated-secret-0123456789abcdef,${SECRET}`,
      });
      const rotated = await buildApp(await openDeps(config, { db: h.rekey.database.db }));
      t.after(() => rotated.close());
      const response = await rotated.inject({
        method: "POST",
        url: `/self-service/recovery?flow=${flow.id}`,
        headers: { "content-type": "application/json", accept: "application/json" },
        payload: JSON.stringify({ method: "code", code }),
      });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json().state, "passed_challenge");
    });
  });
}
