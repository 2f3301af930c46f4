import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import { ObjectNotFound, ValidationFailed } from "../errors.js";
import { type Audit, domainRef, recordEvent, tenantRef } from "../events/service.js";
import type { Domain, Tenant } from "./store.js";

const SCHEMA_NAME = /^t_[a-z0-9]{1,61}$/;

export async function findTenantOrThrow(stores: Stores, id: string): Promise<Tenant> {
  const tenant = await stores.tenants.findTenant(id);
  if (tenant === null) {
    throw new ObjectNotFound("Tenant");
  }
  return tenant;
}

/**
 * The public base URL of a tenant (authentik-v3.md §2.1): REKEY_PUBLIC_URL for the default tenant,
 * else the public URL's scheme with the tenant's primary domain, else the request's own origin.
 */
export async function tenantPublicURL(
  deps: Pick<CoreDeps, "config" | "persistence">,
  tenant: Tenant,
  requestOrigin: string,
): Promise<string> {
  if (tenant.schemaName === "public") {
    return deps.config.publicURL.href.replace(/\/$/, "");
  }
  const domain = await deps.persistence.stores.tenants.primaryDomain(tenant.id);
  return domain === null ? requestOrigin : `${deps.config.publicURL.protocol}//${domain}`;
}

export async function createTenant(
  deps: CoreDeps,
  audit: Audit,
  input: { schemaName: string; name: string },
): Promise<Tenant> {
  if (!SCHEMA_NAME.test(input.schemaName)) {
    throw ValidationFailed.field(
      "schema_name",
      "Schema name must start with t_, only contain lowercase letters and numbers and be less than 63 characters.",
    );
  }
  return deps.persistence.transaction(async (stores) => {
    if ((await stores.tenants.findTenantBySchemaName(input.schemaName)) !== null) {
      throw ValidationFailed.field("schema_name", "Tenant with this schema name already exists.");
    }
    const tenant: Tenant = { id: deps.random.uuid(), schemaName: input.schemaName, name: input.name };
    await stores.tenants.createTenant(tenant, deps.clock.now());
    await recordEvent(deps, stores.events, audit, "model_created", { model: tenantRef(tenant) });
    return tenant;
  });
}

export async function updateTenant(
  deps: CoreDeps,
  audit: Audit,
  id: string,
  input: { schemaName?: string; name?: string },
): Promise<Tenant> {
  return deps.persistence.transaction(async (stores) => {
    const tenant = await findTenantOrThrow(stores, id);
    if (input.schemaName !== undefined && input.schemaName !== tenant.schemaName) {
      throw ValidationFailed.field("schema_name", "Schema name cannot be changed.");
    }
    const updated = { ...tenant, name: input.name ?? tenant.name };
    await stores.tenants.renameTenant(id, updated.name);
    await recordEvent(deps, stores.events, audit, "model_updated", { model: tenantRef(updated) });
    return updated;
  });
}

export async function deleteTenant(deps: CoreDeps, audit: Audit, id: string): Promise<void> {
  await deps.persistence.transaction(async (stores) => {
    const tenant = await findTenantOrThrow(stores, id);
    if (tenant.schemaName === "public") {
      throw ValidationFailed.field("non_field_errors", "The default tenant cannot be deleted.");
    }
    await stores.tenants.deleteTenant(id);
    await recordEvent(deps, stores.events, audit, "model_deleted", { model: tenantRef(tenant) });
  });
}

export async function findDomainOrThrow(stores: Stores, id: number): Promise<Domain> {
  const domain = await stores.tenants.findDomain(id);
  if (domain === null) {
    throw new ObjectNotFound("Domain");
  }
  return domain;
}

/** Creates (no `id`) or updates a domain; names are stored lower-case and unique. */
export async function saveDomain(
  deps: CoreDeps,
  audit: Audit,
  input: { id?: number; domain: string; isPrimary: boolean; tenantId: string },
): Promise<Domain> {
  return deps.persistence.transaction(async (stores) => {
    const name = input.domain.toLowerCase();
    const errors: Record<string, string[]> = {};
    const holder = await stores.tenants.findDomainByName(name);
    if (holder !== null && holder.id !== input.id) {
      errors["domain"] = ["Domain with this domain already exists."];
    }
    if ((await stores.tenants.findTenant(input.tenantId)) === null) {
      errors["tenant"] = [`Invalid pk "${input.tenantId}" - object does not exist.`];
    }
    if (Object.keys(errors).length > 0) {
      throw new ValidationFailed(errors);
    }
    const saved = await stores.tenants.saveDomain({ ...input, domain: name });
    if (saved === null) {
      throw ValidationFailed.field("domain", "Domain with this domain already exists.");
    }
    await recordEvent(
      deps,
      stores.events,
      audit,
      input.id === undefined ? "model_created" : "model_updated",
      {
        model: domainRef(saved),
      },
    );
    return saved;
  });
}

export async function deleteDomain(deps: CoreDeps, audit: Audit, id: number): Promise<void> {
  await deps.persistence.transaction(async (stores) => {
    const domain = await findDomainOrThrow(stores, id);
    await stores.tenants.deleteDomain(id);
    await recordEvent(deps, stores.events, audit, "model_deleted", { model: domainRef(domain) });
  });
}
