import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { sql } from "kysely";
import type { DB } from "../../src/db/database.js";

/**
 * What the fuzzer checks on every answer: no 5xx, the error body in the dialect of the surface that
 * answered, and, for a refused request, a database exactly as it was before.
 */

export type Surface = "authentik" | "kratos" | "pages";

// ---------------------------------------------------------------------------------------------
// The database, table by table

/**
 * Tables a refused request may change, and why. `rate_limit` counts refused attempts on purpose
 * (that is how brute force is slowed down); the migrator's own tables are not Rekey's data.
 */
const MAY_CHANGE_WHEN_REFUSED = new Set(["rate_limit", "kysely_migration", "kysely_migration_lock"]);
/** Append-only: compared by row count; rows a refusal appends must be failure records. */
const APPEND_ONLY = "event";
/** The audit records a refused request is meant to leave (authentik writes the same ones). */
const FAILURE_ACTIONS = new Set(["login_failed", "recovery_failed", "validation_failed"]);

export interface Snapshot {
  /** Per table: row count and a SHA-256 over the sorted rows. */
  digests: Map<string, string>;
  /** The sorted rows, to name what changed in a failure message. */
  rows: Map<string, string[]>;
  events: number;
}

let tableNames: string[] | null = null;

async function tablesOf(db: DB): Promise<string[]> {
  if (tableNames === null) {
    const tables = await db.kysely.introspection.getTables();
    tableNames = tables
      .map((table) => table.name)
      .filter((name) => !MAY_CHANGE_WHEN_REFUSED.has(name) && name !== APPEND_ONLY)
      .sort();
    // The list comes from the schema, so a table added by a later migration is covered too.
    assert.ok(
      tableNames.includes("user") && tableNames.includes("token"),
      `tables: ${tableNames.join(", ")}`,
    );
  }
  return tableNames;
}

/**
 * Columns a refused request may still write: a session presented with a request is in use even when
 * the request is refused (Kratos' `session_already_available`), and its idle timeout counts from then.
 */
const ACTIVITY_COLUMNS = new Set(["last_seen_at"]);

function rowText(row: unknown): string {
  return JSON.stringify(row, (key, value) =>
    ACTIVITY_COLUMNS.has(key) ? undefined : typeof value === "bigint" ? value.toString() : value,
  );
}

export async function snapshot(db: DB): Promise<Snapshot> {
  const digests = new Map<string, string>();
  const rows = new Map<string, string[]>();
  const tables = await tablesOf(db);
  if (db.dialect === "postgres") {
    // One round trip, hashed in the database: per-table queries made the PostgreSQL run 3× slower.
    // Rows are not brought back, so a failure names the table only.
    const parts = tables.map((table) => {
      const row = sql`(to_jsonb(x) - ${sql.lit([...ACTIVITY_COLUMNS][0])})::text`;
      return sql`select ${table} as name, count(*)::text || ':' || coalesce(md5(string_agg(${row}, '|' order by ${row})), '') as digest from ${sql.table(table)} x`;
    });
    const result = await sql<{ name: string; digest: string }>`${sql.join(parts, sql` union all `)}`.execute(
      db.kysely,
    );
    for (const { name, digest } of result.rows) digests.set(name, digest);
  } else {
    for (const table of tables) {
      const result = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db.kysely);
      const texts = result.rows.map(rowText).sort();
      digests.set(table, `${texts.length}:${createHash("sha256").update(texts.join("\n")).digest("hex")}`);
      rows.set(table, texts);
    }
  }
  const counted = await sql<{
    rows: number | string;
  }>`select count(*) as rows from ${sql.table(APPEND_ONLY)}`.execute(db.kysely);
  return { digests, rows, events: Number(counted.rows[0]!.rows) };
}

/** Fails naming the first table a refused request changed, with the rows that came and went. */
export async function assertUnchanged(
  db: DB,
  before: Snapshot,
  after: Snapshot,
  label: string,
): Promise<void> {
  for (const [table, digest] of before.digests) {
    if (after.digests.get(table) === digest) continue;
    const old = new Set(before.rows.get(table));
    const now = new Set(after.rows.get(table));
    const gone = [...old].filter((row) => !now.has(row)).slice(0, 3);
    const added = [...now].filter((row) => !old.has(row)).slice(0, 3);
    assert.fail(
      `a refused request changed table "${table}" (gone: ${gone.join(" | ")}; added: ${added.join(" | ")}): ${label}`,
    );
  }
  const appended = after.events - before.events;
  assert.ok(appended >= 0, `a refused request deleted audit events: ${label}`);
  if (appended > 0) {
    const latest = await sql<{
      action: string;
    }>`select action from ${sql.table(APPEND_ONLY)} order by created desc, id desc limit ${appended}`.execute(
      db.kysely,
    );
    const actions = latest.rows.map((row) => row.action);
    assert.ok(
      actions.every((action) => FAILURE_ACTIONS.has(action)),
      `a refused request recorded ${actions.join(", ")}: ${label}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Error bodies, per dialect

function jsonBody(response: LightMyRequestResponse, label: string): unknown {
  assert.match(String(response.headers["content-type"]), /^application\/json/, `error media type: ${label}`);
  return JSON.parse(response.body);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** authentik: `{detail}` (and nothing else) or field errors, each a non-empty list of strings. */
export function assertAuthentikError(response: LightMyRequestResponse, label: string): void {
  // Documented exception (authentik-v3.md §2.4): the tenants actions answer some 404s with no body.
  if (response.body === "" && response.statusCode === 404 && /\/tenants\/tenants\/[^/]+\/create_/.test(label))
    return;
  const body = jsonBody(response, label);
  assert.ok(isObject(body) && Object.keys(body).length > 0, `error body is a non-empty object: ${label}`);
  if ("detail" in body) {
    assert.equal(typeof body["detail"], "string", `detail is a string: ${label}`);
    assert.deepEqual(
      Object.keys(body).filter((key) => key !== "detail" && key !== "code"),
      [],
      `a detail body has no other key: ${label}`,
    );
    return;
  }
  for (const [field, messages] of Object.entries(body)) {
    // Documented exception (authentik-v3.md §2.4): the users recovery actions send a bare string.
    if (field === "non_field_errors" && typeof messages === "string" && /\/recovery(_email)?\//.test(label))
      continue;
    assert.ok(
      Array.isArray(messages) &&
        messages.length > 0 &&
        messages.every((m) => typeof m === "string" || isObject(m)),
      `"${field}" is a list of messages: ${label}`,
    );
  }
}

/** Kratos: herodot's `{error: {code, status, message}}` with code = status, or a flow with its messages. */
export function assertKratosError(response: LightMyRequestResponse, label: string): void {
  const type = String(response.headers["content-type"] ?? "");
  if (type.startsWith("text/html")) {
    assert.match(response.body, /<html/i, `an HTML error is a page: ${label}`);
    return;
  }
  const body = jsonBody(response, label);
  assert.ok(isObject(body), `error body is an object: ${label}`);
  if (isObject(body["error"])) {
    const error = body["error"];
    assert.equal(error["code"], response.statusCode, `error.code is the status: ${label}`);
    assert.equal(typeof error["status"], "string", `error.status: ${label}`);
    assert.equal(typeof error["message"], "string", `error.message: ${label}`);
    return;
  }
  // A flow answered with its form again (400): the messages sit on the flow or its nodes.
  assert.equal(typeof body["id"], "string", `a flow answer has an id: ${label}`);
  assert.ok(
    isObject(body["ui"]) && Array.isArray(body["ui"]["nodes"]),
    `a flow answer has ui nodes: ${label}`,
  );
}

/** Pages: an HTML page, except the app's JSON 404 for a path no page route matches. */
export function assertPageError(response: LightMyRequestResponse, label: string): void {
  const type = String(response.headers["content-type"] ?? "");
  if (response.statusCode === 404 && type.startsWith("application/json")) {
    assertKratosError(response, label);
    return;
  }
  assert.match(type, /^text\/html/, `a page error is HTML: ${label}`);
  assert.match(response.body, /<html/i, `a page error is a page: ${label}`);
}

const CHECKS: Record<Surface, (response: LightMyRequestResponse, label: string) => void> = {
  authentik: assertAuthentikError,
  kratos: assertKratosError,
  pages: assertPageError,
};

export function describeExchange(request: InjectOptions, response: LightMyRequestResponse): string {
  const payload = typeof request.payload === "string" ? request.payload.slice(0, 300) : "";
  return `${request.method} ${request.url} ${JSON.stringify(request.headers)} ${payload} → ${response.statusCode} ${response.body.slice(0, 300)}`;
}

/** No 5xx; a 4xx in the dialect's shape. Returns whether the request was refused. */
export function checkAnswer(
  surface: Surface,
  request: InjectOptions,
  response: LightMyRequestResponse,
): boolean {
  const label = describeExchange(request, response);
  assert.ok(response.statusCode < 500, `a server error: ${label}`);
  if (response.statusCode < 400) return false;
  // HEAD answers carry no body to judge.
  if (request.method !== "HEAD") CHECKS[surface](response, label);
  return true;
}
