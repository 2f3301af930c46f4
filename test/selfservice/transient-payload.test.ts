import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { sql } from "kysely";
import { type MailContent, openMailContent } from "../../src/mail/outbox.js";
import type { TestApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  createIdentity,
  csrfOf,
  fetchFlow,
  harness,
  KratosClient,
  startRecovery,
  submitEmail,
} from "./helpers.js";

/** Every row of every table, as text, plus (on SQLite) every byte of the database files. */
async function everythingStored(rekey: TestApp): Promise<string> {
  const db = rekey.database.db;
  if (db.dialect === "sqlite") {
    const folder = dirname(rekey.database.file!);
    return readdirSync(folder)
      .map((name) => readFileSync(join(folder, name)).toString("latin1"))
      .join("\n");
  }
  const tables = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db.kysely);
  const dumps: string[] = [];
  for (const { name } of tables.rows) {
    const rows = await sql<{
      row: string;
    }>`select row_to_json(t)::text as row from ${sql.table(name)} t`.execute(db.kysely);
    dumps.push(...rows.rows.map((row) => row.row));
  }
  return dumps.join("\n");
}

/** The queued (not yet sent) messages' contents, opened with the server secret. */
async function queuedContents(rekey: TestApp): Promise<MailContent[]> {
  const rows = await sql<{ content_sealed: string | null; content_secret_index: number | null }>`
    select content_sealed, content_secret_index from mail_message order by created_at`.execute(
    rekey.database.db.kysely,
  );
  const contents: MailContent[] = [];
  for (const row of rows.rows) {
    const content = openMailContent(rekey.deps, row.content_sealed, row.content_secret_index);
    if (content !== null) contents.push(content);
  }
  return contents;
}

/** A payload a client might send, with a marker no other value in the database could contain. */
function aPayload(): { payload: Record<string, unknown>; marker: string } {
  const marker = `tp-marker-${randomBytes(12).toString("hex")}`;
  return { payload: { campaign: "spring", nested: { api_key: marker }, list: [1, 2] }, marker };
}

for (const dialect of DIALECTS) {
  describe(`transient_payload of a recovery submission on ${dialect}`, () => {
    test("reaches the recovery_code_valid template data, sealed, and is never stored in clear", async (t) => {
      const h = await harness(t, dialect);
      const jane = await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const client = new KratosClient(h.rekey, "api");
      const flow = await startRecovery(client);
      const { payload, marker } = aPayload();
      const response = await submitEmail(client, flow, "jane@example.com", { transient_payload: payload });
      assert.equal(response.statusCode, 200, response.body);
      // Copied to the flow the submission answers with…
      assert.deepEqual(response.json().transient_payload, payload);

      // …and to the mail's template data, inside the sealed content of the queued message.
      const [queued, ...others] = await queuedContents(h.rekey);
      assert.equal(others.length, 0);
      const data = queued!.templateData!;
      assert.deepEqual(Object.keys(data), [
        "to",
        "recovery_code",
        "identity",
        "request_url",
        "transient_payload",
        "expires_in_minutes",
      ]);
      assert.deepEqual(data["transient_payload"], payload);
      assert.equal(data["to"], "jane@example.com");
      assert.deepEqual(data["identity"], {
        id: jane.uuid,
        traits: { email: "jane@example.com", name: "jane" },
      });
      assert.equal(data["request_url"], flow.request_url);
      assert.equal(data["expires_in_minutes"], 60);
      assert.ok(!(await everythingStored(h.rekey)).includes(marker), "the payload is stored in clear");

      // The mail goes out through real SMTP with the code the template data names; the payload is
      // data for templates, not text of Rekey's own, so the mail does not show it.
      const code = await h.codeFor("jane@example.com");
      assert.equal(data["recovery_code"], code);
      const [mail] = h.smtp.received;
      assert.match(mail!.parsed.subject ?? "", /^Use code \d{6} to recover access to your account$/);
      assert.ok(!(mail!.parsed.text ?? "").includes(marker));

      // Sent: the sealed content, template data included, is erased; the flow never kept the payload.
      assert.deepEqual(await queuedContents(h.rekey), []);
      assert.equal((await fetchFlow(client, "recovery", flow.id)).transient_payload, undefined);
      assert.ok(!(await everythingStored(h.rekey)).includes(marker), "the payload is stored in clear");
    });

    test("reaches the recovery_code_invalid template data of an unknown address", async (t) => {
      const h = await harness(t, dialect, { env: { REKEY_RECOVERY_NOTIFY_UNKNOWN_RECIPIENTS: "true" } });
      const client = new KratosClient(h.rekey, "api");
      const flow = await startRecovery(client);
      const { payload, marker } = aPayload();
      const response = await submitEmail(client, flow, "nobody@example.com", { transient_payload: payload });
      assert.equal(response.statusCode, 200, response.body);
      const [queued] = await queuedContents(h.rekey);
      assert.deepEqual(queued!.templateData, {
        to: "nobody@example.com",
        request_url: flow.request_url,
        transient_payload: payload,
      });
      assert.ok(!(await everythingStored(h.rekey)).includes(marker), "the payload is stored in clear");
      const [mail] = await h.mails();
      assert.equal(mail!.parsed.subject, "Account access attempted");
      assert.deepEqual(mail!.envelope.to, ["nobody@example.com"]);
    });

    test("a browser form's dotted transient_payload keys reach the template data; a resend carries its own", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const browser = new KratosClient(h.rekey, "browser");
      const flow = await startRecovery(browser);
      const first = await browser.submit(flow.ui.action, {
        method: "code",
        email: "jane@example.com",
        csrf_token: csrfOf(flow),
        "transient_payload.campaign": "autumn",
      });
      assert.equal(first.statusCode, 303, first.body);
      const [queued] = await queuedContents(h.rekey);
      assert.deepEqual(queued!.templateData!["transient_payload"], { campaign: "autumn" });
      await h.mails();
      // The flow the UI fetches has no payload: it lived for its submission only.
      const shown = await fetchFlow(browser, "recovery", flow.id);
      assert.equal(shown.transient_payload, undefined);
      const resend = await browser.submit(shown.ui.action, {
        method: "code",
        email: "jane@example.com",
        csrf_token: csrfOf(shown),
      });
      assert.equal(resend.statusCode, 303, resend.body);
      const [again] = await queuedContents(h.rekey);
      assert.equal(again!.templateData!["transient_payload"], null);
    });
  });
}
