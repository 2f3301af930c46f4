import type { Kysely, Selectable, Updateable } from "kysely";
import { applyListQuery, applySearch, type ListQuery, type Page } from "../../db/listing.js";
import type { Database, EmailStageTable } from "../../db/schema.js";
import { isStageTemplate } from "../templates/index.js";
import type { EmailStage, EmailStageField, EmailStageFilters, EmailStageStore } from "./store.js";

function toEmailStage(row: Selectable<EmailStageTable>): EmailStage {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    useGlobalSettings: row.use_global_settings === 1,
    host: row.host,
    port: row.port,
    username: row.username,
    passwordSealed: row.password_sealed,
    passwordSecretIndex: row.password_secret_index,
    useTLS: row.use_tls === 1,
    useSSL: row.use_ssl === 1,
    timeout: row.timeout,
    fromAddress: row.from_address,
    tokenExpiry: row.token_expiry,
    subject: row.subject,
    // Only the service writes this column, and it accepts the three names only.
    template: isStageTemplate(row.template) ? row.template : "email/password_reset.html",
    activateUserOnSuccess: row.activate_user_on_success === 1,
  };
}

function flag(value: boolean): number {
  return value ? 1 : 0;
}

/** The columns of the changed fields only, so an update never touches what it was not given. */
function toColumns(changes: Partial<EmailStage>): Updateable<EmailStageTable> {
  const set: Updateable<EmailStageTable> = {};
  if (changes.name !== undefined) set.name = changes.name;
  if (changes.useGlobalSettings !== undefined) set.use_global_settings = flag(changes.useGlobalSettings);
  if (changes.host !== undefined) set.host = changes.host;
  if (changes.port !== undefined) set.port = changes.port;
  if (changes.username !== undefined) set.username = changes.username;
  if (changes.passwordSealed !== undefined) set.password_sealed = changes.passwordSealed;
  if (changes.passwordSecretIndex !== undefined) set.password_secret_index = changes.passwordSecretIndex;
  if (changes.useTLS !== undefined) set.use_tls = flag(changes.useTLS);
  if (changes.useSSL !== undefined) set.use_ssl = flag(changes.useSSL);
  if (changes.timeout !== undefined) set.timeout = changes.timeout;
  if (changes.fromAddress !== undefined) set.from_address = changes.fromAddress;
  if (changes.tokenExpiry !== undefined) set.token_expiry = changes.tokenExpiry;
  if (changes.subject !== undefined) set.subject = changes.subject;
  if (changes.template !== undefined) set.template = changes.template;
  if (changes.activateUserOnSuccess !== undefined)
    set.activate_user_on_success = flag(changes.activateUserOnSuccess);
  return set;
}

const ORDER: Record<EmailStageField, string> = {
  name: "name",
  use_global_settings: "use_global_settings",
  host: "host",
  port: "port",
  username: "username",
  use_tls: "use_tls",
  use_ssl: "use_ssl",
  timeout: "timeout",
  from_address: "from_address",
  token_expiry: "token_expiry",
  subject: "subject",
  template: "template",
  activate_user_on_success: "activate_user_on_success",
};

const SEARCH = ["name"];

export function sqlEmailStageStore(db: Kysely<Database>): EmailStageStore {
  function filtered(tenantId: string, filters: EmailStageFilters) {
    let q = db.selectFrom("email_stage").where("tenant_id", "=", tenantId);
    if (filters.name !== undefined) q = q.where("name", "=", filters.name);
    if (filters.host !== undefined) q = q.where("host", "=", filters.host);
    if (filters.port !== undefined) q = q.where("port", "=", filters.port);
    if (filters.username !== undefined) q = q.where("username", "=", filters.username);
    if (filters.fromAddress !== undefined) q = q.where("from_address", "=", filters.fromAddress);
    if (filters.subject !== undefined) q = q.where("subject", "=", filters.subject);
    if (filters.template !== undefined) q = q.where("template", "=", filters.template);
    if (filters.timeout !== undefined) q = q.where("timeout", "=", filters.timeout);
    if (filters.tokenExpiry !== undefined) q = q.where("token_expiry", "=", filters.tokenExpiry);
    if (filters.useGlobalSettings !== undefined)
      q = q.where("use_global_settings", "=", flag(filters.useGlobalSettings));
    if (filters.useTLS !== undefined) q = q.where("use_tls", "=", flag(filters.useTLS));
    if (filters.useSSL !== undefined) q = q.where("use_ssl", "=", flag(filters.useSSL));
    if (filters.activateUserOnSuccess !== undefined) {
      q = q.where("activate_user_on_success", "=", flag(filters.activateUserOnSuccess));
    }
    return q;
  }

  return {
    async findEmailStage(tenantId, id) {
      const row = await db
        .selectFrom("email_stage")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .executeTakeFirst();
      return row === undefined ? null : toEmailStage(row);
    },

    async listEmailStages(tenantId, filters, query: ListQuery<EmailStageField>): Promise<Page<EmailStage>> {
      const count = await applySearch(filtered(tenantId, filters), query.search, SEARCH)
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      const rows = await applyListQuery(filtered(tenantId, filters).selectAll(), query, {
        search: SEARCH,
        order: ORDER,
        primaryKey: "id",
      }).execute();
      return { total: Number(count.n), rows: rows.map(toEmailStage) };
    },

    async isEmailStageNameTaken(tenantId, name, exceptId) {
      let q = db
        .selectFrom("email_stage")
        .select("id")
        .where("tenant_id", "=", tenantId)
        .where("name", "=", name);
      if (exceptId !== null) {
        q = q.where("id", "!=", exceptId);
      }
      return (await q.executeTakeFirst()) !== undefined;
    },

    async createEmailStage(stage, now) {
      await db
        .insertInto("email_stage")
        .values({
          id: stage.id,
          tenant_id: stage.tenantId,
          name: stage.name,
          use_global_settings: flag(stage.useGlobalSettings),
          host: stage.host,
          port: stage.port,
          username: stage.username,
          password_sealed: stage.passwordSealed,
          password_secret_index: stage.passwordSecretIndex,
          use_tls: flag(stage.useTLS),
          use_ssl: flag(stage.useSSL),
          timeout: stage.timeout,
          from_address: stage.fromAddress,
          token_expiry: stage.tokenExpiry,
          subject: stage.subject,
          template: stage.template,
          activate_user_on_success: flag(stage.activateUserOnSuccess),
          created_at: now.getTime(),
        })
        .execute();
    },

    async updateEmailStage(tenantId, id, changes) {
      const set = toColumns(changes);
      if (Object.keys(set).length === 0) {
        return;
      }
      await db
        .updateTable("email_stage")
        .set(set)
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .execute();
    },

    async deleteEmailStage(tenantId, id) {
      const result = await db
        .deleteFrom("email_stage")
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}
