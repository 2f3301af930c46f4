import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { Configuration, type Identity, IdentityApi } from "@ory/client";
import axios from "axios";
import { ADMIN_TOKEN, type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import { createUser } from "../support/app.js";
import { defaultTenantId, type JSONBody, systemAudit, userOf } from "./admin-support.js";
import { createTOTPDevice } from "../../src/authenticators/service.js";

/**
 * The official client, @ory/client, against Rekey on a real socket: a provisioning job and a
 * help-desk script written for Kratos must work once their base URL points here.
 */

async function listening(
  t: Parameters<typeof testApp>[0],
  dialect: (typeof DIALECTS)[number],
): Promise<{ rekey: TestApp; url: string }> {
  const rekey = await testApp(t, dialect);
  await rekey.app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = rekey.app.server.address() as AddressInfo;
  return { rekey, url: `http://127.0.0.1:${port}` };
}

/** What a rejected client call answered. */
async function failure(call: Promise<unknown>): Promise<{ status: number; body: JSONBody }> {
  try {
    await call;
  } catch (error) {
    // The client requires axios' CommonJS build, so its errors are not this module's AxiosError.
    assert.ok(axios.isAxiosError(error) && error.response !== undefined, String(error));
    return { status: error.response.status, body: error.response.data as JSONBody };
  }
  assert.fail("the call succeeded");
}

for (const dialect of DIALECTS) {
  describe(`@ory/client IdentityApi on ${dialect}`, () => {
    test("creates, lists, reads, patches, resets MFA and deletes identities", async (t) => {
      const { rekey, url } = await listening(t, dialect);
      const api = new IdentityApi(new Configuration({ basePath: url, accessToken: ADMIN_TOKEN }));

      const created = await api.createIdentity({
        createIdentityBody: {
          schema_id: "default",
          traits: { email: "jane@example.com", name: "Jane" },
          credentials: { password: { config: { password: "correct horse battery" } } },
          metadata_public: { plan: "pro" },
        },
      });
      assert.equal(created.status, 201);
      const jane: Identity = created.data;
      assert.equal(jane.schema_id, "default");
      assert.equal(jane.state, "active");
      assert.deepEqual(jane.traits, { email: "jane@example.com", name: "Jane" });
      assert.deepEqual(jane.credentials?.password?.identifiers, ["jane@example.com"]);
      assert.equal(jane.verifiable_addresses?.[0]?.status, "pending");
      assert.equal(created.headers["location"], `http://localhost:9000/admin/identities/${jane.id}`);

      const page = await api.listIdentities({ pageSize: 1 });
      assert.equal(page.data.length, 1);
      assert.match(String(page.headers["link"]), /rel="next"/);
      const byIds = await api.listIdentities({ ids: [jane.id] });
      assert.deepEqual(
        byIds.data.map((identity) => identity.id),
        [jane.id],
      );
      const byIdentifier = await api.listIdentities({ credentialsIdentifier: "JANE@example.com" });
      assert.equal(byIdentifier.data[0]?.id, jane.id);

      const got = await api.getIdentity({ id: jane.id, includeCredential: ["password"] });
      assert.deepEqual(got.data.metadata_public, { plan: "pro" });

      const patched = await api.patchIdentity({
        id: jane.id,
        jsonPatch: [
          { op: "replace", path: "/state", value: "inactive" },
          { op: "replace", path: "/verifiable_addresses/0/verified", value: true },
        ],
      });
      assert.equal(patched.data.state, "inactive");
      assert.equal(patched.data.verifiable_addresses?.[0]?.verified, true);

      const user = await userOf(rekey, jane.id);
      await createTOTPDevice(rekey.deps, systemAudit(defaultTenantId(rekey)), {
        user,
        name: "phone",
        digits: 6,
        period: 30,
        algorithm: "sha1",
        secret: null,
        confirmed: true,
      });
      assert.ok((await api.getIdentity({ id: jane.id })).data.credentials?.totp);
      const reset = await api.deleteIdentityCredentials({ id: jane.id, type: "totp" });
      assert.equal(reset.status, 204);
      assert.equal((await api.getIdentity({ id: jane.id })).data.credentials?.totp, undefined);
      const again = await failure(api.deleteIdentityCredentials({ id: jane.id, type: "totp" }));
      assert.equal(again.status, 404);
      assert.equal(
        again.body["error"].reason,
        "You tried to remove a totp but this user have no totp set up.",
      );
      const password = await failure(api.deleteIdentityCredentials({ id: jane.id, type: "password" }));
      assert.equal(password.status, 400);

      const conflict = await failure(
        api.createIdentity({
          createIdentityBody: { schema_id: "default", traits: { email: "JANE@example.com" } },
        }),
      );
      assert.equal(conflict.status, 409);

      assert.equal((await api.deleteIdentity({ id: jane.id })).status, 204);
      const gone = await failure(api.getIdentity({ id: jane.id }));
      assert.deepEqual(gone, {
        status: 404,
        body: { error: { code: 404, status: "Not Found", message: "Unable to locate the resource" } },
      });
    });

    test("refuses a client without a token or with a non-superuser's token", async (t) => {
      const { rekey, url } = await listening(t, dialect);
      const anonymous = new IdentityApi(new Configuration({ basePath: url }));
      assert.equal((await failure(anonymous.listIdentities())).status, 401);
      const pk = await createUser(rekey, "helpdesk");
      const created = await rekey.api("POST", "/api/v3/core/tokens/", {
        identifier: "helpdesk-token",
        user: pk,
        intent: "api",
      });
      assert.equal(created.statusCode, 201);
      const key = (await rekey.api("GET", "/api/v3/core/tokens/helpdesk-token/view_key/")).json()
        .key as string;
      const plain = new IdentityApi(new Configuration({ basePath: url, accessToken: key }));
      const refused = await failure(
        plain.createRecoveryCodeForIdentity({
          createRecoveryCodeForIdentityBody: { identity_id: "0c6f7a0e-3b1d-4d8e-9a55-5d1f3c2b7e10" },
        }),
      );
      assert.equal(refused.status, 403);
    });
  });

  describe(`@ory/client admin recovery on ${dialect}`, () => {
    test("a help-desk script gets a code and a link for an identity", async (t) => {
      const { url } = await listening(t, dialect);
      const api = new IdentityApi(new Configuration({ basePath: url, accessToken: ADMIN_TOKEN }));
      const jane = (
        await api.createIdentity({
          createIdentityBody: { schema_id: "default", traits: { email: "jane@example.com" } },
        })
      ).data;

      const code = await api.createRecoveryCodeForIdentity({
        createRecoveryCodeForIdentityBody: { identity_id: jane.id, expires_in: "15m" },
      });
      assert.equal(code.status, 201);
      assert.match(code.data.recovery_link, /^http:\/\/localhost:9000\/ui\/recovery\?flow=[0-9a-f-]{36}$/);
      assert.match(code.data.recovery_code, /^[0-9]{6}$/);
      assert.ok(code.data.expires_at !== undefined && new Date(code.data.expires_at).getTime() > Date.now());

      const link = await api.createRecoveryLinkForIdentity({
        createRecoveryLinkForIdentityBody: { identity_id: jane.id, expires_in: "24h" },
        returnTo: "http://localhost:9000/welcome",
      });
      assert.equal(link.status, 200);
      assert.match(
        link.data.recovery_link,
        /^http:\/\/localhost:9000\/self-service\/recovery\?flow=[0-9a-f-]{36}&token=[A-Za-z0-9]{32}$/,
      );

      const expired = await failure(
        api.createRecoveryCodeForIdentity({
          createRecoveryCodeForIdentityBody: { identity_id: jane.id, expires_in: "-1h" },
        }),
      );
      assert.deepEqual(expired, {
        status: 400,
        body: {
          error: {
            code: 400,
            status: "Bad Request",
            reason: 'Value from "expires_in" must result to a future time: -1h0m0s',
            message: "The request was malformed or contained invalid parameters",
          },
        },
      });
      const unknown = await failure(
        api.createRecoveryCodeForIdentity({
          createRecoveryCodeForIdentityBody: { identity_id: "0c6f7a0e-3b1d-4d8e-9a55-5d1f3c2b7e10" },
        }),
      );
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body["error"].reason, "could not find identity");
    });

    test("through the /iam gateway prefix", async (t) => {
      const { url } = await listening(t, dialect);
      // The client appends its own `/admin/...` paths to basePath, so `${url}/iam` alone would ask
      // for `/iam/admin/recovery/code`, which Rekey does not serve (kratos.md §1 lists `/iam/…` ≡
      // `/admin/…`). A gateway-configured script maps the client's paths onto the prefix instead.
      const gateway = axios.create();
      gateway.interceptors.request.use((config) => ({
        ...config,
        url: config.url?.replace(`${url}/admin/`, `${url}/iam/`),
      }));
      // The client's own axios type comes from axios' CommonJS typings; the instance is the same thing.
      const api = new IdentityApi(
        new Configuration({ basePath: url, accessToken: ADMIN_TOKEN }),
        url,
        gateway as unknown as ConstructorParameters<typeof IdentityApi>[2],
      );
      const jane = (
        await api.createIdentity({
          createIdentityBody: { schema_id: "default", traits: { email: "jane@example.com" } },
        })
      ).data;
      const code = await api.createRecoveryCodeForIdentity({
        createRecoveryCodeForIdentityBody: { identity_id: jane.id },
      });
      assert.equal(code.status, 201);
      assert.equal(code.request.path, "/iam/recovery/code");
      const link = await api.createRecoveryLinkForIdentity({
        createRecoveryLinkForIdentityBody: { identity_id: jane.id },
      });
      assert.equal(link.status, 200);
      assert.equal(link.request.path, "/iam/recovery/link");

      const raw = await fetch(`${url}/iam/recovery/code`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ identity_id: jane.id, expires_in: "1.5h" }),
      });
      assert.equal(raw.status, 201);
      assert.deepEqual(Object.keys((await raw.json()) as object), [
        "recovery_link",
        "recovery_code",
        "expires_at",
      ]);

      const prefixed = new IdentityApi(
        new Configuration({ basePath: `${url}/iam`, accessToken: ADMIN_TOKEN }),
      );
      const notServed = await failure(
        prefixed.createRecoveryCodeForIdentity({
          createRecoveryCodeForIdentityBody: { identity_id: jane.id },
        }),
      );
      assert.equal(notServed.status, 404, "/iam/admin/… is not an admin path");
    });
  });
}
