import assert from "node:assert/strict";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { sql } from "kysely";
import type { DB } from "../../src/db/database.js";

/**
 * What the fuzzer checks on every answer: no 5xx, the error body in the dialect of the surface that
 * answered, and, for a refused request, a database exactly as it was before.
 */

export type Surface = "authentik" | "kratos" | "pages";

// ---------------------------------------------------------------------------------------------
// The database, write by write

/**
 * Tables a refused request may change, and why. `rate_limit` counts refused attempts on purpose
 * (that is how brute force is slowed down); the migrator's own tables are not Rekey's data.
 */
const MAY_CHANGE_WHEN_REFUSED = new Set(["rate_limit", "kysely_migration", "kysely_migration_lock"]);
/** Append-only: a refusal may append to it, but only failure records; never update or delete. */
const APPEND_ONLY = "event";
/** The audit records a refused request is meant to leave (authentik writes the same ones). */
const FAILURE_ACTIONS = new Set(["login_failed", "recovery_failed", "validation_failed"]);
/**
 * Columns a refused request may still write: a session presented with a request is in use even when
 * the request is refused (Kratos' `session_already_available`), and its idle timeout counts from then.
 */
const ACTIVITY_COLUMNS = ["last_seen_at"];
/**
 * Self-service flows, by the kind of the route that submits to them. Kratos stores the messages of a
 * refused submission on the flow it answers with (and login's `updated_at` with them), and answers a
 * submission to an expired flow, or a recovery that must start again, with ONE new flow of the same
 * kind, named in the answer. Both are part of the refusal, so the counters allow them, and no more.
 */
const FLOW_TABLES: Record<string, string> = {
  login: "login_flow",
  settings: "settings_flow",
  recovery: "recovery_flow",
};
/** Columns of a flow a refusal may rewrite: its messages, and when they changed. */
const MESSAGE_COLUMNS = ["ui_messages", "updated_at"];
/** Test-only: the write counters, one row per table and operation (per action for event inserts). */
const COUNTS = "fuzz_write_count";

/**
 * Reading and hashing every table after every refused request held the run to about 14 requests a
 * second. Instead, triggers installed in the test database only count every committed row write,
 * per table and operation, in COUNTS; a snapshot is one read of that table. The counters are
 * written in the transaction of the write, so a write rolled back is not counted, as it changed
 * nothing. An update that leaves every column but ACTIVITY_COLUMNS (and, on a flow, MESSAGE_COLUMNS)
 * as it was is not counted either.
 */
export interface Snapshot {
  /** `${table} ${operation}` (`event INSERT ${action}` for audit events) → rows written so far. */
  writes: Map<string, number>;
  /** Flow table → the id of the row last inserted into it. */
  inserted: Map<string, string>;
}

function isFlowTable(table: string): boolean {
  return Object.values(FLOW_TABLES).includes(table);
}

/** Columns whose change alone does not count as an update of `table`. */
function ignoredColumns(table: string): string[] {
  return isFlowTable(table) ? [...ACTIVITY_COLUMNS, ...MESSAGE_COLUMNS] : ACTIVITY_COLUMNS;
}

function quoted(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function text(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Installs the counting triggers on every table of the schema, found by introspection so a table
 * added by a later migration is covered too, except those in MAY_CHANGE_WHEN_REFUSED. Returns the
 * tables covered. Test databases only: Rekey's migrations know nothing of it.
 */
export async function installWriteCounters(db: DB): Promise<string[]> {
  const run = (statement: string) => sql.raw(statement).execute(db.kysely);
  const listed =
    db.dialect === "postgres"
      ? await sql<{ name: string }>`select table_name as name from information_schema.tables
          where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db.kysely)
      : await sql<{ name: string }>`select name from sqlite_master
          where type = 'table' and substr(name, 1, 7) <> 'sqlite_'`.execute(db.kysely);
  const tables = listed.rows
    .map((row) => row.name)
    .filter((name) => !MAY_CHANGE_WHEN_REFUSED.has(name) && name !== COUNTS)
    .sort();
  assert.ok(
    ["user", "token", "session", APPEND_ONLY].every((name) => tables.includes(name)),
    `tables: ${tables.join(", ")}`,
  );
  await run(`create table ${COUNTS} (tbl text not null, op text not null, n integer not null,
    last_id text, primary key (tbl, op))`);
  if (db.dialect === "postgres") {
    // Schema-qualified: each test has its own schema, and the app's connections find theirs by
    // search_path, which a trigger run by another connection must not depend on.
    const schema = (await sql<{ schema: string }>`select current_schema() as schema`.execute(db.kysely))
      .rows[0]!.schema;
    const counts = `${quoted(schema)}.${COUNTS}`;
    const count = (op: string) => `insert into ${counts} as c (tbl, op, n) values (TG_TABLE_NAME, ${op}, 1)
        on conflict (tbl, op) do update set n = c.n + 1;`;
    // TG_ARGV: the columns whose change alone is not counted (ignoredColumns).
    await run(`create function ${quoted(schema)}.fuzz_count_write() returns trigger language plpgsql as $$
      begin
        if TG_OP = 'UPDATE' and to_jsonb(OLD) - TG_ARGV = to_jsonb(NEW) - TG_ARGV then
          return null;
        end if;
        ${count("TG_OP")}
        return null;
      end $$`);
    // Flows also keep the id of the row last inserted, for assertUnchanged to look for in the answer.
    await run(`create function ${quoted(schema)}.fuzz_count_flow_insert() returns trigger language plpgsql as $$
      begin
        insert into ${counts} as c (tbl, op, n, last_id) values (TG_TABLE_NAME, TG_OP, 1, NEW.id)
          on conflict (tbl, op) do update set n = c.n + 1, last_id = excluded.last_id;
        return null;
      end $$`);
    // A function of its own: NEW.action only resolves on a table that has that column.
    await run(`create function ${quoted(schema)}.fuzz_count_event() returns trigger language plpgsql as $$
      begin
        ${count("TG_OP || ' ' || NEW.action")}
        return null;
      end $$`);
    for (const table of tables) {
      const target = `${quoted(schema)}.${quoted(table)}`;
      if (table === APPEND_ONLY) {
        await run(`create trigger fuzz_count_insert after insert on ${target}
          for each row execute function ${quoted(schema)}.fuzz_count_event()`);
        await run(`create trigger fuzz_count_write after update or delete on ${target}
          for each row execute function ${quoted(schema)}.fuzz_count_write(${ACTIVITY_COLUMNS.map(text).join(", ")})`);
        continue;
      }
      const ignored = ignoredColumns(table).map(text).join(", ");
      const writes = isFlowTable(table) ? "update or delete" : "insert or update or delete";
      await run(`create trigger fuzz_count_write after ${writes} on ${target}
        for each row execute function ${quoted(schema)}.fuzz_count_write(${ignored})`);
      if (isFlowTable(table)) {
        await run(`create trigger fuzz_count_insert after insert on ${target}
          for each row execute function ${quoted(schema)}.fuzz_count_flow_insert()`);
      }
    }
  } else {
    const count = (
      table: string,
      op: string,
    ) => `insert into ${COUNTS} (tbl, op, n) values (${text(table)}, ${op}, 1)
      on conflict (tbl, op) do update set n = n + 1;`;
    const countFlowInsert = (table: string) => `insert into ${COUNTS} (tbl, op, n, last_id)
      values (${text(table)}, 'INSERT', 1, NEW.id)
      on conflict (tbl, op) do update set n = n + 1, last_id = excluded.last_id;`;
    for (const table of tables) {
      const columns = (
        await sql<{ name: string }>`select name from pragma_table_info(${table})`.execute(db.kysely)
      ).rows
        .map((row) => row.name)
        .filter((name) => !ignoredColumns(table).includes(name));
      assert.ok(columns.length > 0, `columns of ${table}`);
      const changed = columns.map((name) => `OLD.${quoted(name)} IS NOT NEW.${quoted(name)}`).join(" OR ");
      const insert = table === APPEND_ONLY ? `'INSERT ' || NEW.action` : `'INSERT'`;
      await run(`create trigger ${quoted(`fuzz_count_${table}_insert`)} after insert on ${quoted(table)}
        begin ${isFlowTable(table) ? countFlowInsert(table) : count(table, insert)} end`);
      await run(`create trigger ${quoted(`fuzz_count_${table}_update`)} after update on ${quoted(table)}
        when ${changed} begin ${count(table, "'UPDATE'")} end`);
      await run(`create trigger ${quoted(`fuzz_count_${table}_delete`)} after delete on ${quoted(table)}
        begin ${count(table, "'DELETE'")} end`);
    }
  }
  return tables;
}

/** The write counters as they stand: one small read, whatever the size of the database. */
export async function snapshot(db: DB): Promise<Snapshot> {
  const result = await sql<{
    tbl: string;
    op: string;
    n: number | string;
    last_id: string | null;
  }>`select tbl, op, n, last_id from ${sql.table(COUNTS)}`.execute(db.kysely);
  return {
    writes: new Map(result.rows.map((row) => [`${row.tbl} ${row.op}`, Number(row.n)])),
    inserted: new Map(
      result.rows.flatMap((row) => (row.last_id === null ? [] : [[row.tbl, row.last_id] as const])),
    ),
  };
}

/** The refused request and its answer, which a new flow must be named in. */
export interface Refusal {
  url: string;
  body: string;
}

/** The flow table a submission to `url` may add its one replacement flow to, and the flow submitted. */
function flowSubmission(url: string): { table: string; submitted: string | null } | null {
  let parsed: URL;
  try {
    parsed = new URL(url, "http://rekey.test");
  } catch {
    return null;
  }
  const kind = /^\/self-service\/(login|settings|recovery)$/.exec(parsed.pathname)?.[1];
  return kind === undefined
    ? null
    : { table: FLOW_TABLES[kind]!, submitted: parsed.searchParams.get("flow") };
}

/**
 * Whether a refusal's writes of `key` (×`delta`) are the one replacement flow Kratos answers with:
 * one row, into the flow table of the route, its id in the answer and not the id submitted.
 */
function isReplacementFlow(
  key: string,
  delta: number,
  after: Snapshot,
  refusal: Refusal | undefined,
): boolean {
  if (refusal === undefined || delta !== 1) return false;
  const route = flowSubmission(refusal.url);
  if (route === null || key !== `${route.table} INSERT`) return false;
  const id = after.inserted.get(route.table);
  return id !== undefined && id !== route.submitted && refusal.body.includes(id);
}

/**
 * Fails naming every table a refused request wrote and how (`user UPDATE ×1`). Rows appended to
 * the audit log are allowed when they record a failure, and one new flow when `refusal` (the
 * request's URL and the answer's body) shows it is the replacement its route answers with.
 */
export function assertUnchanged(before: Snapshot, after: Snapshot, label: string, refusal?: Refusal): void {
  const written: string[] = [];
  for (const [key, n] of after.writes) {
    const delta = n - (before.writes.get(key) ?? 0);
    if (delta === 0) continue;
    const [table, op, action] = key.split(" ");
    if (table === APPEND_ONLY && op === "INSERT" && FAILURE_ACTIONS.has(action ?? "")) continue;
    if (isReplacementFlow(key, delta, after, refusal)) continue;
    written.push(`${key} ×${delta}`);
  }
  // A counter only goes down when a write to it was rolled back past a snapshot: never, here.
  for (const key of before.writes.keys()) {
    if (!after.writes.has(key)) written.push(`${key} (counter gone)`);
  }
  assert.deepEqual(written, [], `a refused request wrote ${written.join(", ")}: ${label}`);
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
