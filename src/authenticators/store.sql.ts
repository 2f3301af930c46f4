import { type Kysely, type Selectable, sql } from "kysely";
import { applyListQuery, applySearch, type ListQuery, type Page } from "../db/listing.js";
import type { Database, SettingsFlowSecretTable, StaticDeviceTable, TOTPDeviceTable } from "../db/schema.js";
import type {
  DeviceField,
  DeviceFilters,
  SettingsSecret,
  SettingsSecretKind,
  SettingsSecretStore,
  StaticDevice,
  StaticDeviceStore,
  TOTPAlgorithm,
  TOTPDevice,
  TOTPDeviceStore,
} from "./store.js";

function toTOTP(row: Selectable<TOTPDeviceTable>): TOTPDevice {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    name: row.name,
    secretSealed: row.secret_sealed,
    secretSecretIndex: row.secret_secret_index,
    digits: row.digits === 8 ? 8 : 6,
    period: row.period,
    algorithm: row.algorithm as TOTPAlgorithm,
    confirmed: row.confirmed === 1,
    lastStep: row.last_step,
    createdAt: new Date(Number(row.created_at)),
  };
}

export function sqlTOTPDeviceStore(db: Kysely<Database>): TOTPDeviceStore {
  function filtered(tenantId: string, filters: DeviceFilters) {
    let q = db.selectFrom("totp_device").where("tenant_id", "=", tenantId);
    if (filters.name !== undefined) q = q.where("name", "=", filters.name);
    if (filters.userId !== undefined) q = q.where("user_id", "=", filters.userId);
    if (filters.confirmed !== undefined) q = q.where("confirmed", "=", filters.confirmed ? 1 : 0);
    return q;
  }
  return {
    async createTOTPDevice(device, now) {
      const row = await db
        .insertInto("totp_device")
        .values({
          tenant_id: device.tenantId,
          user_id: device.userId,
          name: device.name,
          secret_sealed: device.secretSealed,
          secret_secret_index: device.secretSecretIndex,
          digits: device.digits,
          period: device.period,
          algorithm: device.algorithm,
          confirmed: device.confirmed ? 1 : 0,
          last_step: null,
          created_at: now.getTime(),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toTOTP(row);
    },
    async findTOTPDevice(tenantId, id) {
      const row = await db
        .selectFrom("totp_device")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .executeTakeFirst();
      return row === undefined ? null : toTOTP(row);
    },
    async listTOTPDevices(tenantId, filters, query: ListQuery<DeviceField>): Promise<Page<TOTPDevice>> {
      const count = await applySearch(filtered(tenantId, filters), query.search, ["name"])
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      const rows = await applyListQuery(filtered(tenantId, filters).selectAll(), query, {
        search: ["name"],
        order: { name: "name", pk: "id" },
        primaryKey: "id",
      }).execute();
      return { total: Number(count.n), rows: rows.map(toTOTP) };
    },
    async userTOTPDevices(tenantId, userId, options) {
      let q = db
        .selectFrom("totp_device")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("user_id", "=", userId);
      if (options?.includeUnconfirmed !== true) q = q.where("confirmed", "=", 1);
      return (await q.orderBy("id").execute()).map(toTOTP);
    },
    async renameTOTPDevice(tenantId, id, name) {
      await db
        .updateTable("totp_device")
        .set({ name })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .execute();
    },
    async confirmTOTPDevice(tenantId, id) {
      await db
        .updateTable("totp_device")
        .set({ confirmed: 1 })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .execute();
    },
    async deleteTOTPDevice(tenantId, id) {
      await db.deleteFrom("totp_device").where("tenant_id", "=", tenantId).where("id", "=", id).execute();
    },
    async acceptTOTPStep(tenantId, id, step) {
      const result = await db
        .updateTable("totp_device")
        .set({ last_step: step })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .where((eb) => eb.or([eb("last_step", "is", null), eb("last_step", "<", step)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

type StaticRow = Selectable<StaticDeviceTable> & { unused: number | string | null };

function toStatic(row: StaticRow): StaticDevice {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    name: row.name,
    confirmed: row.confirmed === 1,
    unusedCount: Number(row.unused ?? 0),
    createdAt: new Date(Number(row.created_at)),
  };
}

export function sqlStaticDeviceStore(db: Kysely<Database>): StaticDeviceStore {
  const unused =
    sql<number>`(select count(*) from static_token t where t.device_id = static_device.id and t.used_at is null)`.as(
      "unused",
    );
  function filtered(tenantId: string, filters: DeviceFilters) {
    let q = db.selectFrom("static_device").where("tenant_id", "=", tenantId);
    if (filters.name !== undefined) q = q.where("name", "=", filters.name);
    if (filters.userId !== undefined) q = q.where("user_id", "=", filters.userId);
    if (filters.confirmed !== undefined) q = q.where("confirmed", "=", filters.confirmed ? 1 : 0);
    return q;
  }
  async function one(tenantId: string, id: number): Promise<StaticDevice | null> {
    const row = await db
      .selectFrom("static_device")
      .selectAll()
      .select(unused)
      .where("tenant_id", "=", tenantId)
      .where("id", "=", id)
      .executeTakeFirst();
    return row === undefined ? null : toStatic(row);
  }
  return {
    async createStaticDevice(device, tokenHMACs, now) {
      const row = await db
        .insertInto("static_device")
        .values({
          tenant_id: device.tenantId,
          user_id: device.userId,
          name: device.name,
          confirmed: 1,
          created_at: now.getTime(),
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      if (tokenHMACs.length > 0) {
        await db
          .insertInto("static_token")
          .values(
            tokenHMACs.map((hmac) => ({
              tenant_id: device.tenantId,
              device_id: row.id,
              user_id: device.userId,
              token_hmac: hmac,
              used_at: null,
            })),
          )
          .execute();
      }
      return (await one(device.tenantId, row.id))!;
    },
    findStaticDevice: one,
    async listStaticDevices(tenantId, filters, query: ListQuery<DeviceField>): Promise<Page<StaticDevice>> {
      const count = await applySearch(filtered(tenantId, filters), query.search, ["name"])
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      const rows = await applyListQuery(filtered(tenantId, filters).selectAll().select(unused), query, {
        search: ["name"],
        order: { name: "name", pk: "id" },
        primaryKey: "id",
      }).execute();
      return { total: Number(count.n), rows: rows.map(toStatic) };
    },
    async userStaticDevices(tenantId, userId) {
      const rows = await db
        .selectFrom("static_device")
        .selectAll()
        .select(unused)
        .where("tenant_id", "=", tenantId)
        .where("user_id", "=", userId)
        .orderBy("id")
        .execute();
      return rows.map(toStatic);
    },
    async renameStaticDevice(tenantId, id, name) {
      await db
        .updateTable("static_device")
        .set({ name })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .execute();
    },
    async deleteStaticDevice(tenantId, id) {
      await db.deleteFrom("static_device").where("tenant_id", "=", tenantId).where("id", "=", id).execute();
    },
    async useStaticToken(tenantId, userId, candidates, now) {
      if (candidates.length === 0) return false;
      // One statement picks one matching unused code and marks it used; a concurrent submission of
      // the same code finds `used_at` set and changes nothing.
      const target = db
        .selectFrom("static_token")
        .select("id")
        .where("tenant_id", "=", tenantId)
        .where("user_id", "=", userId)
        .where("token_hmac", "in", candidates)
        .where("used_at", "is", null)
        .limit(1);
      const result = await db
        .updateTable("static_token")
        .set({ used_at: now.getTime() })
        .where("id", "in", target)
        .where("used_at", "is", null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

function toSettingsSecret(row: Selectable<SettingsFlowSecretTable>): SettingsSecret {
  return {
    tenantId: row.tenant_id,
    flowId: row.flow_id,
    kind: row.kind as SettingsSecretKind,
    secretSealed: row.secret_sealed,
    secretSecretIndex: row.secret_secret_index,
  };
}

export function sqlSettingsSecretStore(db: Kysely<Database>): SettingsSecretStore {
  async function find(tenantId: string, flowId: string, kind: SettingsSecretKind) {
    const row = await db
      .selectFrom("settings_flow_secret")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where("flow_id", "=", flowId)
      .where("kind", "=", kind)
      .executeTakeFirst();
    return row === undefined ? null : toSettingsSecret(row);
  }
  return {
    async putSettingsSecret(secret, now, options) {
      const values = {
        flow_id: secret.flowId,
        kind: secret.kind,
        tenant_id: secret.tenantId,
        secret_sealed: secret.secretSealed,
        secret_secret_index: secret.secretSecretIndex,
        created_at: now.getTime(),
      };
      await db
        .insertInto("settings_flow_secret")
        .values(values)
        .onConflict((oc) =>
          options?.replace === true
            ? oc.columns(["flow_id", "kind"]).doUpdateSet({
                secret_sealed: values.secret_sealed,
                secret_secret_index: values.secret_secret_index,
                created_at: values.created_at,
              })
            : oc.columns(["flow_id", "kind"]).doNothing(),
        )
        .execute();
      return (await find(secret.tenantId, secret.flowId, secret.kind)) ?? secret;
    },
    findSettingsSecret: find,
    async takeSettingsSecret(tenantId, flowId, kind) {
      const row = await db
        .deleteFrom("settings_flow_secret")
        .where("tenant_id", "=", tenantId)
        .where("flow_id", "=", flowId)
        .where("kind", "=", kind)
        .returningAll()
        .executeTakeFirst();
      return row === undefined ? null : toSettingsSecret(row);
    },
  };
}
