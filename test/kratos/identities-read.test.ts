import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createTOTPDevice, regenerateBackupCodes } from "../../src/authenticators/service.js";
import { createUser, type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  assertKratosError,
  badRequest,
  createIdentity,
  type JSONBody,
  NIL_UUID,
  systemAudit,
  userOf,
} from "./admin-support.js";

async function eventsOf(rekey: TestApp, action: string): Promise<JSONBody[]> {
  const response = await rekey.api("GET", `/api/v3/events/events/?action=${action}`);
  return response.json().results as JSONBody[];
}

for (const dialect of DIALECTS) {
  describe(`GET and DELETE /admin/identities/{id} on ${dialect}`, () => {
    test("unknown and malformed ids answer the same 404", async (t) => {
      const rekey = await testApp(t, dialect);
      const notFound = { code: 404, status: "Not Found", message: "Unable to locate the resource" };
      for (const id of [NIL_UUID, "0c6f7a0e-3b1d-4d8e-9a55-5d1f3c2b7e10", "not-a-uuid", "1"]) {
        assertKratosError(await rekey.api("GET", `/admin/identities/${id}`), 404, notFound);
        assertKratosError(await rekey.api("DELETE", `/admin/identities/${id}`), 404, notFound);
        assertKratosError(await rekey.api("PATCH", `/admin/identities/${id}`, []), 404, notFound);
      }
    });

    test("GET shows the credentials and accepts include_credential; an unknown type is a 400", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(
        rekey,
        { email: "jane@example.com" },
        { credentials: { password: { config: { password: "pw" } } } },
      );
      const got = await rekey.api("GET", `/admin/identities/${identity["id"]}?include_credential=password`);
      assert.equal(got.statusCode, 200);
      assert.deepEqual(got.json(), identity);
      assertKratosError(
        await rekey.api("GET", `/admin/identities/${identity["id"]}?include_credential=secret`),
        400,
        badRequest("Invalid value `secret` for parameter `include_credential`."),
      );
    });

    test("address ids stay the same while the email is unchanged", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(rekey, { email: "jane@example.com", name: "Jane" });
      const renamed = (
        await rekey.api("PATCH", `/admin/identities/${identity["id"]}`, [
          { op: "replace", path: "/traits/name", value: "J" },
        ])
      ).json();
      assert.equal(renamed.verifiable_addresses[0].id, identity["verifiable_addresses"][0].id);
      assert.equal(renamed.recovery_addresses[0].id, identity["recovery_addresses"][0].id);
    });

    test("DELETE removes the user with their tokens and devices; GET then answers 404", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(rekey, { email: "jane@example.com" });
      const user = await userOf(rekey, identity["id"]);
      await rekey.api("POST", "/api/v3/core/tokens/", {
        identifier: "jane-token",
        user: user.id,
        intent: "api",
      });
      await createTOTPDevice(rekey.deps, systemAudit(user.tenantId), {
        user,
        name: "phone",
        digits: 6,
        period: 30,
        algorithm: "sha1",
        secret: null,
        confirmed: true,
      });
      const response = await rekey.api("DELETE", `/admin/identities/${identity["id"]}`);
      assert.equal(response.statusCode, 204);
      assert.equal(response.body, "");
      assert.equal((await rekey.api("GET", `/admin/identities/${identity["id"]}`)).statusCode, 404);
      assert.equal((await rekey.api("GET", "/api/v3/core/tokens/jane-token/")).statusCode, 404);
      assert.equal(
        (await rekey.deps.persistence.stores.totpDevices.userTOTPDevices(user.tenantId, user.id)).length,
        0,
      );
      assert.ok(
        (await eventsOf(rekey, "model_deleted")).some((event) => event["context"].model.pk === user.id),
      );
    });
  });

  describe(`DELETE /admin/identities/{id}/credentials/{type} on ${dialect}`, () => {
    test("answers 404 naming the type twice when the identity lacks it, unknown types included", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(rekey, { email: "jane@example.com" });
      for (const type of ["totp", "lookup_secret", "webauthn", "made-up"]) {
        assertKratosError(
          await rekey.api("DELETE", `/admin/identities/${identity["id"]}/credentials/${type}`),
          404,
          {
            code: 404,
            status: "Not Found",
            reason: `You tried to remove a ${type} but this user have no ${type} set up.`,
            message: "The requested resource could not be found",
          },
        );
      }
    });

    test("refuses to remove the password, the last first factor", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(
        rekey,
        { email: "jane@example.com" },
        { credentials: { password: { config: { password: "pw" } } } },
      );
      assertKratosError(
        await rekey.api("DELETE", `/admin/identities/${identity["id"]}/credentials/password`),
        400,
        badRequest("You cannot remove the last first factor credential."),
      );
    });

    test("removes every TOTP device or every backup code, and the credential disappears", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(rekey, { email: "jane@example.com" });
      const user = await userOf(rekey, identity["id"]);
      const audit = systemAudit(user.tenantId);
      for (const name of ["phone", "tablet"]) {
        await createTOTPDevice(rekey.deps, audit, {
          user,
          name,
          digits: 6,
          period: 30,
          algorithm: "sha1",
          secret: null,
          confirmed: true,
        });
      }
      await regenerateBackupCodes(rekey.deps, audit, user);
      const before = (await rekey.api("GET", `/admin/identities/${identity["id"]}`)).json();
      assert.deepEqual(Object.keys(before.credentials), ["lookup_secret", "totp"]);
      assert.deepEqual(before.credentials.totp.identifiers, [identity["id"]]);

      const totp = await rekey.api("DELETE", `/admin/identities/${identity["id"]}/credentials/totp`);
      assert.equal(totp.statusCode, 204, totp.body);
      assert.deepEqual(
        Object.keys((await rekey.api("GET", `/admin/identities/${identity["id"]}`)).json().credentials),
        ["lookup_secret"],
      );
      assert.equal(
        (await rekey.api("DELETE", `/admin/identities/${identity["id"]}/credentials/totp`)).statusCode,
        404,
      );
      const lookup = await rekey.api(
        "DELETE",
        `/admin/identities/${identity["id"]}/credentials/lookup_secret`,
      );
      assert.equal(lookup.statusCode, 204, lookup.body);
      assert.deepEqual(
        (await rekey.api("GET", `/admin/identities/${identity["id"]}`)).json().credentials,
        {},
      );
      const deleted = await eventsOf(rekey, "model_deleted");
      assert.equal(deleted.filter((event) => event["context"].model.model_name === "totpdevice").length, 2);
    });
  });

  describe(`identities and authentik users on ${dialect}`, () => {
    test("an identity created here is an authentik user with the same uuid, and vice versa", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(rekey, { email: "jane@example.com", name: "Jane" });
      const users = (await rekey.api("GET", "/api/v3/core/users/?username=jane@example.com")).json()
        .results as JSONBody[];
      assert.equal(users.length, 1);
      assert.equal(users[0]!["uuid"], identity["id"]);
      assert.equal(users[0]!["email"], "jane@example.com");
      assert.equal(users[0]!["name"], "Jane");

      const pk = await createUser(rekey, "bob", { email: "bob@example.com" });
      const bob = (await rekey.api("GET", `/api/v3/core/users/${pk}/`)).json();
      const asIdentity = await rekey.api("GET", `/admin/identities/${bob.uuid}`);
      assert.equal(asIdentity.statusCode, 200);
      assert.deepEqual(asIdentity.json().traits, { email: "bob@example.com", name: "bob" });
      assert.ok(!("password" in asIdentity.json().credentials));
      await rekey.api("PATCH", `/api/v3/core/users/${pk}/`, { is_active: false });
      assert.equal((await rekey.api("GET", `/admin/identities/${bob.uuid}`)).json().state, "inactive");
    });

    test("a user without an email has no email trait and no addresses", async (t) => {
      const rekey = await testApp(t, dialect);
      const pk = await createUser(rekey, "noemail", { email: "" });
      const uuid = (await rekey.api("GET", `/api/v3/core/users/${pk}/`)).json().uuid;
      const identity = (await rekey.api("GET", `/admin/identities/${uuid}`)).json();
      assert.deepEqual(identity.traits, { name: "noemail" });
      assert.ok(!("verifiable_addresses" in identity));
      assert.ok(!("recovery_addresses" in identity));
    });
  });
}
