import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { constantTimeEqual } from "../../crypto/secrets.js";
import { NotAuthenticated, SilentNotFound } from "../../errors.js";
import { auditOf } from "../../http/context.js";
import {
  createTenant,
  deleteDomain,
  deleteTenant,
  findDomainOrThrow,
  findTenantOrThrow,
  saveDomain,
  updateTenant,
} from "../../tenants/service.js";
import type { DomainField, TenantField } from "../../tenants/store.js";
import { bearerCredential } from "./auth.js";
import type { ApiDeps, TypedApp } from "./deps.js";
import { ListParams, PaginatedList, paginated, type RawQuery, readPageRequest } from "./pagination.js";
import { Domain, ErrorResponses, requestBody, Tenant, Uuid } from "./schemas.js";
import { serializeDomain, serializeTenant } from "./serialize.js";
import { assertValidBody, integerId, uuidId } from "./steps.js";

const TenantFields = {
  // No maxLength here: a name longer than 63 must get upstream's schema-name message (checked by the
  // service's pattern, which also caps the length), not DRF's generic "no more than 63 characters".
  schema_name: Type.String({ minLength: 1, description: "At most 63 characters: ^t_[a-z0-9]{1,61}$" }),
  name: Type.String({ minLength: 1 }),
  ready: Type.Boolean(),
};
const TenantRequest = requestBody(TenantFields, ["schema_name", "name"], "TenantRequest");
const PatchedTenantRequest = Type.Partial(Type.Object(TenantFields), { title: "PatchedTenantRequest" });
const DomainFields = {
  domain: Type.String({ minLength: 1, maxLength: 253 }),
  is_primary: Type.Boolean(),
  tenant: Uuid,
};
const DomainRequest = requestBody(DomainFields, ["domain", "tenant"], "DomainRequest");
const PatchedDomainRequest = Type.Partial(Type.Object(DomainFields), { title: "PatchedDomainRequest" });
const TenantParams = Type.Object({ tenant_uuid: Type.String() });
const DomainParams = Type.Object({ id: Type.String() });

/**
 * The tenants API gate (authentik-v3.md §3.4.1), before anything else: no key configured → an empty
 * 404 as upstream without a licence; otherwise the bearer must be that key, compared in constant time.
 */
export function tenantsAPIGate(deps: ApiDeps) {
  return async function tenantsAPIGate(request: FastifyRequest): Promise<void> {
    const expected = deps.config.tenantsAPIKey;
    if (expected === null) {
      throw new SilentNotFound("tenants API disabled");
    }
    const given = bearerCredential(request.headers.authorization);
    if (given === null || !constantTimeEqual(given, expected)) {
      throw new NotAuthenticated();
    }
  };
}

export function tenantRoutes(app: TypedApp, deps: ApiDeps): void {
  const gate = [tenantsAPIGate(deps)];

  // Disabled means absent (§3.4.1): a wrong method or an unknown path under /tenants/ must not answer
  // 405 or a JSON 404 and so reveal the routes; this runs before routing tells those apart.
  const tenantsPrefix = `${app.prefix}/tenants/`;
  // Callback style, not async: this runs on every /api/v3 request, and an async hook costs a promise
  // and a microtask each time even when, as nearly always, it has nothing to do.
  app.addHook("onRequest", function hideDisabledTenantsAPI(request, _reply, done): void {
    if (deps.config.tenantsAPIKey === null && request.url.startsWith(tenantsPrefix)) {
      done(new SilentNotFound("tenants API disabled"));
      return;
    }
    done();
  });
  const invalidate = async (): Promise<void> => deps.tenantResolver.invalidate();

  app.get(
    "/tenants/tenants/",
    {
      schema: {
        tags: ["tenants"],
        querystring: Type.Object(ListParams),
        response: { 200: PaginatedList(Tenant, "Tenant"), ...ErrorResponses },
      },
      onRequest: gate,
    },
    async (request) => {
      const page = readPageRequest<TenantField>(
        request.query as RawQuery,
        { name: "name", schema_name: "schema_name" },
        ["name"],
      );
      return paginated(page, await deps.persistence.stores.tenants.listTenants(page.list), serializeTenant);
    },
  );

  app.post(
    "/tenants/tenants/",
    {
      schema: { tags: ["tenants"], body: TenantRequest, response: { 201: Tenant, ...ErrorResponses } },
      onRequest: gate,
    },
    async (request, reply) => {
      assertValidBody(request);
      const tenant = await createTenant(deps, auditOf(request, "rekey.api"), {
        schemaName: request.body.schema_name,
        name: request.body.name,
      });
      await invalidate();
      return reply.code(201).send(serializeTenant(tenant));
    },
  );

  app.get(
    "/tenants/tenants/:tenant_uuid/",
    {
      schema: { tags: ["tenants"], params: TenantParams, response: { 200: Tenant, ...ErrorResponses } },
      onRequest: gate,
    },
    async (request) =>
      serializeTenant(await findTenantOrThrow(deps.persistence.stores, uuidId(request.params.tenant_uuid))),
  );

  for (const method of ["put", "patch"] as const) {
    app[method](
      "/tenants/tenants/:tenant_uuid/",
      {
        schema: {
          tags: ["tenants"],
          params: TenantParams,
          body: method === "put" ? TenantRequest : PatchedTenantRequest,
          response: { 200: Tenant, ...ErrorResponses },
        },
        onRequest: gate,
      },
      async (request) => {
        const id = uuidId(request.params.tenant_uuid);
        await findTenantOrThrow(deps.persistence.stores, id);
        assertValidBody(request);
        const body = request.body as { schema_name?: string; name?: string };
        const tenant = await updateTenant(deps, auditOf(request, "rekey.api"), id, {
          schemaName: body.schema_name,
          name: body.name,
        });
        await invalidate();
        return serializeTenant(tenant);
      },
    );
  }

  app.delete(
    "/tenants/tenants/:tenant_uuid/",
    {
      schema: { tags: ["tenants"], params: TenantParams, response: { 204: Type.Null(), ...ErrorResponses } },
      onRequest: gate,
    },
    async (request, reply) => {
      await deleteTenant(deps, auditOf(request, "rekey.api"), uuidId(request.params.tenant_uuid));
      await invalidate();
      return reply.code(204).send(null);
    },
  );

  app.get(
    "/tenants/domains/",
    {
      schema: {
        tags: ["tenants"],
        querystring: Type.Object(ListParams),
        response: { 200: PaginatedList(Domain, "Domain"), ...ErrorResponses },
      },
      onRequest: gate,
    },
    async (request) => {
      const page = readPageRequest<DomainField>(
        request.query as RawQuery,
        { domain: "domain", tenant: "tenant" },
        ["domain"],
      );
      return paginated(page, await deps.persistence.stores.tenants.listDomains(page.list), serializeDomain);
    },
  );

  app.post(
    "/tenants/domains/",
    {
      schema: { tags: ["tenants"], body: DomainRequest, response: { 201: Domain, ...ErrorResponses } },
      onRequest: gate,
    },
    async (request, reply) => {
      assertValidBody(request);
      const domain = await saveDomain(deps, auditOf(request, "rekey.api"), {
        domain: request.body.domain,
        isPrimary: request.body.is_primary ?? true,
        tenantId: request.body.tenant.toLowerCase(),
      });
      await invalidate();
      return reply.code(201).send(serializeDomain(domain));
    },
  );

  app.get(
    "/tenants/domains/:id/",
    {
      schema: { tags: ["tenants"], params: DomainParams, response: { 200: Domain, ...ErrorResponses } },
      onRequest: gate,
    },
    async (request) =>
      serializeDomain(await findDomainOrThrow(deps.persistence.stores, integerId(request.params.id))),
  );

  for (const method of ["put", "patch"] as const) {
    app[method](
      "/tenants/domains/:id/",
      {
        schema: {
          tags: ["tenants"],
          params: DomainParams,
          body: method === "put" ? DomainRequest : PatchedDomainRequest,
          response: { 200: Domain, ...ErrorResponses },
        },
        onRequest: gate,
      },
      async (request) => {
        const current = await findDomainOrThrow(deps.persistence.stores, integerId(request.params.id));
        assertValidBody(request);
        const body = request.body as { domain?: string; is_primary?: boolean; tenant?: string };
        const domain = await saveDomain(deps, auditOf(request, "rekey.api"), {
          id: current.id,
          domain: body.domain ?? current.domain,
          isPrimary: body.is_primary ?? current.isPrimary,
          tenantId: body.tenant?.toLowerCase() ?? current.tenantId,
        });
        await invalidate();
        return serializeDomain(domain);
      },
    );
  }

  app.delete(
    "/tenants/domains/:id/",
    {
      schema: { tags: ["tenants"], params: DomainParams, response: { 204: Type.Null(), ...ErrorResponses } },
      onRequest: gate,
    },
    async (request, reply) => {
      await deleteDomain(deps, auditOf(request, "rekey.api"), integerId(request.params.id));
      await invalidate();
      return reply.code(204).send(null);
    },
  );
}
