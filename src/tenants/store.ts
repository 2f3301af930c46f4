import type { ListQuery, Page } from "../db/listing.js";

export interface Tenant {
  id: string;
  schemaName: string;
  name: string;
}

export interface Domain {
  id: number;
  tenantId: string;
  domain: string;
  isPrimary: boolean;
}

export type TenantField = "name" | "schema_name";
export type DomainField = "domain" | "tenant";

export interface TenantStore {
  /** The tenant whose domain equals `host` (already lower-cased, port removed); null if none. */
  findTenantByHost(host: string): Promise<Tenant | null>;
  /** The default tenant (`schema_name` `public`), which always exists. */
  defaultTenant(): Promise<Tenant>;
  findTenant(id: string): Promise<Tenant | null>;
  findTenantBySchemaName(schemaName: string): Promise<Tenant | null>;
  listTenants(query: ListQuery<TenantField>): Promise<Page<Tenant>>;
  /** False when the schema name is taken. */
  createTenant(tenant: Tenant, now: Date): Promise<boolean>;
  renameTenant(id: string, name: string): Promise<void>;
  /** Deletes the tenant and, by cascade, every row it owns. */
  deleteTenant(id: string): Promise<void>;
  /** The tenant's primary domain name, or null. */
  primaryDomain(tenantId: string): Promise<string | null>;

  findDomain(id: number): Promise<Domain | null>;
  findDomainByName(domain: string): Promise<Domain | null>;
  listDomains(query: ListQuery<DomainField>): Promise<Page<Domain>>;
  /** Inserts or updates; a primary domain clears the flag on its tenant's other domains. False when the name is taken. */
  saveDomain(domain: Omit<Domain, "id"> & { id?: number }): Promise<Domain | null>;
  deleteDomain(id: number): Promise<void>;
}
