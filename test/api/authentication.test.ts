import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import { ADMIN_TOKEN, createTokenFor, createUser, TENANTS_KEY, testApp } from "../support/app.js";

const NOT_PROVIDED = { detail: "Authentication credentials were not provided." };
const INVALID = { detail: "Token invalid/expired" };

for (const dialect of DIALECTS) {
  describe(`/api/v3 authentication on ${dialect}`, () => {
    test("no header, a foreign scheme, an empty or doubled Bearer all answer 403 'not provided'", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const authorization of [
        undefined,
        "foo bar",
        "Bearer ",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        `Bearer ${ADMIN_TOKEN} extra`,
      ]) {
        const response = await rekey.app.inject({
          method: "GET",
          url: "/api/v3/core/tokens/",
          headers: authorization === undefined ? {} : { authorization },
        });
        assert.equal(response.statusCode, 403, String(authorization));
        assert.deepEqual(response.json(), NOT_PROVIDED);
        assert.equal(response.headers["www-authenticate"], undefined);
      }
    });

    test("the scheme is case-insensitive and a valid api token authenticates", async (t) => {
      const rekey = await testApp(t, dialect);
      const response = await rekey.app.inject({
        method: "GET",
        url: "/api/v3/core/users/me/",
        headers: { authorization: `bEaReR ${ADMIN_TOKEN}` },
      });
      assert.equal(response.statusCode, 200);
      assert.equal(response.json().user.username, "akadmin");
      assert.equal(response.json().user.is_superuser, true);
    });

    test("an unknown key, an app password, an expired token and an inactive owner give 'Token invalid/expired'", async (t) => {
      const rekey = await testApp(t, dialect);
      assert.deepEqual(
        (await rekey.api("GET", "/api/v3/core/users/me/", undefined, { token: "nope" })).json(),
        INVALID,
      );

      const jdoe = await createUser(rekey, "jdoe");
      await rekey.api("POST", "/api/v3/core/tokens/", {
        identifier: "jdoe-app",
        user: jdoe,
        intent: "app_password",
      });
      const appKey = (await rekey.api("GET", "/api/v3/core/tokens/jdoe-app/view_key/")).json().key;
      const appResponse = await rekey.api("GET", "/api/v3/core/users/me/", undefined, { token: appKey });
      assert.equal(appResponse.statusCode, 403);
      assert.deepEqual(appResponse.json(), INVALID);

      const key = await createTokenFor(rekey, jdoe, "jdoe-api");
      assert.equal(
        (await rekey.api("GET", "/api/v3/core/users/me/", undefined, { token: key })).statusCode,
        200,
      );
      await rekey.api("PATCH", "/api/v3/core/tokens/jdoe-api/", { expires: "2000-01-01T00:00:00Z" });
      assert.deepEqual(
        (await rekey.api("GET", "/api/v3/core/users/me/", undefined, { token: key })).json(),
        INVALID,
      );

      const key2 = await createTokenFor(rekey, jdoe, "jdoe-api-2");
      await rekey.api("PATCH", `/api/v3/core/users/${jdoe}/`, { is_active: false });
      assert.deepEqual(
        (await rekey.api("GET", "/api/v3/core/users/me/", undefined, { token: key2 })).json(),
        INVALID,
      );
    });

    test("a token of tenant A is unknown on tenant B's host", async (t) => {
      const rekey = await testApp(t, dialect);
      const tenantsAuth = { token: TENANTS_KEY };
      const tenant = await rekey.api(
        "POST",
        "/api/v3/tenants/tenants/",
        { schema_name: "t_acme", name: "Acme" },
        tenantsAuth,
      );
      assert.equal(tenant.statusCode, 201);
      const domain = await rekey.api(
        "POST",
        "/api/v3/tenants/domains/",
        { domain: "acme.example.com", tenant: tenant.json().tenant_uuid },
        tenantsAuth,
      );
      assert.equal(domain.statusCode, 201);
      const onB = await rekey.api("GET", "/api/v3/core/users/me/", undefined, {
        headers: { host: "ACME.example.com:9000" },
      });
      assert.equal(onB.statusCode, 403);
      assert.deepEqual(onB.json(), INVALID);
      const onA = await rekey.api("GET", "/api/v3/core/users/me/", undefined, {
        headers: { host: "localhost:9000" },
      });
      assert.equal(onA.statusCode, 200);
    });
  });
}
