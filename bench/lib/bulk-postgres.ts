// PostgreSQL side of the bulk loader: INSERT … SELECT FROM unnest($arrays) statements of BATCH rows
// (one round trip and one plan per batch, no extra dependency such as pg-copy-streams), the next
// batch built in Node while PostgreSQL writes the last. The token table's keys and indexes are taken
// off for the load and put back, each exactly as the migrations made it (pg_get_constraintdef,
// pg_indexes), because one sorted build beats ten million random inserts into six B-trees.
import pg from "pg";
import {
  type BulkReport,
  groupCount,
  type LoadContext,
  membershipsOf,
  tokenColumns,
  userColumns,
  loadReport,
} from "./bulk.js";

const BATCH = 10_000;

const INSERT_USERS = `
insert into "user" (id, tenant_id, uuid, username, name, email, email_verified, is_active, last_login,
  date_joined, password_hash, password_change_date, last_updated, attributes, path, type,
  state_changed_at, email_verified_at, metadata_public, metadata_admin)
select u.id, $1, u.uuid, u.username, u.name, u.email, 0, 1, null, $2, $3, $2, $2, '{}', 'users',
  'internal', null, null, null, null
from unnest($4::int[], $5::text[], $6::text[], $7::text[], $8::text[]) as u(id, uuid, username, name, email)`;

const INSERT_TOKENS = `
insert into token (id, tenant_id, identifier, managed, intent, user_id, description, expires, expiring,
  key_hash, key_sealed, key_secret_index, owner_may_view, created_at, recovery_origin, allow_mfa_reset,
  email_stage_id)
select t.id, $1, t.identifier, null, t.intent, t.user_id, '', null, 0, t.key_hash, t.key_sealed, 0, 0,
  $2, null, 0, null
from unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[])
  as t(id, identifier, intent, user_id, key_hash, key_sealed)`;

interface Definition {
  name: string;
  /** The statement that puts it back. */
  create: string;
  drop: string;
}

/** The token table's primary key, unique and foreign keys, then its plain indexes, in creation order. */
async function tokenDefinitions(client: pg.Client): Promise<Definition[]> {
  const constraints = await client.query<{ conname: string; def: string; contype: string }>(
    `select conname, pg_get_constraintdef(oid) as def, contype from pg_constraint
     where conrelid = 'token'::regclass and contype in ('p', 'u', 'f')
     order by case contype when 'p' then 0 when 'u' then 1 else 2 end, conname`,
  );
  const names = new Set(constraints.rows.map((row) => row.conname));
  const indexes = await client.query<{ indexname: string; indexdef: string }>(
    `select indexname, indexdef from pg_indexes
     where schemaname = current_schema() and tablename = 'token' order by indexname`,
  );
  return [
    ...constraints.rows.map((row) => ({
      name: row.conname,
      create: `alter table token add constraint "${row.conname}" ${row.def}`,
      drop: `alter table token drop constraint "${row.conname}"`,
    })),
    ...indexes.rows
      .filter((row) => !names.has(row.indexname))
      .map((row) => ({ name: row.indexname, create: row.indexdef, drop: `drop index "${row.indexname}"` })),
  ];
}

async function insertGroups(client: pg.Client, context: LoadContext, tenantId: string): Promise<number[]> {
  const count = groupCount(context.plan.users);
  const names = Array.from({ length: count }, (_, i) => `scale-group-${i}`);
  const uuids = names.map(() => context.deps.random.uuid());
  const rows = await client.query<{ id: number; name: string }>(
    `insert into "group" (uuid, tenant_id, name, is_superuser, attributes)
     select g.uuid, $1, g.name, 0, '{}' from unnest($2::text[], $3::text[]) as g(uuid, name)
     returning id, name`,
    [tenantId, uuids, names],
  );
  const byName = new Map(rows.rows.map((row) => [row.name, row.id]));
  return names.map((name) => byName.get(name)!);
}

/** Users with ids drawn from the table's own sequence, as `serial` would give them; their memberships. */
async function insertUsers(
  client: pg.Client,
  context: LoadContext,
  tenantId: string,
  groupIds: number[],
): Promise<{ userIds: Int32Array; memberships: number }> {
  const { users } = context.plan;
  const userIds = new Int32Array(users);
  let memberships = 0;
  for (let from = 0; from < users; from += BATCH) {
    const count = Math.min(BATCH, users - from);
    const ids = await client.query<{ id: number }>(
      `select nextval(pg_get_serial_sequence('"user"', 'id'))::int as id from generate_series(1, $1)`,
      [count],
    );
    const idList = ids.rows.map((row) => row.id);
    idList.forEach((id, i) => {
      userIds[from + i] = id;
    });
    const columns = userColumns(context.deps.random, from, count);
    await client.query(INSERT_USERS, [
      tenantId,
      context.at,
      context.passwordHash,
      idList,
      columns.uuid,
      columns.username,
      columns.name,
      columns.email,
    ]);
    const memberGroups: number[] = [];
    const memberUsers: number[] = [];
    for (let i = 0; i < count; i++) {
      for (const groupId of membershipsOf(from + i, groupIds)) {
        memberGroups.push(groupId);
        memberUsers.push(idList[i]!);
      }
    }
    await client.query(
      "insert into group_member (group_id, user_id) select * from unnest($1::int[], $2::int[])",
      [memberGroups, memberUsers],
    );
    memberships += memberGroups.length;
    if ((from / BATCH) % 20 === 19) context.plan.progress(`users: ${from + count} of ${users}`);
  }
  return { userIds, memberships };
}

async function insertTokens(
  client: pg.Client,
  context: LoadContext,
  tenantId: string,
  userIds: Int32Array,
): Promise<void> {
  const { tokens } = context.plan;
  const users = { count: userIds.length, idOf: (index: number) => userIds[index]! };
  const sampling = { stride: context.stride, samples: context.samples, limit: context.plan.sampleKeys };
  const started = performance.now();
  let pending: Promise<unknown> | null = null;
  for (let from = 0; from < tokens; from += BATCH) {
    const count = Math.min(BATCH, tokens - from);
    // Built while PostgreSQL still writes the previous batch: Node's crypto and the server overlap.
    const c = tokenColumns(context.deps, from, count, users, sampling);
    if (pending !== null) await pending;
    pending = client.query(INSERT_TOKENS, [
      tenantId,
      context.at,
      c.id,
      c.identifier,
      c.intent,
      c.userId,
      c.keyHash,
      c.keySealed,
    ]);
    if ((from / BATCH) % 50 === 49) {
      const rate = (from + count) / ((performance.now() - started) / 1000);
      context.plan.progress(`tokens: ${from + count} of ${tokens} (${rate.toFixed(0)}/s)`);
    }
  }
  if (pending !== null) await pending;
}

export async function loadPostgres(url: string, context: LoadContext): Promise<BulkReport> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const started = performance.now();
  try {
    // This session only: a lost last commit after an OS crash costs a rerun, not data anyone kept.
    await client.query("set synchronous_commit = off");
    await client.query("set maintenance_work_mem = '512MB'");
    const tenant = await client.query<{ id: string }>("select id from tenant where schema_name = 'public'");
    const tenantId = tenant.rows[0]!.id;
    const groupIds = await insertGroups(client, context, tenantId);
    const { userIds, memberships } = await insertUsers(client, context, tenantId, groupIds);
    const usersDone = performance.now();
    context.plan.progress(`users: ${context.plan.users} in ${((usersDone - started) / 1000).toFixed(1)} s`);

    const definitions = await tokenDefinitions(client);
    for (const definition of [...definitions].reverse()) await client.query(definition.drop);
    await insertTokens(client, context, tenantId, userIds);
    const tokensDone = performance.now();
    context.plan.progress(
      `tokens: ${context.plan.tokens} in ${((tokensDone - usersDone) / 1000).toFixed(1)} s`,
    );
    for (const definition of definitions) {
      const at = performance.now();
      await client.query(definition.create);
      context.plan.progress(
        `  ${definition.name} rebuilt in ${((performance.now() - at) / 1000).toFixed(1)} s`,
      );
    }
    // What autovacuum would do soon after such an import; the planner needs the row counts.
    await client.query('analyze "user", group_member, "group", token');
    const done = performance.now();
    return loadReport(
      context,
      { users: context.plan.users, tokens: context.plan.tokens, groups: groupIds.length, memberships },
      { started, usersDone, tokensDone, done },
    );
  } finally {
    await client.end();
  }
}
