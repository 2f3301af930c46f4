import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { aListQuery, NOW, type OpenStores, orderedBy } from "../db/contract.js";
import type { Stores } from "../db/stores.js";
import type { Domain, DomainField, Tenant, TenantField } from "./store.js";

async function aTenant(stores: Stores, schemaName: string, name: string): Promise<Tenant> {
  const tenant = { id: randomUUID(), schemaName, name };
  assert.equal(await stores.tenants.createTenant(tenant, NOW), true);
  return tenant;
}

async function aDomain(
  stores: Stores,
  tenantId: string,
  domain: string,
  isPrimary: boolean,
): Promise<Domain> {
  const saved = await stores.tenants.saveDomain({ tenantId, domain, isPrimary });
  assert.notEqual(saved, null);
  return saved!;
}

function names(tenants: Tenant[]): string[] {
  return tenants.map((tenant) => tenant.name);
}

/** The TenantStore contract: tenants, their domains, and the cascade that empties a deleted tenant. */
export function testTenantStore(open: OpenStores): void {
  describe("TenantStore", () => {
    test("the default tenant exists after migration under the schema name public", async (t) => {
      const { stores, tenantA } = await open(t);
      const tenant = await stores.tenants.defaultTenant();
      assert.deepEqual(tenant, { id: tenantA, schemaName: "public", name: "Default" });
      assert.deepEqual(await stores.tenants.findTenant(tenant.id), tenant);
      assert.deepEqual(await stores.tenants.findTenantBySchemaName("public"), tenant);
    });

    test("a created tenant is found by id and schema name; unknown ones are null", async (t) => {
      const { stores } = await open(t);
      const tenant = await aTenant(stores, "t_acme", "Acme");
      assert.deepEqual(await stores.tenants.findTenant(tenant.id), tenant);
      assert.deepEqual(await stores.tenants.findTenantBySchemaName("t_acme"), tenant);
      assert.equal(await stores.tenants.findTenant(randomUUID()), null);
      assert.equal(await stores.tenants.findTenantBySchemaName("t_nope"), null);
    });

    test("createTenant answers false when the schema name or the id is taken", async (t) => {
      const { stores } = await open(t);
      const tenant = await aTenant(stores, "t_acme", "Acme");
      assert.equal(
        await stores.tenants.createTenant({ id: randomUUID(), schemaName: "t_acme", name: "Again" }, NOW),
        false,
      );
      assert.equal(await stores.tenants.createTenant({ ...tenant, schemaName: "t_fresh" }, NOW), false);
      assert.equal(await stores.tenants.findTenantBySchemaName("t_fresh"), null);
    });

    test("renameTenant changes only that tenant's name", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      await stores.tenants.renameTenant(tenantB, "Renamed");
      assert.equal((await stores.tenants.findTenant(tenantB))?.name, "Renamed");
      assert.equal((await stores.tenants.findTenant(tenantA))?.name, "Default");
    });

    test("listTenants searches name and schema name case-insensitively, taking % _ and \\ literally", async (t) => {
      const { stores } = await open(t);
      await aTenant(stores, "t_p1", "Acme 50%");
      await aTenant(stores, "t_p2", "Acme 500");
      await aTenant(stores, "t_u1", "Under_score");
      await aTenant(stores, "t_u2", "Underxscore");
      await aTenant(stores, "t_b1", "Back\\slash");
      await aTenant(stores, "t_b2", "Backxslash");
      async function search(...terms: string[]): Promise<string[]> {
        return names(
          (
            await stores.tenants.listTenants(
              aListQuery<TenantField>({ search: terms, ordering: orderedBy("name") }),
            )
          ).rows,
        );
      }
      assert.deepEqual(await search("50%"), ["Acme 50%"]);
      assert.deepEqual(await search("R_S"), ["Under_score"]);
      assert.deepEqual(await search("k\\s"), ["Back\\slash"]);
      assert.deepEqual(await search("ACME"), ["Acme 50%", "Acme 500"]);
      assert.deepEqual(await search("T_U"), ["Under_score", "Underxscore"]);
      assert.deepEqual(await search("acme", "500"), ["Acme 500"]);
      assert.deepEqual(await search("nothing"), []);
    });

    test("listTenants orders with the id as tie-breaker, counts every match and pages by offset and limit", async (t) => {
      const { stores } = await open(t);
      const same = [
        await aTenant(stores, "t_s1", "same"),
        await aTenant(stores, "t_s2", "same"),
        await aTenant(stores, "t_s3", "same"),
      ];
      await aTenant(stores, "t_s0", "other");
      const tied = same.map((tenant) => tenant.id).sort();
      const page = await stores.tenants.listTenants(
        aListQuery<TenantField>({ search: ["same"], ordering: orderedBy("-name") }),
      );
      assert.equal(page.total, 3);
      assert.deepEqual(
        page.rows.map((tenant) => tenant.id),
        tied,
      );
      const byName = await stores.tenants.listTenants(
        aListQuery<TenantField>({ search: ["t_s"], ordering: orderedBy("name", "-schema_name") }),
      );
      assert.deepEqual(
        byName.rows.map((tenant) => tenant.schemaName),
        ["t_s0", "t_s3", "t_s2", "t_s1"],
      );
      const window = await stores.tenants.listTenants(
        aListQuery<TenantField>({ search: ["t_s"], ordering: orderedBy("schema_name"), offset: 1, limit: 2 }),
      );
      assert.equal(window.total, 4);
      assert.deepEqual(
        window.rows.map((tenant) => tenant.schemaName),
        ["t_s1", "t_s2"],
      );
      const all = await stores.tenants.listTenants(aListQuery<TenantField>({ offset: 10 }));
      assert.equal(all.total, 6);
      assert.deepEqual(all.rows, []);
    });

    test("a saved domain is found by id, by name and by host, and a primary one names its tenant", async (t) => {
      const { stores, tenantB } = await open(t);
      const domain = await aDomain(stores, tenantB, "acme.example.com", true);
      assert.deepEqual(await stores.tenants.findDomain(domain.id), domain);
      assert.deepEqual(await stores.tenants.findDomainByName("acme.example.com"), domain);
      assert.equal((await stores.tenants.findTenantByHost("acme.example.com"))?.id, tenantB);
      assert.equal(await stores.tenants.primaryDomain(tenantB), "acme.example.com");
      assert.equal(await stores.tenants.findTenantByHost("other.example.com"), null);
      assert.equal(await stores.tenants.findDomain(domain.id + 1000), null);
      assert.equal(await stores.tenants.findDomainByName("other.example.com"), null);
    });

    test("saveDomain answers null when the name is taken, in the same tenant or another", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const domain = await aDomain(stores, tenantA, "acme.example.com", true);
      assert.equal(
        await stores.tenants.saveDomain({ tenantId: tenantA, domain: "acme.example.com", isPrimary: false }),
        null,
      );
      assert.equal(
        await stores.tenants.saveDomain({ tenantId: tenantB, domain: "acme.example.com", isPrimary: true }),
        null,
      );
      const other = await aDomain(stores, tenantB, "b.example.com", true);
      assert.equal(await stores.tenants.saveDomain({ ...other, domain: "acme.example.com" }), null);
      assert.deepEqual(await stores.tenants.findDomainByName("acme.example.com"), domain);
      assert.deepEqual(await stores.tenants.findDomain(other.id), other);
    });

    test("saveDomain with an id updates that domain, and a primary domain clears only its own tenant's other flags", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const first = await aDomain(stores, tenantA, "a1.example.com", true);
      const onB = await aDomain(stores, tenantB, "b1.example.com", true);
      const second = await aDomain(stores, tenantA, "a2.example.com", true);
      assert.equal((await stores.tenants.findDomain(first.id))?.isPrimary, false);
      assert.equal((await stores.tenants.findDomain(onB.id))?.isPrimary, true);
      assert.equal(await stores.tenants.primaryDomain(tenantA), "a2.example.com");
      const renamed = await stores.tenants.saveDomain({
        ...first,
        domain: "a3.example.com",
        isPrimary: true,
      });
      assert.deepEqual(renamed, { ...first, domain: "a3.example.com", isPrimary: true });
      assert.deepEqual(await stores.tenants.findDomain(first.id), renamed);
      assert.equal((await stores.tenants.findDomain(second.id))?.isPrimary, false);
      assert.equal(await stores.tenants.primaryDomain(tenantA), "a3.example.com");
      assert.equal(await stores.tenants.primaryDomain(tenantB), "b1.example.com");
    });

    test("deleteDomain removes only that domain", async (t) => {
      const { stores, tenantA } = await open(t);
      const gone = await aDomain(stores, tenantA, "gone.example.com", true);
      const kept = await aDomain(stores, tenantA, "kept.example.com", false);
      await stores.tenants.deleteDomain(gone.id);
      assert.equal(await stores.tenants.findDomain(gone.id), null);
      assert.equal(await stores.tenants.findTenantByHost("gone.example.com"), null);
      assert.equal(await stores.tenants.primaryDomain(tenantA), null);
      assert.deepEqual(await stores.tenants.findDomain(kept.id), kept);
    });

    test("listDomains searches the name literally, orders by domain or tenant with the id as tie-breaker, and pages", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const [low, high] = [tenantA, tenantB].sort();
      const b1 = await aDomain(stores, high!, "b_1.example.com", false);
      const a1 = await aDomain(stores, low!, "a.example.com", false);
      const b2 = await aDomain(stores, high!, "bx1.example.com", false);
      const a2 = await aDomain(stores, low!, "a.example.org", false);
      function list(overrides: Parameters<typeof aListQuery<DomainField>>[0]): Promise<number[]> {
        return stores.tenants
          .listDomains(aListQuery<DomainField>(overrides))
          .then((page) => page.rows.map((domain) => domain.id));
      }
      assert.deepEqual(await list({ search: ["B_1"] }), [b1.id]);
      assert.deepEqual(await list({ search: ["example.org"] }), [a2.id]);
      assert.deepEqual(await list({ ordering: orderedBy("domain") }), [a1.id, a2.id, b1.id, b2.id]);
      assert.deepEqual(await list({ ordering: orderedBy("-tenant") }), [b1.id, b2.id, a1.id, a2.id]);
      assert.deepEqual(await list({ ordering: orderedBy("tenant", "-domain"), offset: 1, limit: 2 }), [
        a1.id,
        b2.id,
      ]);
      const page = await stores.tenants.listDomains(
        aListQuery<DomainField>({ search: ["example"], limit: 1 }),
      );
      assert.equal(page.total, 4);
      assert.equal(page.rows.length, 1);
    });

    test("a domain and its primary flag are not visible from another tenant", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      await aDomain(stores, tenantA, "a.example.com", true);
      assert.equal(await stores.tenants.primaryDomain(tenantB), null);
      assert.equal((await stores.tenants.findTenantByHost("a.example.com"))?.id, tenantA);
      await stores.tenants.renameTenant(tenantB, "B");
      await stores.tenants.deleteTenant(tenantB);
      assert.equal(await stores.tenants.primaryDomain(tenantA), "a.example.com");
      assert.equal((await stores.tenants.findTenant(tenantA))?.name, "Default");
    });

    test("deleteTenant removes the tenant with its domains, users, groups, tokens and events", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      await seedTenant(stores, tenantA, "a");
      const seeded = await seedTenant(stores, tenantB, "b");
      await stores.tenants.deleteTenant(tenantB);
      assert.equal(await stores.tenants.findTenant(tenantB), null);
      assert.equal(await stores.tenants.findDomain(seeded.domainId), null);
      assert.equal(await stores.users.findUser(tenantB, seeded.userId), null);
      assert.equal(await stores.groups.findGroup(tenantB, seeded.groupUUID), null);
      assert.equal(await stores.tokens.findToken(tenantB, "b-token"), null);
      assert.equal(await stores.events.findEvent(tenantB, seeded.eventId), null);
      const expired = await stores.tokens.listExpiredTokens(NOW, 10);
      assert.deepEqual(
        expired.map((token) => token.identifier),
        ["a-token"],
      );
      assert.equal(await stores.events.purgeExpiredEvents(NOW), 1);
      assert.equal((await stores.users.listUsers(tenantA, {}, aListQuery())).total, 1);
      assert.equal((await stores.groups.listGroups(tenantA, {}, aListQuery())).total, 1);
      assert.equal(await stores.tenants.primaryDomain(tenantA), "a.example.com");
    });
  });
}

interface SeededTenant {
  domainId: number;
  userId: number;
  groupUUID: string;
  eventId: string;
}

/** One of each row a tenant owns: a domain, a user in a group, an expired token and an expired event. */
async function seedTenant(stores: Stores, tenantId: string, prefix: string): Promise<SeededTenant> {
  const domain = await aDomain(stores, tenantId, `${prefix}.example.com`, true);
  const group = await stores.groups.createGroup(tenantId, {
    uuid: randomUUID(),
    name: `${prefix}-group`,
    isSuperuser: false,
    attributes: {},
    userIds: [],
  });
  const user = await stores.users.createUser(
    tenantId,
    {
      uuid: randomUUID(),
      username: `${prefix}-user`,
      name: "",
      email: "",
      isActive: true,
      lastLogin: null,
      attributes: {},
      path: "users",
      type: "internal",
      groupIds: [group!.id],
    },
    NOW,
  );
  await stores.tokens.createToken(
    {
      id: randomUUID(),
      tenantId,
      identifier: `${prefix}-token`,
      managed: null,
      intent: "recovery",
      userId: user!.id,
      description: "",
      expires: NOW,
      expiring: true,
      keyHash: `${prefix}-hash`,
      keySealed: null,
      keySecretIndex: null,
      ownerMayView: false,
    },
    NOW,
  );
  const eventId = randomUUID();
  await stores.events.recordEvent({
    id: eventId,
    tenantId,
    action: "model_created",
    app: "rekey.api",
    actor: { pk: 0, username: "rekey:system", email: "" },
    context: {},
    clientIP: null,
    created: NOW,
    expires: NOW,
  });
  return { domainId: domain.id, userId: user!.id, groupUUID: group!.uuid, eventId };
}
