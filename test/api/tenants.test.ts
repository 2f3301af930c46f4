import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import { ADMIN_TOKEN, TENANTS_KEY, type TestApp, testApp } from "../support/app.js";

/** A JSON response body: tests read whatever shape the wire has and assert on it. */
// biome-ignore lint/suspicious/noExplicitAny: response bodies are untyped JSON, checked by the assertions
type JSONBody = Record<string, any>;

const GHOST = "0c6f7a0e-1111-4222-8333-944455556666";
const SCHEMA_NAME_RULE =
  "Schema name must start with t_, only contain lowercase letters and numbers and be less than 63 characters.";
const NOT_PROVIDED = { detail: "Authentication credentials were not provided." };
const auth = { token: TENANTS_KEY };

/** Every tenants route, with a body where it takes one. */
function tenantsRoutes(tenant: string, domain: number | string): [string, string, unknown][] {
  return [
    ["GET", "/api/v3/tenants/tenants/", undefined],
    ["POST", "/api/v3/tenants/tenants/", { schema_name: "t_new", name: "New" }],
    ["GET", `/api/v3/tenants/tenants/${tenant}/`, undefined],
    ["PUT", `/api/v3/tenants/tenants/${tenant}/`, { schema_name: "public", name: "Renamed" }],
    ["PATCH", `/api/v3/tenants/tenants/${tenant}/`, { name: "Renamed" }],
    ["DELETE", `/api/v3/tenants/tenants/${tenant}/`, undefined],
    ["GET", "/api/v3/tenants/domains/", undefined],
    ["POST", "/api/v3/tenants/domains/", { domain: "new.example.com", tenant }],
    ["GET", `/api/v3/tenants/domains/${domain}/`, undefined],
    ["PUT", `/api/v3/tenants/domains/${domain}/`, { domain: "x.example.com", tenant }],
    ["PATCH", `/api/v3/tenants/domains/${domain}/`, { is_primary: false }],
    ["DELETE", `/api/v3/tenants/domains/${domain}/`, undefined],
  ];
}

async function defaultTenant(rekey: TestApp): Promise<JSONBody> {
  return (await rekey.api("GET", "/api/v3/tenants/tenants/?search=public", undefined, auth)).json()
    .results[0];
}

async function createTenant(rekey: TestApp, schemaName: string, name: string): Promise<string> {
  const response = await rekey.api(
    "POST",
    "/api/v3/tenants/tenants/",
    { schema_name: schemaName, name },
    auth,
  );
  assert.equal(response.statusCode, 201, response.body);
  return response.json().tenant_uuid;
}

async function createDomain(rekey: TestApp, body: Record<string, unknown>): Promise<JSONBody> {
  const response = await rekey.api("POST", "/api/v3/tenants/domains/", body, auth);
  assert.equal(response.statusCode, 201, response.body);
  return response.json();
}

for (const dialect of DIALECTS) {
  describe(`/api/v3/tenants/ gate on ${dialect}`, () => {
    test("with REKEY_TENANTS_API_KEY empty every tenants route is a 404 with an empty body", async (t) => {
      const rekey = await testApp(t, dialect, { env: { REKEY_TENANTS_API_KEY: "" } });
      const tenant = (await rekey.deps.persistence.stores.tenants.defaultTenant()).id;
      const routes: [string, string, unknown][] = [
        ...tenantsRoutes(tenant, 1),
        ["POST", `/api/v3/tenants/tenants/${tenant}/`, { name: "wrong method" }],
        ["GET", "/api/v3/tenants/unknown/", undefined],
      ];
      for (const [method, url, body] of routes) {
        for (const token of [TENANTS_KEY, ADMIN_TOKEN, null]) {
          const response = await rekey.api(method, url, body, { token });
          assert.equal(response.statusCode, 404, `${method} ${url} ${token}: ${response.body}`);
          assert.equal(response.body, "", `${method} ${url}`);
        }
      }
      const text = await rekey.api("POST", "/api/v3/tenants/tenants/", "plain", {
        headers: { "content-type": "text/plain" },
      });
      assert.equal(text.statusCode, 404, "the gate comes before the media type");
      assert.equal(text.body, "");
      assert.equal(await rekey.deps.persistence.stores.tenants.findTenantBySchemaName("t_new"), null);
    });

    test("a missing, malformed or wrong bearer, or a normal api token, is 403 'not provided'", async (t) => {
      const rekey = await testApp(t, dialect);
      const tenant = (await defaultTenant(rekey)).tenant_uuid;
      for (const [method, url, body] of tenantsRoutes(tenant, 1)) {
        for (const authorization of [
          undefined,
          `Bearer ${TENANTS_KEY}x`,
          `Token ${TENANTS_KEY}`,
          `Bearer ${ADMIN_TOKEN}`,
          "Bearer ",
        ]) {
          const response = await rekey.app.inject({
            method: method as "GET",
            url,
            headers: authorization === undefined ? {} : { authorization },
            ...(body === undefined ? {} : { payload: body as object }),
          });
          assert.equal(response.statusCode, 403, `${method} ${url} ${authorization}`);
          assert.deepEqual(response.json(), NOT_PROVIDED);
        }
      }
      assert.equal(
        (await rekey.api("GET", "/api/v3/tenants/tenants/")).statusCode,
        403,
        "ADMIN_TOKEN is not the tenants key",
      );
      const ok = await rekey.app.inject({
        url: "/api/v3/tenants/tenants/",
        headers: { authorization: `bearer ${TENANTS_KEY}` },
      });
      assert.equal(ok.statusCode, 200, "the scheme is case-insensitive");
    });
  });

  describe(`/api/v3/tenants/tenants/ on ${dialect}`, () => {
    test("the list holds the default tenant, ready, in the documented key order", async (t) => {
      const rekey = await testApp(t, dialect);
      const response = await rekey.api("GET", "/api/v3/tenants/tenants/", undefined, auth);
      assert.equal(response.statusCode, 200);
      const body = response.json();
      assert.equal(body.pagination.count, 1);
      assert.deepEqual(Object.keys(body.results[0]), ["tenant_uuid", "schema_name", "name", "ready"]);
      assert.deepEqual(body.results[0], {
        tenant_uuid: (await rekey.deps.persistence.stores.tenants.defaultTenant()).id,
        schema_name: "public",
        name: "Default",
        ready: true,
      });
    });

    test("creates a tenant with t_ and 61 letters, ready at once, ignoring a given ready", async (t) => {
      const rekey = await testApp(t, dialect);
      const schemaName = `t_${"a".repeat(61)}`;
      const response = await rekey.api(
        "POST",
        "/api/v3/tenants/tenants/",
        { schema_name: schemaName, name: "Long", ready: false },
        auth,
      );
      assert.equal(response.statusCode, 201, response.body);
      const tenant = response.json();
      assert.match(tenant.tenant_uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.deepEqual(tenant, {
        tenant_uuid: tenant.tenant_uuid,
        schema_name: schemaName,
        name: "Long",
        ready: true,
      });
      const found = await rekey.api("GET", `/api/v3/tenants/tenants/${tenant.tenant_uuid}/`, undefined, auth);
      assert.deepEqual(found.json(), tenant);
      const names = (
        await rekey.api("GET", "/api/v3/tenants/tenants/?ordering=-name", undefined, auth)
      ).json().results;
      assert.deepEqual(
        names.map((row: { name: string }) => row.name),
        ["Long", "Default"],
      );
    });

    test("refuses schema names outside ^t_[a-z0-9]{1,61}$ with upstream's message", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const schemaName of [`t_${"a".repeat(62)}`, "T_x", "t_", "x_abc", "t_a-b", "t_ABC", "public"]) {
        const response = await rekey.api(
          "POST",
          "/api/v3/tenants/tenants/",
          { schema_name: schemaName, name: "X" },
          auth,
        );
        assert.equal(response.statusCode, 400, schemaName);
        assert.deepEqual(response.json(), { schema_name: [SCHEMA_NAME_RULE] }, schemaName);
      }
      const missing = await rekey.api("POST", "/api/v3/tenants/tenants/", {}, auth);
      assert.deepEqual(missing.json(), {
        schema_name: ["This field is required."],
        name: ["This field is required."],
      });
      const blank = await rekey.api(
        "POST",
        "/api/v3/tenants/tenants/",
        { schema_name: "t_ok", name: "" },
        auth,
      );
      assert.deepEqual(blank.json(), { name: ["This field may not be blank."] });
      assert.equal(
        (await rekey.api("GET", "/api/v3/tenants/tenants/", undefined, auth)).json().pagination.count,
        1,
      );
    });

    test("schema names are unique and cannot be changed; the name can", async (t) => {
      const rekey = await testApp(t, dialect);
      const id = await createTenant(rekey, "t_acme", "Acme");
      const duplicate = await rekey.api(
        "POST",
        "/api/v3/tenants/tenants/",
        { schema_name: "t_acme", name: "Other" },
        auth,
      );
      assert.equal(duplicate.statusCode, 400);
      assert.deepEqual(duplicate.json(), { schema_name: ["Tenant with this schema name already exists."] });
      const changed = await rekey.api(
        "PATCH",
        `/api/v3/tenants/tenants/${id}/`,
        { schema_name: "t_other" },
        auth,
      );
      assert.equal(changed.statusCode, 400);
      assert.deepEqual(changed.json(), { schema_name: ["Schema name cannot be changed."] });
      const renamed = await rekey.api("PATCH", `/api/v3/tenants/tenants/${id}/`, { name: "Acme Inc" }, auth);
      assert.equal(renamed.statusCode, 200, renamed.body);
      assert.deepEqual(renamed.json(), {
        tenant_uuid: id,
        schema_name: "t_acme",
        name: "Acme Inc",
        ready: true,
      });
      const put = await rekey.api(
        "PUT",
        `/api/v3/tenants/tenants/${id}/`,
        { schema_name: "t_acme", name: "Acme 2" },
        auth,
      );
      assert.equal(put.statusCode, 200, put.body);
      assert.equal(put.json().name, "Acme 2");
      const putMissing = await rekey.api("PUT", `/api/v3/tenants/tenants/${id}/`, { name: "Acme 3" }, auth);
      assert.deepEqual(putMissing.json(), { schema_name: ["This field is required."] });
    });

    test("an unknown tenant is 404 and a malformed uuid is 'Not found.'", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const method of ["GET", "PATCH", "DELETE"]) {
        const unknown = await rekey.api(
          method,
          `/api/v3/tenants/tenants/${GHOST}/`,
          method === "PATCH" ? { name: "x" } : undefined,
          auth,
        );
        assert.equal(unknown.statusCode, 404, method);
        assert.deepEqual(unknown.json(), { detail: "No Tenant matches the given query." });
      }
      const malformed = await rekey.api("GET", "/api/v3/tenants/tenants/t_acme/", undefined, auth);
      assert.equal(malformed.statusCode, 404);
      assert.deepEqual(malformed.json(), { detail: "Not found." });
    });

    test("the default tenant cannot be deleted", async (t) => {
      const rekey = await testApp(t, dialect);
      const tenant = (await defaultTenant(rekey)).tenant_uuid;
      const response = await rekey.api("DELETE", `/api/v3/tenants/tenants/${tenant}/`, undefined, auth);
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), { non_field_errors: ["The default tenant cannot be deleted."] });
      assert.equal((await rekey.api("GET", "/api/v3/core/users/me/")).statusCode, 200);
    });
  });

  describe(`/api/v3/tenants/domains/ on ${dialect}`, () => {
    test("a domain is stored lower-case, primary by default, in the documented key order", async (t) => {
      const rekey = await testApp(t, dialect);
      const tenant = await createTenant(rekey, "t_acme", "Acme");
      const domain = await createDomain(rekey, { domain: "Acme.Example.COM", tenant: tenant.toUpperCase() });
      assert.deepEqual(Object.keys(domain), ["id", "domain", "is_primary", "tenant"]);
      assert.equal(typeof domain.id, "number");
      assert.deepEqual(domain, { id: domain.id, domain: "acme.example.com", is_primary: true, tenant });
      const found = await rekey.api("GET", `/api/v3/tenants/domains/${domain.id}/`, undefined, auth);
      assert.deepEqual(found.json(), domain);
      const listed = (await rekey.api("GET", "/api/v3/tenants/domains/?search=ACME", undefined, auth)).json();
      assert.deepEqual(listed.results, [domain]);
    });

    test("domain names are unique whatever their case", async (t) => {
      const rekey = await testApp(t, dialect);
      const tenant = await createTenant(rekey, "t_acme", "Acme");
      const other = await createTenant(rekey, "t_other", "Other");
      const first = await createDomain(rekey, { domain: "acme.example.com", tenant });
      const duplicate = await rekey.api(
        "POST",
        "/api/v3/tenants/domains/",
        { domain: "ACME.example.com", tenant: other },
        auth,
      );
      assert.equal(duplicate.statusCode, 400);
      assert.deepEqual(duplicate.json(), { domain: ["Domain with this domain already exists."] });
      const second = await createDomain(rekey, { domain: "other.example.com", tenant: other });
      const renamed = await rekey.api(
        "PATCH",
        `/api/v3/tenants/domains/${second.id}/`,
        { domain: "Acme.Example.com" },
        auth,
      );
      assert.deepEqual(renamed.json(), { domain: ["Domain with this domain already exists."] });
      const same = await rekey.api(
        "PUT",
        `/api/v3/tenants/domains/${first.id}/`,
        { domain: "ACME.EXAMPLE.COM", tenant },
        auth,
      );
      assert.equal(same.statusCode, 200, "a domain keeping its own name is not a conflict");
    });

    test("saving a primary domain clears the other primaries of its tenant only", async (t) => {
      const rekey = await testApp(t, dialect);
      const tenant = await createTenant(rekey, "t_acme", "Acme");
      const other = await createTenant(rekey, "t_other", "Other");
      const a = await createDomain(rekey, { domain: "a.example.com", tenant });
      const elsewhere = await createDomain(rekey, { domain: "other.example.com", tenant: other });
      const b = await createDomain(rekey, { domain: "b.example.com", tenant, is_primary: false });
      const primaries = async (): Promise<Record<string, boolean>> => {
        const rows = (await rekey.api("GET", "/api/v3/tenants/domains/", undefined, auth)).json().results;
        return Object.fromEntries(
          rows.map((row: { domain: string; is_primary: boolean }) => [row.domain, row.is_primary]),
        );
      };
      assert.deepEqual(await primaries(), {
        "a.example.com": true,
        "b.example.com": false,
        "other.example.com": true,
      });
      await createDomain(rekey, { domain: "c.example.com", tenant });
      assert.deepEqual(await primaries(), {
        "a.example.com": false,
        "b.example.com": false,
        "c.example.com": true,
        "other.example.com": true,
      });
      const patched = await rekey.api(
        "PATCH",
        `/api/v3/tenants/domains/${b.id}/`,
        { is_primary: true },
        auth,
      );
      assert.equal(patched.statusCode, 200, patched.body);
      assert.deepEqual(patched.json(), { ...b, is_primary: true });
      assert.deepEqual(await primaries(), {
        "a.example.com": false,
        "b.example.com": true,
        "c.example.com": false,
        "other.example.com": true,
      });
      assert.equal(a.tenant, tenant);
      assert.equal(elsewhere.is_primary, true);
    });

    test("an unknown tenant is Invalid pk and a bad one is not a UUID", async (t) => {
      const rekey = await testApp(t, dialect);
      const unknown = await rekey.api(
        "POST",
        "/api/v3/tenants/domains/",
        { domain: "x.example.com", tenant: GHOST },
        auth,
      );
      assert.equal(unknown.statusCode, 400);
      assert.deepEqual(unknown.json(), { tenant: [`Invalid pk "${GHOST}" - object does not exist.`] });
      const malformed = await rekey.api(
        "POST",
        "/api/v3/tenants/domains/",
        { domain: "x.example.com", tenant: "acme" },
        auth,
      );
      assert.deepEqual(malformed.json(), { tenant: ["Must be a valid UUID."] });
      const missing = await rekey.api("POST", "/api/v3/tenants/domains/", {}, auth);
      assert.deepEqual(missing.json(), {
        domain: ["This field is required."],
        tenant: ["This field is required."],
      });
      assert.equal(
        (await rekey.api("GET", "/api/v3/tenants/domains/", undefined, auth)).json().pagination.count,
        0,
      );
    });

    test("DELETE answers 204, and unknown or malformed ids are 404", async (t) => {
      const rekey = await testApp(t, dialect);
      const tenant = await createTenant(rekey, "t_acme", "Acme");
      const domain = await createDomain(rekey, { domain: "acme.example.com", tenant });
      const deleted = await rekey.api("DELETE", `/api/v3/tenants/domains/${domain.id}/`, undefined, auth);
      assert.equal(deleted.statusCode, 204);
      assert.equal(deleted.body, "");
      const gone = await rekey.api("GET", `/api/v3/tenants/domains/${domain.id}/`, undefined, auth);
      assert.equal(gone.statusCode, 404);
      assert.deepEqual(gone.json(), { detail: "No Domain matches the given query." });
      const malformed = await rekey.api("GET", "/api/v3/tenants/domains/acme/", undefined, auth);
      assert.deepEqual(malformed.json(), { detail: "Not found." });
      const onDomain = await rekey.api("GET", "/api/v3/core/users/me/", undefined, {
        headers: { host: "acme.example.com" },
      });
      assert.equal(onDomain.statusCode, 200, "without its domain the host falls back to the default tenant");
    });
  });
}
