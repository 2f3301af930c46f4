import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import type { Dialect } from "../../src/db/database.js";
import { issueSession } from "../../src/sessions/service.js";
import { addTOTPDevice } from "../pages/helpers.js";
import { DIALECTS } from "../support/databases.js";
import { recordStatements } from "../support/statements.js";
import {
  createIdentity,
  defaultTenantId,
  harness,
  KratosClient,
  signInWithPassword,
  startLogin,
  startRecovery,
  submitEmail,
} from "./helpers.js";

/**
 * How many SQL statements the hot public reads and writes cost, counted at the driver: whoami is one
 * query (no write while the session was seen within the minute), and on PostgreSQL a recovery
 * address submission costs the same statements whether or not the address names an account.
 * Transaction control (BEGIN, COMMIT, savepoints) is left out: SQLite's group commit shares it
 * between requests, and PostgreSQL's address step needs none.
 */

/** The identity "ada" with an aal1 api session, issued directly (no login statements to count). */
async function adaSignedIn(t: TestContext, dialect: Dialect) {
  const { rekey } = await harness(t, dialect);
  const ada = await createIdentity(rekey, "ada");
  const { token } = await issueSession(rekey.deps, rekey.deps.persistence.stores, {
    tenantId: await defaultTenantId(rekey),
    userId: ada.pk,
    kind: "api",
    aal: "aal1",
    authMethods: ["password"],
  });
  return { rekey, ada, token };
}

for (const dialect of DIALECTS) {
  describe(`statement counts on ${dialect}`, () => {
    test("whoami is one statement: the session, its identity and the second-factor check", async (t) => {
      const { rekey, ada, token } = await adaSignedIn(t, dialect);
      const client = new KratosClient(rekey, "api");
      client.sessionToken = token;
      assert.equal((await client.get("/sessions/whoami")).statusCode, 200); // warms the tenant cache
      const recorder = recordStatements(t, dialect);
      const response = await client.get("/sessions/whoami");
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.headers["x-kratos-authenticated-identity-id"], ada.uuid);
      assert.equal(recorder.take().length, 1);

      // With a second factor the aal1 session is refused, still in one statement.
      await addTOTPDevice(rekey, ada.pk);
      recorder.take();
      assert.equal((await client.get("/sessions/whoami")).statusCode, 403);
      assert.equal(recorder.take().length, 1);
    });

    test("a flow's signed-in session: session and user in one statement, groups in another", async (t) => {
      const { rekey, token } = await adaSignedIn(t, dialect);
      const client = new KratosClient(rekey, "api");
      assert.equal((await client.get("/sessions/whoami")).statusCode, 401); // warms the tenant cache
      const recorder = recordStatements(t, dialect);
      const response = await client.send("DELETE", "/self-service/logout/api", {
        json: { session_token: token },
      });
      assert.equal(response.statusCode, 204, response.body);
      // The signed-in read (two statements), then the revocation and its event.
      const statements = recorder.take();
      assert.equal(statements.length, 4, statements.join("\n"));
      assert.match(statements[0]!, /from "session" as "s" inner join "user" as "u"/);
    });

    test("a settings flow asks no second-factor query of its own: the signed-in read answers it", async (t) => {
      const { rekey, ada, token } = await adaSignedIn(t, dialect);
      await addTOTPDevice(rekey, ada.pk);
      const client = new KratosClient(rekey, "api");
      client.sessionToken = token;
      assert.equal((await client.get("/sessions/whoami")).statusCode, 403); // warms the tenant cache
      const recorder = recordStatements(t, dialect);
      const response = await client.get("/self-service/settings/api");
      assert.equal(response.statusCode, 403, response.body);
      assert.equal(response.json().error.id, "session_aal2_required");
      const statements = recorder.take();
      assert.equal(statements.length, 2, statements.join("\n"));
      assert.match(statements[0]!, /from "session" as "s" inner join "user" as "u"/);
    });

    test("a password login's writes: one statement on PostgreSQL", async (t) => {
      const { rekey } = await harness(t, dialect);
      const ada = await createIdentity(rekey, "ada", { password: "correct-horse-battery-1" });
      const client = new KratosClient(rekey, "api");
      await startLogin(client); // warms the tenant cache
      const recorder = recordStatements(t, dialect);
      const response = await signInWithPassword(client, "ada", "correct-horse-battery-1");
      const statements = recorder.take();
      // The flow's creation, then: the flow, the client's limit, the user with its hash, the
      // account's limit, and the writes (session, last_login, flow, event): on PostgreSQL one
      // statement, on SQLite one each inside a group-committed transaction.
      assert.equal(statements.length, dialect === "postgres" ? 6 : 9, statements.join("\n"));
      assert.match(
        statements[statements.length - 1]!,
        dialect === "postgres" ? /^with / : /insert into "event"/,
      );

      // What the one statement wrote is all there: the session works, last_login is set.
      const whoami = await client.get("/sessions/whoami");
      assert.equal(whoami.statusCode, 200, whoami.body);
      assert.equal(whoami.json().identity.id, ada.uuid);
      assert.equal(response.json().session.id, whoami.json().id);
      assert.notEqual((await rekey.api("GET", `/api/v3/core/users/${ada.pk}/`)).json().last_login, null);
    });

    test("a recovery address submission: on PostgreSQL as many statements for a known address as for an unknown one", async (t) => {
      const { rekey } = await harness(t, dialect);
      await createIdentity(rekey, "ada");
      const client = new KratosClient(rekey, "api");
      await startRecovery(client); // warms the tenant cache
      const recorder = recordStatements(t, dialect);
      const counts: number[] = [];
      for (const email of ["ada@example.com", "nobody@example.com"]) {
        const flow = await startRecovery(client);
        recorder.take();
        const response = await submitEmail(client, flow, email);
        assert.equal(response.statusCode, 200, response.body);
        counts.push(recorder.take().length);
      }
      // The flow, both rate limits in one upsert, the address, then the writes: on PostgreSQL one
      // statement (code and mail, or event, with the flow update); on SQLite one statement each
      // inside a group-committed transaction (the known address writes one row more there).
      assert.deepEqual(counts, dialect === "postgres" ? [4, 4] : [6, 5]);
    });
  });
}
