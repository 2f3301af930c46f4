import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixedClock } from "../../src/clock.js";
import { verifyPassword } from "../../src/users/passwords.js";
import { createUser, type TestApp, testApp } from "../support/app.js";
import { DIALECTS, noPostgres } from "../support/databases.js";
import {
  assertKratosError,
  badRequest,
  createIdentity,
  IDENTITY_KEYS,
  type JSONBody,
  PUBLIC_URL,
  UUID,
  userOf,
} from "./admin-support.js";

const NOW = new Date("2026-03-01T12:00:00Z");

async function eventsOf(rekey: TestApp, action: string): Promise<JSONBody[]> {
  const response = await rekey.api("GET", `/api/v3/events/events/?action=${action}`);
  return response.json().results as JSONBody[];
}

for (const dialect of DIALECTS) {
  describe(`POST /admin/identities on ${dialect}`, () => {
    test("creates a user with a hashed password and answers 201 with the identity in Kratos' key order", async (t) => {
      const rekey = await testApp(t, dialect, { clock: fixedClock(NOW) });
      const response = await rekey.api("POST", "/admin/identities", {
        schema_id: "default",
        traits: { email: "jane@example.com", name: "Jane" },
        credentials: { password: { config: { password: "correct horse" } } },
      });
      assert.equal(response.statusCode, 201, response.body);
      assert.equal(response.headers["content-type"], "application/json; charset=utf-8");
      const body = response.json() as JSONBody;
      assert.match(body["id"], UUID);
      assert.equal(response.headers["location"], `${PUBLIC_URL}/admin/identities/${body["id"]}`);
      assert.deepEqual(Object.keys(body), IDENTITY_KEYS);
      const at = "2026-03-01T12:00:00Z";
      assert.deepEqual(body["credentials"], {
        password: {
          type: "password",
          identifiers: ["jane@example.com"],
          version: 0,
          created_at: at,
          updated_at: at,
        },
      });
      assert.equal(body["schema_url"], `${PUBLIC_URL}/schemas/ZGVmYXVsdA`);
      assert.equal(body["state"], "active");
      assert.equal(body["state_changed_at"], at);
      assert.deepEqual(body["traits"], { email: "jane@example.com", name: "Jane" });
      const [verifiable] = body["verifiable_addresses"];
      assert.deepEqual(Object.keys(verifiable), [
        "id",
        "value",
        "verified",
        "via",
        "status",
        "created_at",
        "updated_at",
      ]);
      assert.deepEqual(
        { ...verifiable, id: "x" },
        {
          id: "x",
          value: "jane@example.com",
          verified: false,
          via: "email",
          status: "pending",
          created_at: at,
          updated_at: at,
        },
      );
      const [recovery] = body["recovery_addresses"];
      assert.deepEqual(
        { ...recovery, id: "x" },
        { id: "x", value: "jane@example.com", via: "email", created_at: at, updated_at: at },
      );
      assert.match(verifiable.id, UUID);
      assert.match(recovery.id, UUID);
      assert.notEqual(verifiable.id, recovery.id);
      assert.equal(body["metadata_public"], null);

      const user = await userOf(rekey, body["id"]);
      assert.equal(user.username, "jane@example.com");
      assert.equal(user.type, "internal");
      assert.equal(user.path, "users");
      const hash = await rekey.deps.persistence.stores.users.passwordHash(user.tenantId, user.id);
      assert.match(hash!, /^\$argon2id\$/);
      assert.ok(await verifyPassword(hash!, "correct horse"));
      const created = await eventsOf(rekey, "model_created");
      assert.ok(created.some((event) => event["context"].model.pk === user.id));
      const passwordSet = await eventsOf(rekey, "password_set");
      assert.equal(passwordSet.length, 1);
      assert.equal(passwordSet[0]!["context"].via, "identity_import");
    });

    test("accepts any password without a policy check, and an identity without one has no password credential", async (t) => {
      const rekey = await testApp(t, dialect);
      const weak = await createIdentity(
        rekey,
        { email: "weak@example.com" },
        { credentials: { password: { config: { password: "1" } } } },
      );
      assert.ok(weak["credentials"].password);
      const none = await createIdentity(rekey, { email: "none@example.com" });
      assert.deepEqual(none["credentials"], {});
      assert.deepEqual(none["traits"], { email: "none@example.com" }, "an empty name is left out");
      assert.equal((await eventsOf(rekey, "password_set")).length, 1);
    });

    test("stores metadata verbatim; metadata_admin is left out when unset", async (t) => {
      const rekey = await testApp(t, dialect);
      const metadata = { plan: "pro", tags: ["a", "<b>&"], nested: { n: 1.5 } };
      const withMetadata = await createIdentity(
        rekey,
        { email: "m@example.com" },
        { metadata_public: metadata, metadata_admin: [1, "two"] },
      );
      assert.deepEqual(withMetadata["metadata_public"], metadata);
      assert.deepEqual(withMetadata["metadata_admin"], [1, "two"]);
      const got = await rekey.api("GET", `/admin/identities/${withMetadata["id"]}`);
      assert.ok(got.body.includes('"<b>&"'), "JSON is written without HTML escaping");
      const without = await createIdentity(rekey, { email: "n@example.com" });
      assert.ok(!("metadata_admin" in without));
    });

    test("creates an inactive identity when asked", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(rekey, { email: "off@example.com" }, { state: "inactive" });
      assert.equal(identity["state"], "inactive");
      assert.equal((await userOf(rekey, identity["id"])).isActive, false);
    });

    test("refuses an unknown top-level field with Go's message and no reason", async (t) => {
      const rekey = await testApp(t, dialect);
      const response = await rekey.api("POST", "/admin/identities", { id: "1", traits: {} });
      assertKratosError(response, 400, {
        code: 400,
        status: "Bad Request",
        message: 'json: unknown field "id"',
      });
      const nested = await rekey.api("POST", "/admin/identities", {
        traits: { email: "a@example.com" },
        credentials: { password: { config: { pw: "x" } } },
      });
      assertKratosError(nested, 400, {
        code: 400,
        status: "Bad Request",
        message: 'json: unknown field "pw"',
      });
    });

    const traitFailures: [string, unknown, string][] = [
      ["no email", { name: "x" }, 'I[#/traits] S[#/properties/traits/required] missing properties: "email"'],
      [
        "a bad email",
        { email: "not-an-email" },
        'I[#/traits/email] S[#/properties/traits/properties/email/format] "not-an-email" is not valid "email"',
      ],
      [
        "a wrong type",
        { email: "a@example.com", name: 5 },
        "I[#/traits/name] S[#/properties/traits/properties/name/type] expected string, but got number",
      ],
      [
        "an extra trait",
        { email: "a@example.com", phone: "1" },
        'I[#/traits] S[#/properties/traits/additionalProperties] additionalProperties "phone" not allowed',
      ],
      [
        "a too long email",
        { email: `${"a".repeat(250)}@example.com` },
        "I[#/traits/email] S[#/properties/traits/properties/email/maxLength] length must be <= 254, but got 262",
      ],
      ["no traits", undefined, "I[#/traits] S[#/properties/traits/type] expected object, but got null"],
    ];
    for (const [what, traits, reason] of traitFailures) {
      test(`answers 400 with the schema's reason for ${what}`, async (t) => {
        const rekey = await testApp(t, dialect);
        assertKratosError(await rekey.api("POST", "/admin/identities", { traits }), 400, badRequest(reason));
      });
    }

    test("refuses another schema, an invalid state and fields Rekey does not support, unless they are empty", async (t) => {
      const rekey = await testApp(t, dialect);
      const traits = { email: "a@example.com" };
      assertKratosError(
        await rekey.api("POST", "/admin/identities", { schema_id: "customer", traits }),
        400,
        badRequest("Unable to find JSON Schema ID: customer"),
      );
      assertKratosError(
        await rekey.api("POST", "/admin/identities", { state: "banned", traits }),
        400,
        badRequest("identity state is not valid"),
      );
      const unsupported: [JSONBody, string][] = [
        [{ external_id: "x-1" }, "external_id"],
        [{ organization_id: "0c6f7a0e-3b1d-4d8e-9a55-5d1f3c2b7e10" }, "organization_id"],
        [{ verifiable_addresses: [{ value: "a@example.com" }] }, "verifiable_addresses"],
        [{ recovery_addresses: [{ value: "a@example.com" }] }, "recovery_addresses"],
        [{ credentials: { oidc: { config: { providers: [] } } } }, "credentials.oidc"],
        [
          { credentials: { password: { config: { hashed_password: "$2a$10$x" } } } },
          "credentials.password.config.hashed_password",
        ],
        [
          { credentials: { password: { config: { use_password_migration_hook: true } } } },
          "credentials.password.config.use_password_migration_hook",
        ],
      ];
      for (const [extra, path] of unsupported) {
        const response = await rekey.api("POST", "/admin/identities", { traits, ...extra });
        assertKratosError(response, 400, badRequest(`The field "${path}" is not supported by this server.`));
      }
      const empties = {
        external_id: "",
        organization_id: null,
        verifiable_addresses: [],
        recovery_addresses: [],
        credentials: { oidc: {} },
      };
      const accepted = await rekey.api("POST", "/admin/identities", { traits, ...empties });
      assert.equal(accepted.statusCode, 201, accepted.body);
    });

    test("answers 409 when the email or username is taken, ignoring case", async (t) => {
      const rekey = await testApp(t, dialect);
      await createIdentity(rekey, { email: "jane@example.com" });
      const conflict = {
        code: 409,
        status: "Conflict",
        reason: "This identity conflicts with another identity that already exists.",
        message: "The resource could not be created due to a conflict",
      };
      assertKratosError(
        await rekey.api("POST", "/admin/identities", { traits: { email: "JANE@Example.com" } }),
        409,
        conflict,
      );
      await createUser(rekey, "bob@example.com", { email: "other@example.com" });
      assertKratosError(
        await rekey.api("POST", "/admin/identities", { traits: { email: "Bob@example.com" } }),
        409,
        conflict,
      );
    });
  });
}

describe("POST /admin/identities under concurrency", () => {
  test("of 10 concurrent creates of one email in different cases on PostgreSQL, exactly one succeeds", {
    skip: noPostgres,
  }, async (t) => {
    const rekey = await testApp(t, "postgres");
    const emails = [
      "jane@example.com",
      "JANE@example.com",
      "Jane@Example.com",
      "jAne@example.com",
      "janE@example.COM",
    ];
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        rekey.api("POST", "/admin/identities", { traits: { email: emails[i % emails.length] } }),
      ),
    );
    const statuses = responses.map((response) => response.statusCode).sort();
    assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
    const listed = await rekey.api("GET", "/admin/identities?credentials_identifier=jane@example.com");
    assert.equal((listed.json() as JSONBody[]).length, 1);
  });
});
