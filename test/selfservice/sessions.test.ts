import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import { createIdentity, harness, KratosClient, local, P, signInWithPassword } from "./helpers.js";

const PASSWORD = "correct-horse-battery-1";
const NO_SESSION = {
  error: {
    code: 401,
    status: "Unauthorized",
    reason: "No valid session credentials found in the request.",
    message: "The request could not be authorized",
  },
};

for (const dialect of DIALECTS) {
  describe(`sessions on ${dialect}`, () => {
    test("whoami without a session, or with an unknown one, is a 401", async (t) => {
      const { rekey } = await harness(t, dialect);
      const client = new KratosClient(rekey, "api");
      for (const headers of [
        {},
        { "x-session-token": "ory_st_unknown" },
        { cookie: "ory_kratos_session=nope" },
        { authorization: "Bearer nope" },
      ] as Record<string, string>[]) {
        const response = await client.get("/sessions/whoami", headers);
        assert.equal(response.statusCode, 401);
        assert.deepEqual(response.json(), NO_SESSION);
        assert.equal(response.headers["content-type"], "application/json");
      }
    });

    test("whoami accepts the session as X-Session-Token, Bearer or cookie, and names the identity in a header", async (t) => {
      const { rekey } = await harness(t, dialect);
      const jane = await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const client = new KratosClient(rekey, "api");
      await signInWithPassword(client, "jane", PASSWORD);
      const token = client.sessionToken!;
      const anonymous = new KratosClient(rekey, "api");
      for (const headers of [
        { "x-session-token": token },
        { authorization: `Bearer ${token}` },
        { cookie: `ory_kratos_session=${token}` },
      ] as Record<string, string>[]) {
        const response = await anonymous.get("/sessions/whoami", headers);
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.headers["x-kratos-authenticated-identity-id"], jane.uuid);
        assert.equal(response.headers["content-type"], "application/json; charset=utf-8");
        const session = response.json();
        assert.deepEqual(Object.keys(session), [
          "id",
          "active",
          "expires_at",
          "authenticated_at",
          "authenticator_assurance_level",
          "authentication_methods",
          "issued_at",
          "identity",
          "devices",
        ]);
        assert.equal(session.active, true);
        assert.deepEqual(Object.keys(session.authentication_methods[0]), ["method", "aal", "completed_at"]);
        assert.equal(session.identity.metadata_admin, undefined);
        assert.equal(session.identity.credentials, undefined);
      }
    });

    test("a session of a deactivated identity is no session", async (t) => {
      const { rekey } = await harness(t, dialect);
      const jane = await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const client = new KratosClient(rekey, "api");
      await signInWithPassword(client, "jane", PASSWORD);
      await rekey.api("PATCH", `/api/v3/core/users/${jane.pk}/`, { is_active: false });
      const response = await client.get("/sessions/whoami");
      assert.equal(response.statusCode, 401);
    });

    test("tokenize_as is refused", async (t) => {
      const { rekey } = await harness(t, dialect);
      const response = await new KratosClient(rekey, "api").get("/sessions/whoami?tokenize_as=jwt");
      assert.equal(response.statusCode, 400);
      assert.equal(response.json().error.reason, "tokenize_as is not supported by this server.");
    });

    test("API logout ends the session (204); an unknown token is a 403", async (t) => {
      const { rekey } = await harness(t, dialect);
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const client = new KratosClient(rekey, "api");
      await signInWithPassword(client, "jane", PASSWORD);
      const token = client.sessionToken!;
      client.sessionToken = null;
      const out = await client.send("DELETE", "/self-service/logout/api", { json: { session_token: token } });
      assert.equal(out.statusCode, 204, out.body);
      assert.equal((await client.get("/sessions/whoami", { "x-session-token": token })).statusCode, 401);
      const again = await client.send("DELETE", "/self-service/logout/api", {
        json: { session_token: token },
      });
      assert.equal(again.statusCode, 403);
      assert.deepEqual(again.json(), {
        error: {
          code: 403,
          status: "Forbidden",
          reason: "Unable to parse or find the session token.",
          message: "The requested action was forbidden",
        },
      });
      const events = await rekey.api("GET", "/api/v3/events/events/?action=logout");
      assert.equal(events.json().results.length, 1);
    });

    test("browser logout: a logout URL for the session, which ends it and returns to the login UI", async (t) => {
      const { rekey } = await harness(t, dialect);
      await createIdentity(rekey, "jane", { email: "jane@example.com", password: PASSWORD });
      const browser = new KratosClient(rekey, "spa");
      await signInWithPassword(browser, "jane", PASSWORD);
      const created = await browser.get("/self-service/logout/browser");
      assert.equal(created.statusCode, 200, created.body);
      const { logout_url: url, logout_token: token } = created.json();
      assert.equal(url, `${P}/self-service/logout?token=${token}`);
      const forged = await browser.get(`/self-service/logout?token=ory_lo_${"0".repeat(64)}`, {
        accept: "text/html",
      });
      assert.equal(forged.statusCode, 303);
      assert.match(String(forged.headers["location"]), /\/ui\/error\?id=forbidden$/);
      const out = await browser.get(local(url), { accept: "text/html" });
      assert.equal(out.statusCode, 303);
      assert.equal(out.headers["location"], `${P}/ui/login`);
      assert.equal(browser.cookies.has("ory_kratos_session"), false);
      assert.equal((await browser.get("/sessions/whoami")).statusCode, 401);
      const anonymous = await new KratosClient(rekey, "spa").get("/self-service/logout/browser");
      assert.equal(anonymous.statusCode, 401);
      assert.equal(anonymous.json().error.id, "session_inactive");
    });
  });
}
