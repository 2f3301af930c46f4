import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixedClock } from "../../src/clock.js";
import { createUser, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import { assertKratosError, badRequest, createIdentity, type JSONBody, userOf } from "./admin-support.js";

const NOW = new Date("2026-03-01T12:00:00Z");

function patchFailed(message: string): JSONBody {
  return { ...badRequest("failed to apply JSON patch"), message };
}

for (const dialect of DIALECTS) {
  describe(`PATCH /admin/identities/{id} on ${dialect}`, () => {
    test("deactivates, moving state_changed_at, and marks the address verified", async (t) => {
      const clock = fixedClock(NOW);
      const rekey = await testApp(t, dialect, { clock });
      const identity = await createIdentity(rekey, { email: "jane@example.com", name: "Jane" });
      clock.advance(3_600_000);
      const response = await rekey.api("PATCH", `/admin/identities/${identity["id"]}`, [
        { op: "replace", path: "/state", value: "inactive" },
        { op: "replace", path: "/verifiable_addresses/0/verified", value: true },
      ]);
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.headers["content-type"], "application/json; charset=utf-8");
      const body = response.json() as JSONBody;
      assert.equal(body["state"], "inactive");
      assert.equal(body["state_changed_at"], "2026-03-01T13:00:00Z");
      assert.ok("credentials" in body);
      const [address] = body["verifiable_addresses"];
      assert.deepEqual(Object.keys(address), [
        "id",
        "value",
        "verified",
        "via",
        "status",
        "verified_at",
        "created_at",
        "updated_at",
      ]);
      assert.equal(address.verified, true);
      assert.equal(address.status, "completed");
      assert.equal(address.verified_at, "2026-03-01T13:00:00Z");
      const user = await userOf(rekey, identity["id"]);
      assert.equal(user.isActive, false);
      assert.equal(user.emailVerified, true);
      const events = (await rekey.api("GET", "/api/v3/events/events/?action=model_updated")).json()
        .results as JSONBody[];
      assert.ok(events.some((event) => event["context"].model.pk === user.id));
    });

    test("refuses an invalid state with Kratos' text; an unchanged state keeps state_changed_at", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(rekey, { email: "jane@example.com" });
      assertKratosError(
        await rekey.api("PATCH", `/admin/identities/${identity["id"]}`, [
          { op: "replace", path: "/state", value: "invalid-value" },
        ]),
        400,
        badRequest(
          "The supplied state ('invalid-value') was not valid. Valid states are ('active', 'inactive').",
        ),
      );
      const same = (
        await rekey.api("PATCH", `/admin/identities/${identity["id"]}`, [
          { op: "replace", path: "/state", value: "active" },
        ])
      ).json();
      assert.equal(same.state_changed_at, identity["state_changed_at"]);
    });

    test("refuses denied paths, case-insensitively, and operations other than add, remove and replace", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(rekey, { email: "jane@example.com" });
      const url = `/admin/identities/${identity["id"]}`;
      for (const path of [
        "/id",
        "/ID",
        "/stateChangedAt",
        "/credentials",
        "/credentials/password",
        "/Credentials/password/identifiers/0",
      ]) {
        assertKratosError(
          await rekey.api("PATCH", url, [{ op: "replace", path, value: "x" }]),
          400,
          patchFailed(`patch includes denied path: ${path}`),
        );
      }
      for (const op of ["move", "copy", "test", "frobnicate"]) {
        assertKratosError(
          await rekey.api("PATCH", url, [{ op, path: "/traits/name", from: "/traits/email", value: "x" }]),
          400,
          patchFailed(`unsupported operation: ${op}`),
        );
      }
      assertKratosError(
        await rekey.api("PATCH", url, [{ path: "/traits/name", value: "x" }]),
        400,
        patchFailed("unsupported operation: unknown"),
      );
    });

    test("answers 400 when the patch does not apply or is not a patch", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(rekey, { email: "jane@example.com" });
      const url = `/admin/identities/${identity["id"]}`;
      const missing = await rekey.api("PATCH", url, [{ op: "replace", path: "/nothing/here", value: 1 }]);
      assert.equal(missing.statusCode, 400);
      assert.equal(missing.json().error.reason, "failed to apply JSON patch");
      const notAList = await rekey.api("PATCH", url, { op: "replace" });
      assertKratosError(
        notAList,
        400,
        patchFailed("json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
      );
      const broken = await rekey.api("PATCH", url, "[{");
      assert.equal(broken.statusCode, 400);
      assert.equal(broken.json().error.reason, "failed to apply JSON patch");
    });

    test("takes back only traits, state, schema_id, metadata and the verified flag", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(rekey, { email: "jane@example.com", name: "Jane" });
      const response = await rekey.api("PATCH", `/admin/identities/${identity["id"]}`, [
        { op: "replace", path: "/created_at", value: "2000-01-01T00:00:00Z" },
        { op: "replace", path: "/schema_url", value: "https://evil.example/" },
        { op: "replace", path: "/recovery_addresses/0/value", value: "evil@example.com" },
        { op: "add", path: "/metadata_admin", value: { note: "vip" } },
        { op: "replace", path: "/metadata_public", value: { plan: "pro" } },
        { op: "remove", path: "/traits/name" },
      ]);
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json() as JSONBody;
      assert.equal(body["created_at"], identity["created_at"]);
      assert.equal(body["schema_url"], identity["schema_url"]);
      assert.equal(body["recovery_addresses"][0].value, "jane@example.com");
      assert.deepEqual(body["metadata_admin"], { note: "vip" });
      assert.deepEqual(body["metadata_public"], { plan: "pro" });
      assert.deepEqual(body["traits"], { email: "jane@example.com" });
      const cleared = (
        await rekey.api("PATCH", `/admin/identities/${identity["id"]}`, [
          { op: "remove", path: "/metadata_admin" },
        ])
      ).json();
      assert.ok(!("metadata_admin" in cleared));
      assertKratosError(
        await rekey.api("PATCH", `/admin/identities/${identity["id"]}`, [
          { op: "replace", path: "/schema_id", value: "other" },
        ]),
        400,
        badRequest("Unable to find JSON Schema ID: other"),
      );
      assertKratosError(
        await rekey.api("PATCH", `/admin/identities/${identity["id"]}`, [
          { op: "add", path: "/traits/age", value: 3 },
        ]),
        400,
        badRequest(
          'I[#/traits] S[#/properties/traits/additionalProperties] additionalProperties "age" not allowed',
        ),
      );
    });

    test("a new email resets verification, changes the address ids and the username follows it", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(rekey, { email: "jane@example.com" });
      const url = `/admin/identities/${identity["id"]}`;
      await rekey.api("PATCH", url, [
        { op: "replace", path: "/verifiable_addresses/0/verified", value: true },
      ]);
      const response = await rekey.api("PATCH", url, [
        { op: "replace", path: "/traits/email", value: "Jane.Doe@example.com" },
        { op: "replace", path: "/verifiable_addresses/0/verified", value: true },
      ]);
      assert.equal(response.statusCode, 200, response.body);
      const [address] = response.json().verifiable_addresses;
      assert.equal(address.value, "jane.doe@example.com");
      assert.equal(address.verified, false);
      assert.equal(address.status, "pending");
      assert.ok(!("verified_at" in address));
      assert.notEqual(address.id, identity["verifiable_addresses"][0].id);
      assert.equal((await userOf(rekey, identity["id"])).username, "Jane.Doe@example.com");
    });

    test("the tenant's last active superuser can be neither deactivated nor deleted", async (t) => {
      const rekey = await testApp(t, dialect);
      const admin = (
        await rekey.api("GET", "/admin/identities?credentials_identifier=admin@example.com")
      ).json()[0] as JSONBody;
      const lastSuperuser = badRequest("Cannot remove the last superuser.");
      assertKratosError(
        await rekey.api("PATCH", `/admin/identities/${admin["id"]}`, [
          { op: "replace", path: "/state", value: "inactive" },
        ]),
        400,
        lastSuperuser,
      );
      assertKratosError(await rekey.api("DELETE", `/admin/identities/${admin["id"]}`), 400, lastSuperuser);
      assert.equal((await userOf(rekey, admin["id"])).isActive, true);
    });

    test("answers 409 with Kratos' text when the new email belongs to another user", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(rekey, { email: "jane@example.com" });
      await createIdentity(rekey, { email: "taken@example.com" });
      await createUser(rekey, "bob", { email: "bob@example.com" });
      const conflict = {
        code: 409,
        status: "Conflict",
        message: "Unable to insert or update resource because a resource with that value exists already",
      };
      for (const email of ["TAKEN@example.com", "bob@example.com"]) {
        assertKratosError(
          await rekey.api("PATCH", `/admin/identities/${identity["id"]}`, [
            { op: "replace", path: "/traits/email", value: email },
          ]),
          409,
          conflict,
        );
      }
    });
  });
}
