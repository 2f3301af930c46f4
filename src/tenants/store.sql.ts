import type { Kysely, Selectable } from "kysely";
import { applyListQuery, applySearch, type ListQuery, type Page } from "../db/listing.js";
import type { Database, DomainTable, TenantTable } from "../db/schema.js";
import { isUniqueViolation } from "../db/errors.js";
import type { Domain, DomainField, Tenant, TenantField, TenantStore } from "./store.js";

function toTenant(row: Pick<Selectable<TenantTable>, "id" | "schema_name" | "name">): Tenant {
  return { id: row.id, schemaName: row.schema_name, name: row.name };
}

function toDomain(row: Selectable<DomainTable>): Domain {
  return { id: row.id, tenantId: row.tenant_id, domain: row.domain, isPrimary: row.is_primary === 1 };
}

export function sqlTenantStore(db: Kysely<Database>): TenantStore {
  return {
    async findTenantByHost(host) {
      const row = await db
        .selectFrom("domain")
        .innerJoin("tenant", "tenant.id", "domain.tenant_id")
        .select(["tenant.id", "tenant.schema_name", "tenant.name"])
        .where("domain.domain", "=", host)
        .executeTakeFirst();
      return row === undefined ? null : toTenant(row);
    },
    async defaultTenant() {
      const row = await db
        .selectFrom("tenant")
        .selectAll()
        .where("schema_name", "=", "public")
        .executeTakeFirstOrThrow();
      return toTenant(row);
    },
    async findTenant(id) {
      const row = await db.selectFrom("tenant").selectAll().where("id", "=", id).executeTakeFirst();
      return row === undefined ? null : toTenant(row);
    },
    async findTenantBySchemaName(schemaName) {
      const row = await db
        .selectFrom("tenant")
        .selectAll()
        .where("schema_name", "=", schemaName)
        .executeTakeFirst();
      return row === undefined ? null : toTenant(row);
    },
    async listTenants(query: ListQuery<TenantField>): Promise<Page<Tenant>> {
      const search = ["name", "schema_name"];
      const count = await applySearch(db.selectFrom("tenant"), query.search, search)
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      const rows = await applyListQuery(db.selectFrom("tenant").selectAll(), query, {
        search,
        order: { name: "name", schema_name: "schema_name" },
        primaryKey: "id",
      }).execute();
      return { total: Number(count.n), rows: rows.map(toTenant) };
    },
    async createTenant(tenant, now) {
      try {
        await db
          .insertInto("tenant")
          .values({
            id: tenant.id,
            schema_name: tenant.schemaName,
            name: tenant.name,
            created_at: now.getTime(),
          })
          .execute();
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) {
          return false;
        }
        throw error;
      }
    },
    async renameTenant(id, name) {
      await db.updateTable("tenant").set({ name }).where("id", "=", id).execute();
    },
    async deleteTenant(id) {
      await db.deleteFrom("tenant").where("id", "=", id).execute();
    },
    async primaryDomain(tenantId) {
      const row = await db
        .selectFrom("domain")
        .select("domain")
        .where("tenant_id", "=", tenantId)
        .where("is_primary", "=", 1)
        .orderBy("id")
        .executeTakeFirst();
      return row?.domain ?? null;
    },
    async findDomain(id) {
      const row = await db.selectFrom("domain").selectAll().where("id", "=", id).executeTakeFirst();
      return row === undefined ? null : toDomain(row);
    },
    async findDomainByName(domain) {
      const row = await db.selectFrom("domain").selectAll().where("domain", "=", domain).executeTakeFirst();
      return row === undefined ? null : toDomain(row);
    },
    async listDomains(query: ListQuery<DomainField>): Promise<Page<Domain>> {
      const search = ["domain"];
      const count = await applySearch(db.selectFrom("domain"), query.search, search)
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      const rows = await applyListQuery(db.selectFrom("domain").selectAll(), query, {
        search,
        order: { domain: "domain", tenant: "tenant_id" },
        primaryKey: "id",
      }).execute();
      return { total: Number(count.n), rows: rows.map(toDomain) };
    },
    async saveDomain(domain) {
      const values = {
        tenant_id: domain.tenantId,
        domain: domain.domain,
        is_primary: domain.isPrimary ? 1 : 0,
      };
      try {
        let id = domain.id;
        if (id === undefined) {
          const row = await db.insertInto("domain").values(values).returning("id").executeTakeFirstOrThrow();
          id = row.id;
        } else {
          await db.updateTable("domain").set(values).where("id", "=", id).execute();
        }
        if (domain.isPrimary) {
          await db
            .updateTable("domain")
            .set({ is_primary: 0 })
            .where("tenant_id", "=", domain.tenantId)
            .where("id", "!=", id)
            .execute();
        }
        return { ...domain, id };
      } catch (error) {
        if (isUniqueViolation(error)) {
          return null;
        }
        throw error;
      }
    },
    async deleteDomain(id) {
      await db.deleteFrom("domain").where("id", "=", id).execute();
    },
  };
}
