import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { generateTokenKey, storedKey } from "../../src/tokens/service.js";
import { createTokenFor, createUser, TENANTS_KEY, type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";

const STAGES = "/api/v3/stages/email/";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** authentik's EmailStage serializer, in its key order (authentik-v3.md §3.6). */
const STAGE_KEYS = [
  "pk",
  "name",
  "component",
  "verbose_name",
  "verbose_name_plural",
  "meta_model_name",
  "flow_set",
  "use_global_settings",
  "host",
  "port",
  "username",
  "use_tls",
  "use_ssl",
  "timeout",
  "from_address",
  "token_expiry",
  "subject",
  "template",
  "activate_user_on_success",
];

async function stagesApp(
  t: Parameters<typeof testApp>[0],
  dialect: (typeof DIALECTS)[number],
): Promise<TestApp> {
  return await testApp(t, dialect);
}

async function createStage(
  rekey: TestApp,
  body: Record<string, unknown>,
): Promise<Record<string, unknown> & { pk: string }> {
  const response = await rekey.api("POST", STAGES, body);
  assert.equal(response.statusCode, 201, response.body);
  return response.json();
}

/** The stored, sealed password of a stage, opened: what the courier would log in with. */
async function storedPassword(rekey: TestApp, pk: string): Promise<string | null> {
  const tenant = await rekey.deps.persistence.stores.tenants.defaultTenant();
  const stage = await rekey.deps.persistence.stores.emailStages.findEmailStage(tenant.id, pk);
  assert.ok(stage !== null);
  return stage.passwordSealed === null
    ? null
    : rekey.deps.smtpPasswords.open(stage.passwordSealed, stage.passwordSecretIndex ?? 0);
}

/** Tenant B at b.example.com with a superuser's api key, written through the stores (a new tenant starts empty). */
async function tenantBAdmin(rekey: TestApp): Promise<{ key: string; host: string }> {
  const auth = { token: TENANTS_KEY };
  const tenantId = (
    await rekey.api("POST", "/api/v3/tenants/tenants/", { schema_name: "t_b", name: "B" }, auth)
  ).json().tenant_uuid;
  const domain = await rekey.api(
    "POST",
    "/api/v3/tenants/domains/",
    { domain: "b.example.com", tenant: tenantId },
    auth,
  );
  assert.equal(domain.statusCode, 201, domain.body);
  const { deps } = rekey;
  const stores = deps.persistence.stores;
  const group = await stores.groups.createGroup(tenantId, {
    uuid: deps.random.uuid(),
    name: "Admins",
    isSuperuser: true,
    attributes: {},
    userIds: [],
  });
  const user = await stores.users.createUser(
    tenantId,
    {
      uuid: deps.random.uuid(),
      username: "b-admin",
      name: "B admin",
      email: "admin@b.example.com",
      isActive: true,
      lastLogin: null,
      attributes: {},
      path: "users",
      type: "internal",
      groupIds: [group!.id],
    },
    deps.clock.now(),
  );
  const key = generateTokenKey(deps);
  await stores.tokens.createToken(
    {
      id: deps.random.uuid(),
      tenantId,
      identifier: "b-admin",
      managed: null,
      intent: "api",
      userId: user!.id,
      description: "",
      expires: null,
      expiring: false,
      ...storedKey(deps, "api", key),
      ownerMayView: true,
    },
    deps.clock.now(),
  );
  return { key, host: "b.example.com" };
}

for (const dialect of DIALECTS) {
  describe(`POST /api/v3/stages/email/ on ${dialect}`, () => {
    test("creates a stage with authentik's defaults, exactly as the contract's example, in key order", async (t) => {
      const rekey = await stagesApp(t, dialect);
      const response = await rekey.api("POST", STAGES, {
        name: "recovery-mail",
        use_global_settings: true,
        subject: "Reset your password",
      });
      assert.equal(response.statusCode, 201, response.body);
      const stage = response.json();
      assert.deepEqual(Object.keys(stage), STAGE_KEYS);
      assert.match(stage.pk, UUID);
      assert.deepEqual(stage, {
        pk: stage.pk,
        name: "recovery-mail",
        component: "ak-stage-email-form",
        verbose_name: "Email Stage",
        verbose_name_plural: "Email Stages",
        meta_model_name: "authentik_stages_email.emailstage",
        flow_set: [],
        use_global_settings: true,
        host: "localhost",
        port: 25,
        username: "",
        use_tls: false,
        use_ssl: false,
        timeout: 10,
        from_address: "system@authentik.local",
        token_expiry: "minutes=30",
        subject: "Reset your password",
        template: "email/password_reset.html",
        activate_user_on_success: false,
      });
    });

    test("never returns the password, stores it sealed, and ignores upstream's newer fields", async (t) => {
      const rekey = await stagesApp(t, dialect);
      const created = await rekey.api("POST", STAGES, {
        name: "own-smtp",
        host: "smtp.example.com",
        port: 587,
        username: "mailer",
        password: "hunter2-smtp",
        use_tls: true,
        recovery_max_attempts: 5,
        recovery_cache_timeout: "minutes=5",
      });
      assert.equal(created.statusCode, 201, created.body);
      const pk = created.json().pk;
      const list = await rekey.api("GET", STAGES);
      const detail = await rekey.api("GET", `${STAGES}${pk}/`);
      for (const stage of [created.json(), list.json().results[0], detail.json()]) {
        assert.deepEqual(Object.keys(stage), STAGE_KEYS, "no password, no recovery_max_attempts");
      }
      for (const response of [created, list, detail]) {
        assert.ok(!response.body.includes("hunter2"), response.body);
      }
      assert.equal(await storedPassword(rekey, pk), "hunter2-smtp");
      if (rekey.database.file !== null) {
        const rows = await rekey.deps.db.kysely.selectFrom("email_stage").select("password_sealed").execute();
        assert.ok(!JSON.stringify(rows).includes("hunter2"));
      }
    });

    test("rejects use_tls with use_ssl, also when a PATCH adds one to the other", async (t) => {
      const rekey = await stagesApp(t, dialect);
      const both = await rekey.api("POST", STAGES, { name: "both", use_tls: true, use_ssl: true });
      assert.equal(both.statusCode, 400);
      assert.deepEqual(both.json(), { non_field_errors: ["use_tls and use_ssl cannot both be enabled."] });
      const stage = await createStage(rekey, { name: "tls", use_tls: true });
      const patched = await rekey.api("PATCH", `${STAGES}${stage.pk}/`, { use_ssl: true });
      assert.equal(patched.statusCode, 400);
      assert.deepEqual(patched.json(), { non_field_errors: ["use_tls and use_ssl cannot both be enabled."] });
      const list = (await rekey.api("GET", STAGES)).json();
      assert.deepEqual(
        list.results.map((s: { name: string; use_ssl: boolean }) => [s.name, s.use_ssl]),
        [["tls", false]],
      );
    });

    test("a name is unique in the tenant", async (t) => {
      const rekey = await stagesApp(t, dialect);
      const first = await createStage(rekey, { name: "recovery-mail" });
      await createStage(rekey, { name: "other" });
      const again = await rekey.api("POST", STAGES, { name: "recovery-mail" });
      assert.equal(again.statusCode, 400);
      assert.deepEqual(again.json(), { name: ["Stage with this name already exists."] });
      const renamed = await rekey.api("PATCH", `${STAGES}${first.pk}/`, { name: "other" });
      assert.deepEqual(
        [renamed.statusCode, renamed.json()],
        [400, { name: ["Stage with this name already exists."] }],
      );
      const same = await rekey.api("PUT", `${STAGES}${first.pk}/`, { name: "recovery-mail" });
      assert.equal(same.statusCode, 200, "keeping its own name is not a conflict");
    });

    test("validates each field with DRF's messages", async (t) => {
      const rekey = await stagesApp(t, dialect);
      const cases: [Record<string, unknown>, Record<string, string[]>][] = [
        [{}, { name: ["This field is required."] }],
        [{ name: "" }, { name: ["This field may not be blank."] }],
        [{ name: "x", from_address: "not-an-address" }, { from_address: ["Enter a valid email address."] }],
        [
          { name: "x", token_expiry: "minutes=x" },
          { token_expiry: ["minutes=x is not in the correct format of 'hours=3;minutes=1'."] },
        ],
        [
          { name: "x", template: "email/other.html" },
          { template: ['"email/other.html" is not a valid choice.'] },
        ],
        [{ name: "x", port: "25" }, { port: ["A valid integer is required."] }],
        [{ name: "x", use_tls: "yes" }, { use_tls: ["Must be a valid boolean."] }],
        [{ name: "x", password: null }, { password: ["This field may not be null."] }],
      ];
      for (const [body, expected] of cases) {
        const response = await rekey.api("POST", STAGES, body);
        assert.equal(response.statusCode, 400, JSON.stringify(body));
        assert.deepEqual(response.json(), expected, JSON.stringify(body));
      }
      assert.equal((await rekey.api("GET", STAGES)).json().pagination.count, 0, "no stage was written");
    });

    test("records model_created, model_updated and model_deleted with the stage's model reference", async (t) => {
      const rekey = await stagesApp(t, dialect);
      const stage = await createStage(rekey, { name: "audited" });
      await rekey.api("PATCH", `${STAGES}${stage.pk}/`, { subject: "New" });
      await rekey.api("DELETE", `${STAGES}${stage.pk}/`);
      const reference = {
        app: "authentik_stages_email",
        model_name: "emailstage",
        pk: stage.pk.replaceAll("-", ""),
        name: "audited",
      };
      for (const action of ["model_created", "model_updated", "model_deleted"]) {
        const response = await rekey.api(
          "GET",
          `/api/v3/events/events/?action=${action}&context_model_name=emailstage`,
        );
        const events = response.json().results;
        assert.equal(events.length, 1, action);
        assert.deepEqual(events[0].context.model, reference, action);
        assert.equal(events[0].app, "rekey.api");
        assert.equal(events[0].user.username, "akadmin");
      }
    });
  });

  describe(`/api/v3/stages/email/{stage_uuid}/ on ${dialect}`, () => {
    test("PATCH without a password keeps it; with one replaces it; an empty one removes it", async (t) => {
      const rekey = await stagesApp(t, dialect);
      const stage = await createStage(rekey, { name: "own", username: "mailer", password: "first-secret" });
      const patched = await rekey.api("PATCH", `${STAGES}${stage.pk}/`, { subject: "Password reset" });
      assert.equal(patched.statusCode, 200, patched.body);
      assert.deepEqual(patched.json(), { ...stage, subject: "Password reset" });
      assert.equal(await storedPassword(rekey, stage.pk), "first-secret");
      const put = await rekey.api("PUT", `${STAGES}${stage.pk}/`, { name: "own", port: 2525 });
      assert.deepEqual(
        put.json(),
        { ...stage, subject: "Password reset", port: 2525 },
        "PUT changes only what it names",
      );
      assert.equal(await storedPassword(rekey, stage.pk), "first-secret");
      await rekey.api("PATCH", `${STAGES}${stage.pk}/`, { password: "second-secret" });
      assert.equal(await storedPassword(rekey, stage.pk), "second-secret");
      await rekey.api("PATCH", `${STAGES}${stage.pk}/`, { password: "" });
      assert.equal(await storedPassword(rekey, stage.pk), null);
    });

    test("GET answers the stage; DELETE answers 204 and the stage is gone", async (t) => {
      const rekey = await stagesApp(t, dialect);
      const stage = await createStage(rekey, { name: "short-lived" });
      const got = await rekey.api("GET", `${STAGES}${stage.pk}/`);
      assert.deepEqual([got.statusCode, got.json()], [200, stage]);
      const deleted = await rekey.api("DELETE", `${STAGES}${stage.pk}/`);
      assert.equal(deleted.statusCode, 204);
      assert.equal(deleted.body, "");
      const gone = await rekey.api("GET", `${STAGES}${stage.pk}/`);
      assert.deepEqual(
        [gone.statusCode, gone.json()],
        [404, { detail: "No EmailStage matches the given query." }],
      );
    });

    test("an unknown uuid is 404 No EmailStage matches; a malformed one is 404 Not found.", async (t) => {
      const rekey = await stagesApp(t, dialect);
      for (const method of ["GET", "PUT", "PATCH", "DELETE"]) {
        const unknown = await rekey.api(
          method,
          `${STAGES}00000000-0000-4000-8000-000000000000/`,
          method.startsWith("P") ? { name: "x" } : undefined,
        );
        assert.deepEqual(
          [unknown.statusCode, unknown.json()],
          [404, { detail: "No EmailStage matches the given query." }],
          method,
        );
        const malformed = await rekey.api(
          method,
          `${STAGES}not-a-uuid/`,
          method.startsWith("P") ? { name: "x" } : undefined,
        );
        assert.deepEqual([malformed.statusCode, malformed.json()], [404, { detail: "Not found." }], method);
      }
      const invalidBody = await rekey.api("PATCH", `${STAGES}00000000-0000-4000-8000-000000000000/`, {
        port: "x",
      });
      assert.equal(invalidBody.statusCode, 404, "the object lookup comes before body validation");
    });
  });

  describe(`GET /api/v3/stages/email/ on ${dialect}`, () => {
    test("searches names, orders by name by default, filters exactly and pages", async (t) => {
      const rekey = await stagesApp(t, dialect);
      await createStage(rekey, { name: "recovery-b", use_global_settings: true });
      await createStage(rekey, { name: "recovery-a", port: 587, template: "email/setup.html" });
      await createStage(rekey, { name: "welcome", port: 587 });
      const names = async (query: string) =>
        (await rekey.api("GET", `${STAGES}${query}`))
          .json()
          .results.map((stage: { name: string }) => stage.name);

      assert.deepEqual(await names(""), ["recovery-a", "recovery-b", "welcome"]);
      assert.deepEqual(await names("?search=RECOVERY"), ["recovery-a", "recovery-b"]);
      assert.deepEqual(await names("?ordering=-name"), ["welcome", "recovery-b", "recovery-a"]);
      assert.deepEqual(await names("?port=587"), ["recovery-a", "welcome"]);
      assert.deepEqual(await names("?use_global_settings=true"), ["recovery-b"]);
      assert.deepEqual(await names("?template=email/setup.html"), ["recovery-a"]);
      assert.deepEqual(await names("?name=welcome"), ["welcome"]);
      const page = (await rekey.api("GET", `${STAGES}?page=2&page_size=2`)).json();
      assert.deepEqual(page.pagination, {
        next: 0,
        previous: 1,
        count: 3,
        current: 2,
        total_pages: 2,
        start_index: 3,
        end_index: 3,
      });
      assert.deepEqual(page.autocomplete, {});
      const badPort = await rekey.api("GET", `${STAGES}?port=abc`);
      assert.deepEqual([badPort.statusCode, badPort.json()], [400, { port: ["Enter a number."] }]);
    });
  });

  describe(`email stage permissions and tenancy on ${dialect}`, () => {
    test("answers 403 to non-superusers and anonymous callers before any lookup", async (t) => {
      const rekey = await stagesApp(t, dialect);
      const stage = await createStage(rekey, { name: "secret-settings" });
      const userPk = await createUser(rekey, "jdoe");
      const key = await createTokenFor(rekey, userPk, "jdoe-login");
      const forbidden = { detail: "You do not have permission to perform this action." };
      const anonymous = { detail: "Authentication credentials were not provided." };
      const calls: [string, string, unknown][] = [
        ["GET", STAGES, undefined],
        ["POST", STAGES, { name: "mine" }],
        ["GET", `${STAGES}${stage.pk}/`, undefined],
        ["PUT", `${STAGES}${stage.pk}/`, { name: "mine" }],
        ["PATCH", `${STAGES}${stage.pk}/`, {}],
        ["DELETE", `${STAGES}${stage.pk}/`, undefined],
        ["GET", `${STAGES}00000000-0000-4000-8000-000000000000/`, undefined],
      ];
      for (const [method, url, body] of calls) {
        const asUser = await rekey.api(method, url, body, { token: key });
        assert.deepEqual([asUser.statusCode, asUser.json()], [403, forbidden], `${method} ${url}`);
        const asNobody = await rekey.api(method, url, body, { token: null });
        assert.deepEqual([asNobody.statusCode, asNobody.json()], [403, anonymous], `${method} ${url}`);
      }
      assert.equal((await rekey.api("GET", `${STAGES}${stage.pk}/`)).json().name, "secret-settings");
    });

    test("a stage is invisible from another tenant, which may use the same name", async (t) => {
      const rekey = await stagesApp(t, dialect);
      const stage = await createStage(rekey, { name: "recovery-mail" });
      const b = await tenantBAdmin(rekey);
      const onB = (method: string, url: string, body?: unknown) =>
        rekey.api(method, url, body, { token: b.key, headers: { host: b.host } });
      assert.equal((await onB("GET", STAGES)).json().pagination.count, 0);
      for (const method of ["GET", "PATCH", "DELETE"]) {
        const response = await onB(
          method,
          `${STAGES}${stage.pk}/`,
          method === "PATCH" ? { subject: "hijacked" } : undefined,
        );
        assert.deepEqual(
          [response.statusCode, response.json()],
          [404, { detail: "No EmailStage matches the given query." }],
          method,
        );
      }
      const own = await onB("POST", STAGES, { name: "recovery-mail" });
      assert.equal(own.statusCode, 201, own.body);
      const onA = (await rekey.api("GET", STAGES)).json();
      assert.deepEqual(onA.results, [stage]);
    });
  });
}
