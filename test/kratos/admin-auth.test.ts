import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixedClock } from "../../src/clock.js";
import { createUser, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  assertKratosError,
  createIdentity,
  defaultTenantId,
  type JSONBody,
  NIL_UUID,
  plainUserToken,
  secondTenant,
} from "./admin-support.js";

const NOW = new Date("2026-03-01T12:00:00Z");

for (const dialect of DIALECTS) {
  describe(`admin authentication on ${dialect}`, () => {
    const noToken = {
      code: 401,
      status: "Unauthorized",
      reason: "No API token was found in the Authorization header.",
      message: "The request could not be authorized",
    };
    const invalid = { ...noToken, reason: "The API token is invalid or has expired." };
    const forbidden = {
      code: 403,
      status: "Forbidden",
      reason: "The API token's owner is not allowed to use the admin API.",
      message: "The requested action was forbidden",
    };

    test("answers 401 without a bearer token and for an unknown one, 403 for a non-superuser, on both prefixes", async (t) => {
      const rekey = await testApp(t, dialect);
      const plain = await plainUserToken(rekey);
      for (const prefix of ["/admin", "/iam"]) {
        assertKratosError(
          await rekey.api("GET", `${prefix}/identities`, undefined, { token: null }),
          401,
          noToken,
        );
        const basic = await rekey.api("GET", `${prefix}/identities`, undefined, {
          token: null,
          headers: { authorization: "Basic YWRtaW46YWRtaW4=" },
        });
        assertKratosError(basic, 401, noToken);
        const two = await rekey.api("GET", `${prefix}/identities`, undefined, {
          token: null,
          headers: { authorization: "Bearer a b" },
        });
        assertKratosError(two, 401, noToken);
        assertKratosError(
          await rekey.api("GET", `${prefix}/identities`, undefined, { token: "wrong" }),
          401,
          invalid,
        );
        assertKratosError(
          await rekey.api("GET", `${prefix}/identities`, undefined, { token: plain }),
          403,
          forbidden,
        );
        assertKratosError(
          await rekey.api("POST", `${prefix}/recovery/code`, {}, { token: plain }),
          403,
          forbidden,
        );
      }
    });

    test("refuses an expired token and a token whose owner was deactivated", async (t) => {
      const clock = fixedClock(NOW);
      const rekey = await testApp(t, dialect, { clock });
      const pk = await createUser(rekey, "second-admin", { superuser: true });
      const created = await rekey.api("POST", "/api/v3/core/tokens/", {
        identifier: "short",
        user: pk,
        intent: "api",
        expiring: true,
        expires: new Date(NOW.getTime() + 60_000).toISOString(),
      });
      assert.equal(created.statusCode, 201, created.body);
      const key = (await rekey.api("GET", "/api/v3/core/tokens/short/view_key/")).json().key as string;
      assert.equal((await rekey.api("GET", "/admin/identities", undefined, { token: key })).statusCode, 200);
      clock.advance(120_000);
      assertKratosError(await rekey.api("GET", "/admin/identities", undefined, { token: key }), 401, invalid);
      const other = await rekey.api("POST", "/api/v3/core/tokens/", {
        identifier: "long",
        user: pk,
        intent: "api",
        expiring: false,
      });
      assert.equal(other.statusCode, 201, other.body);
      const longKey = (await rekey.api("GET", "/api/v3/core/tokens/long/view_key/")).json().key as string;
      await rekey.api("PATCH", `/api/v3/core/users/${pk}/`, { is_active: false });
      assertKratosError(
        await rekey.api("GET", "/admin/identities", undefined, { token: longKey }),
        401,
        invalid,
      );
    });

    test("a tenant's token does not work on another tenant, and identities do not cross tenants", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(rekey, { email: "jane@example.com" });
      const b = await secondTenant(rekey, "b.example.com");
      const onB = { headers: { host: "b.example.com" } };
      assertKratosError(await rekey.api("GET", "/admin/identities", undefined, onB), 401, invalid);
      const asB = { token: b.key, headers: { host: "b.example.com" } };
      assert.equal(
        (await rekey.api("GET", `/admin/identities/${identity["id"]}`, undefined, asB)).statusCode,
        404,
      );
      const listed = (await rekey.api("GET", "/admin/identities", undefined, asB)).json() as JSONBody[];
      assert.deepEqual(
        listed.map((item) => item["traits"].email),
        ["admin@b.example.com"],
      );
      const onBsIdentity = await rekey.api(
        "POST",
        "/admin/identities",
        { traits: { email: "jane@example.com" } },
        asB,
      );
      assert.equal(onBsIdentity.statusCode, 201, "the same email may exist in another tenant");
      assert.equal(
        onBsIdentity.headers["location"],
        `http://b.example.com/admin/identities/${onBsIdentity.json().id}`,
      );
      assert.ok(defaultTenantId(rekey) !== b.tenantId);
    });
  });

  describe(`unknown admin routes on ${dialect}`, () => {
    test("answer Kratos' JSON 404 under both prefixes and without one", async (t) => {
      const rekey = await testApp(t, dialect);
      const body = JSON.stringify({
        error: { code: 404, status: "Not Found", message: "The requested resource could not be found" },
      });
      for (const [method, url] of [
        ["GET", "/admin/nothing"],
        ["GET", "/iam/nothing/here"],
        ["POST", "/admin/identities/batch"],
        ["PUT", "/admin/identities"],
        ["GET", "/admin/recovery/code"],
        ["POST", "/recovery/code"],
        ["GET", "/identities"],
      ] as const) {
        const response = await rekey.api(method, url);
        assert.equal(response.statusCode, 404, `${method} ${url}`);
        assert.equal(response.body, body, `${method} ${url}`);
      }
      const admin = await rekey.api("GET", "/admin/nothing");
      assert.equal(admin.headers["content-type"], "application/json");
      assert.equal(admin.headers["ory-error-id"], "");
    });

    test("echo X-Request-ID as the error's request", async (t) => {
      const rekey = await testApp(t, dialect);
      const response = await rekey.api("GET", `/admin/identities/${NIL_UUID}`, undefined, {
        headers: { "x-request-id": "req-42" },
      });
      assert.equal(
        response.body,
        JSON.stringify({
          error: {
            code: 404,
            status: "Not Found",
            request: "req-42",
            message: "Unable to locate the resource",
          },
        }),
      );
    });
  });
}
