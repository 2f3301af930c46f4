// SQLite side of the bulk loader: one prepared INSERT run per row inside transactions of BATCH rows,
// which is how better-sqlite3 inserts fastest (no SQL text to build, one fsync per transaction). The
// indexes stay: SQLite cannot drop the UNIQUE constraints the migrations declare inline.
import SQLite from "better-sqlite3";
import { registerFunctions, sqlitePath } from "../../src/db/database.js";
import {
  type BulkReport,
  groupCount,
  type LoadContext,
  membershipsOf,
  tokenColumns,
  userColumns,
  loadReport,
} from "./bulk.js";

const BATCH = 50_000;

export async function loadSQLite(url: string, context: LoadContext): Promise<BulkReport> {
  const sqlite = new SQLite(sqlitePath(url));
  registerFunctions(sqlite); // the lower() the case-insensitive indexes are built with
  const { users, tokens } = context.plan;
  const started = performance.now();
  try {
    sqlite.pragma("journal_mode = WAL");
    // This connection only: a crash mid-load costs a rerun, not data anyone kept.
    sqlite.pragma("synchronous = OFF");
    sqlite.pragma("foreign_keys = ON");
    const tenantId = (
      sqlite.prepare("select id from tenant where schema_name = 'public'").get() as { id: string }
    ).id;
    const insertGroup = sqlite.prepare(
      `insert into "group" (uuid, tenant_id, name, is_superuser, attributes) values (?, ?, ?, 0, '{}')`,
    );
    const groupIds = sqlite.transaction(() =>
      Array.from({ length: groupCount(users) }, (_, i) =>
        Number(insertGroup.run(context.deps.random.uuid(), tenantId, `scale-group-${i}`).lastInsertRowid),
      ),
    )();

    // Explicit ids continuing the table's own: AUTOINCREMENT's sqlite_sequence follows the largest.
    const firstId = (
      sqlite.prepare(`select coalesce(max(id), 0) + 1 as id from "user"`).get() as { id: number }
    ).id;
    const insertUser = sqlite.prepare(
      `insert into "user" (id, tenant_id, uuid, username, name, email, email_verified, is_active, last_login,
        date_joined, password_hash, password_change_date, last_updated, attributes, path, type,
        state_changed_at, email_verified_at, metadata_public, metadata_admin)
       values (?, ?, ?, ?, ?, ?, 0, 1, null, ?, ?, ?, ?, '{}', 'users', 'internal', null, null, null, null)`,
    );
    const insertMember = sqlite.prepare("insert into group_member (group_id, user_id) values (?, ?)");
    let memberships = 0;
    for (let from = 0; from < users; from += BATCH) {
      const count = Math.min(BATCH, users - from);
      const c = userColumns(context.deps.random, from, count);
      sqlite.transaction(() => {
        for (let i = 0; i < count; i++) {
          const id = firstId + from + i;
          const at = context.at;
          insertUser.run(
            id,
            tenantId,
            c.uuid[i],
            c.username[i],
            c.name[i],
            c.email[i],
            at,
            context.passwordHash,
            at,
            at,
          );
          for (const groupId of membershipsOf(from + i, groupIds)) {
            insertMember.run(groupId, id);
            memberships += 1;
          }
        }
      })();
    }
    const usersDone = performance.now();
    context.plan.progress(`users: ${users} in ${((usersDone - started) / 1000).toFixed(1)} s`);

    const insertToken = sqlite.prepare(
      `insert into token (id, tenant_id, identifier, managed, intent, user_id, description, expires, expiring,
        key_hash, key_sealed, key_secret_index, owner_may_view, created_at, recovery_origin, allow_mfa_reset,
        email_stage_id)
       values (?, ?, ?, null, ?, ?, '', null, 0, ?, ?, 0, 0, ?, null, 0, null)`,
    );
    const idOf = { count: users, idOf: (index: number) => firstId + index };
    const sampling = { stride: context.stride, samples: context.samples, limit: context.plan.sampleKeys };
    for (let from = 0; from < tokens; from += BATCH) {
      const count = Math.min(BATCH, tokens - from);
      const c = tokenColumns(context.deps, from, count, idOf, sampling);
      sqlite.transaction(() => {
        for (let i = 0; i < count; i++) {
          insertToken.run(
            c.id[i],
            tenantId,
            c.identifier[i],
            c.intent[i],
            c.userId[i],
            c.keyHash[i],
            c.keySealed[i],
            context.at,
          );
        }
      })();
      if ((from / BATCH) % 10 === 9) context.plan.progress(`tokens: ${from + count} of ${tokens}`);
    }
    const tokensDone = performance.now();
    // No ANALYZE: Rekey never runs it on SQLite, so the planner here sees what a real install's sees.
    sqlite.pragma("wal_checkpoint(TRUNCATE)");
    const done = performance.now();
    return loadReport(
      context,
      { users, tokens, groups: groupIds.length, memberships },
      { started, usersDone, tokensDone, done },
    );
  } finally {
    sqlite.close();
  }
}
