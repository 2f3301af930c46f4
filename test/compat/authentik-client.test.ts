import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { describe, type TestContext, test } from "node:test";
// The package's `main` (dist/index.js) is missing from the published 2026.2.0 build, so this
// imports the file its `module` field names, which is what bundlers load for user scripts.
import {
  Configuration,
  CoreApi,
  EventsApi,
  IntentEnum,
  ResponseError,
  TenantsApi,
  UserTypeEnum,
} from "@goauthentik/api/dist/esm/index.js";
import { ADMIN_TOKEN, TENANTS_KEY, type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";

interface Clients {
  rekey: TestApp;
  basePath: string;
  core: CoreApi;
  events: EventsApi;
  tenants: TenantsApi;
  /** CoreApi with another bearer key, or none. */
  coreAs(key: string | null): CoreApi;
}

/** The real app on a real socket, with the official client configured as a user script would. */
async function startRekey(t: TestContext, dialect: (typeof DIALECTS)[number]): Promise<Clients> {
  const rekey = await testApp(t, dialect);
  await rekey.app.listen({ host: "127.0.0.1", port: 0 });
  const port = (rekey.app.server.address() as AddressInfo).port;
  const basePath = `http://127.0.0.1:${port}/api/v3`;
  const coreAs = (key: string | null): CoreApi =>
    new CoreApi(new Configuration(key === null ? { basePath } : { basePath, accessToken: key }));
  return {
    rekey,
    basePath,
    core: coreAs(ADMIN_TOKEN),
    events: new EventsApi(
      new Configuration({ basePath, headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } }),
    ),
    // Upstream's schema gives the tenants operations no security scheme, so the client ignores
    // `accessToken` there: scripts pass the tenants key as a header.
    tenants: new TenantsApi(
      new Configuration({ basePath, headers: { Authorization: `Bearer ${TENANTS_KEY}` } }),
    ),
    coreAs,
  };
}

/** The status and parsed body of the ResponseError a client call must reject with. */
async function rejection(call: Promise<unknown>): Promise<{ status: number; body: unknown }> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof ResponseError, `expected a ResponseError, got ${String(error)}`);
    const text = await error.response.text();
    return { status: error.response.status, body: text === "" ? null : JSON.parse(text) };
  }
  assert.fail("expected the client call to be rejected");
}

function assertValidDate(value: Date | null | undefined, label: string): void {
  assert.ok(value instanceof Date, `${label} is a Date`);
  assert.ok(!Number.isNaN(value.getTime()), `${label} is a valid Date`);
}

for (const dialect of DIALECTS) {
  describe(`the official @goauthentik/api client against Rekey on ${dialect}`, () => {
    test("users are created, listed, read, patched and deleted with typed User models", async (t) => {
      const { core } = await startRekey(t, dialect);
      const created = await core.coreUsersCreate({
        userRequest: {
          username: "jdoe",
          name: "Jane Doe",
          email: "jane@example.com",
          attributes: { team: "ops" },
          type: UserTypeEnum.Internal,
        },
      });
      assert.equal(typeof created.pk, "number");
      assert.equal(created.username, "jdoe");
      assert.equal(created.name, "Jane Doe");
      assert.equal(created.email, "jane@example.com");
      assert.equal(created.isActive, true);
      assert.equal(created.isSuperuser, false);
      assert.equal(created.lastLogin, undefined);
      assert.deepEqual(created.groupsObj, []);
      assert.deepEqual(created.rolesObj, []);
      assert.deepEqual(created.attributes, { team: "ops" });
      assert.equal(created.path, "users");
      assert.equal(created.type, "internal");
      assert.match(created.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.match(created.uid, /^[0-9a-f]{64}$/);
      assert.match(created.avatar, /^data:image\/svg\+xml;base64,/);
      assertValidDate(created.dateJoined, "dateJoined");
      assertValidDate(created.passwordChangeDate, "passwordChangeDate");
      assertValidDate(created.lastUpdated, "lastUpdated");

      const listed = await core.coreUsersList({ search: "jane", includeGroups: true });
      assert.deepEqual(listed.pagination, {
        next: 0,
        previous: 0,
        count: 1,
        current: 1,
        totalPages: 1,
        startIndex: 1,
        endIndex: 1,
      });
      assert.deepEqual(
        listed.results.map((user) => user.pk),
        [created.pk],
      );
      assert.deepEqual(listed.autocomplete, {});
      const withoutGroups = await core.coreUsersList({ username: "akadmin", includeGroups: false });
      assert.equal(withoutGroups.results.length, 1);
      assert.equal(withoutGroups.results[0]!.groupsObj, null);
      assert.equal(withoutGroups.results[0]!.isSuperuser, true);

      const read = await core.coreUsersRetrieve({ id: created.pk });
      assert.deepEqual(read, created);

      const lastLogin = new Date("2026-01-02T03:04:05.678Z");
      const patched = await core.coreUsersPartialUpdate({
        id: created.pk,
        patchedUserRequest: { name: "Jane Q. Doe", isActive: false, lastLogin },
      });
      assert.equal(patched.name, "Jane Q. Doe");
      assert.equal(patched.isActive, false);
      assert.equal(patched.email, "jane@example.com");
      assert.equal(patched.lastLogin?.getTime(), lastLogin.getTime());

      await core.coreUsersDestroy({ id: created.pk });
      const missing = await rejection(core.coreUsersRetrieve({ id: created.pk }));
      assert.deepEqual(missing, { status: 404, body: { detail: "No User matches the given query." } });
    });

    test("users/me answers the token's owner as a SessionUser the client can read", async (t) => {
      const { core } = await startRekey(t, dialect);
      const me = await core.coreUsersMeRetrieve();
      assert.equal(me.user.username, "akadmin");
      assert.equal(me.user.isSuperuser, true);
      assert.equal(me.user.isActive, true);
      assert.equal(me.user.email, "admin@example.com");
      assert.deepEqual(
        me.user.groups.map((group) => group.name),
        ["authentik Admins"],
      );
      assert.deepEqual(me.user.roles, []);
      assert.deepEqual(me.user.settings, {});
      assert.deepEqual(me.user.systemPermissions, []);
      assert.equal(me.original, undefined);
    });

    test("set_password answers 204 to the client and a policy violation is a 400 ResponseError", async (t) => {
      const { core } = await startRekey(t, dialect);
      const user = await core.coreUsersCreate({
        userRequest: { username: "pat", name: "Pat", email: "pat@example.com" },
      });
      const before = user.passwordChangeDate.getTime();
      await core.coreUsersSetPasswordCreate({
        id: user.pk,
        userPasswordSetRequest: { password: "correct horse battery staple" },
      });
      const after = await core.coreUsersRetrieve({ id: user.pk });
      assert.ok(after.passwordChangeDate.getTime() >= before);

      const short = await rejection(
        core.coreUsersSetPasswordCreate({ id: user.pk, userPasswordSetRequest: { password: "short" } }),
      );
      assert.equal(short.status, 400);
      assert.deepEqual(short.body, {
        password: ["The password must be at least 8 characters long, but got 5."],
      });
      const unknown = await rejection(
        core.coreUsersSetPasswordCreate({
          id: 999_999,
          userPasswordSetRequest: { password: "long enough pass" },
        }),
      );
      assert.deepEqual(unknown, { status: 404, body: { detail: "No User matches the given query." } });
    });

    test("groups are created, listed, given and relieved of members and deleted with typed Group models", async (t) => {
      const { core } = await startRekey(t, dialect);
      const member = await core.coreUsersCreate({ userRequest: { username: "member", name: "Member" } });
      const group = await core.coreGroupsCreate({
        groupRequest: { name: "Operators", attributes: { level: 2 } },
      });
      assert.match(group.pk, /^[0-9a-f-]{36}$/);
      assert.equal(typeof group.numPk, "number");
      assert.equal(group.name, "Operators");
      assert.equal(group.isSuperuser, false);
      assert.deepEqual(group.users, []);
      assert.deepEqual(group.usersObj, []);
      assert.deepEqual(group.attributes, { level: 2 });
      assert.deepEqual(group.rolesObj, []);
      assert.deepEqual(group.children, []);

      await core.coreGroupsAddUserCreate({ groupUuid: group.pk, userAccountRequest: { pk: member.pk } });
      const listed = await core.coreGroupsList({ membersByUsername: ["member"], includeUsers: true });
      assert.deepEqual(
        listed.results.map((found) => found.name),
        ["Operators"],
      );
      assert.deepEqual(listed.results[0]!.users, [member.pk]);
      assert.equal(listed.results[0]!.usersObj?.[0]?.username, "member");
      assert.equal(listed.results[0]!.usersObj?.[0]?.lastLogin, undefined);
      const memberNow = await core.coreUsersRetrieve({ id: member.pk });
      assert.deepEqual(memberNow.groups, [group.pk]);
      assert.equal(memberNow.groupsObj?.[0]?.name, "Operators");

      await core.coreGroupsRemoveUserCreate({ groupUuid: group.pk, userAccountRequest: { pk: member.pk } });
      assert.deepEqual((await core.coreGroupsList({ name: "Operators" })).results[0]!.users, []);
      const unknownUser = await rejection(
        core.coreGroupsAddUserCreate({ groupUuid: group.pk, userAccountRequest: { pk: 999_999 } }),
      );
      assert.deepEqual(unknownUser, {
        status: 400,
        body: { pk: ['Invalid pk "999999" - object does not exist.'] },
      });

      await core.coreGroupsDestroy({ groupUuid: group.pk });
      assert.equal((await core.coreGroupsList({ name: "Operators" })).pagination.count, 0);
      const gone = await rejection(core.coreGroupsDestroy({ groupUuid: group.pk }));
      assert.equal(gone.status, 404);
    });

    test("a token goes through its whole life with the client: create, list, read, patch, view and set its key, used_by, delete", async (t) => {
      const { core, coreAs } = await startRekey(t, dialect);
      const owner = await core.coreUsersCreate({ userRequest: { username: "ci", name: "CI" } });
      const expires = new Date(Date.now() + 3_600_000 + 123);
      const token = await core.coreTokensCreate({
        tokenRequest: {
          identifier: "ci-token",
          user: owner.pk,
          description: "CI",
          expires,
          intent: IntentEnum.Api,
        },
      });
      assert.match(token.pk, /^[0-9a-f-]{36}$/);
      assert.equal(token.identifier, "ci-token");
      assert.equal(token.intent, "api");
      assert.equal(token.user, owner.pk);
      assert.equal(token.userObj.username, "ci");
      assertValidDate(token.userObj.dateJoined, "userObj.dateJoined");
      assert.equal(token.description, "CI");
      assert.equal(token.expires?.getTime(), expires.getTime());
      assert.equal(token.expiring, true);
      assert.equal(token.managed, undefined);
      assert.equal("key" in token, false);

      const listed = await core.coreTokensList({ intent: "api", userUsername: "ci" });
      assert.deepEqual(
        listed.results.map((found) => found.identifier),
        ["ci-token"],
      );
      assert.equal(listed.pagination.count, 1);
      assert.deepEqual(await core.coreTokensRetrieve({ identifier: "ci-token" }), token);
      // The client sends Date filters as toISOString(): milliseconds and `Z`.
      assert.deepEqual(
        (await core.coreTokensList({ expires })).results.map((found) => found.identifier),
        ["ci-token"],
      );
      assert.equal(
        (await core.coreTokensList({ expires: new Date(expires.getTime() + 1) })).pagination.count,
        0,
      );

      const patched = await core.coreTokensPartialUpdate({
        identifier: "ci-token",
        patchedTokenRequest: { description: "CI runner", expiring: false },
      });
      assert.equal(patched.description, "CI runner");
      assert.equal(patched.expiring, false);
      assert.equal(patched.intent, "api");
      assert.equal(patched.user, owner.pk);

      const view = await core.coreTokensViewKeyRetrieve({ identifier: "ci-token" });
      assert.match(view.key, /^[A-Za-z0-9]{60}$/);
      assert.equal((await coreAs(view.key).coreUsersMeRetrieve()).user.username, "ci");

      await core.coreTokensSetKeyCreate({
        identifier: "ci-token",
        tokenSetKeyRequest: { key: "my-own-secret" },
      });
      assert.equal((await core.coreTokensViewKeyRetrieve({ identifier: "ci-token" })).key, "my-own-secret");
      assert.equal((await coreAs("my-own-secret").coreUsersMeRetrieve()).user.username, "ci");
      assert.deepEqual(await rejection(coreAs(view.key).coreUsersMeRetrieve()), {
        status: 403,
        body: { detail: "Token invalid/expired" },
      });

      assert.deepEqual(await core.coreTokensUsedByList({ identifier: "ci-token" }), []);

      await core.coreTokensDestroy({ identifier: "ci-token" });
      assert.deepEqual(await rejection(core.coreTokensRetrieve({ identifier: "ci-token" })), {
        status: 404,
        body: { detail: "No Token matches the given query." },
      });
    });

    test("a token with a 255-character identifier, the longest authentik allows, is read, patched and deleted by the client", async (t) => {
      const { core } = await startRekey(t, dialect);
      const identifier = `t${"0123456789".repeat(25)}abcd`;
      assert.equal(identifier.length, 255);
      await core.coreTokensCreate({ tokenRequest: { identifier } });
      assert.equal((await core.coreTokensRetrieve({ identifier })).identifier, identifier);
      const patched = await core.coreTokensPartialUpdate({
        identifier,
        patchedTokenRequest: { description: "long" },
      });
      assert.equal(patched.description, "long");
      await core.coreTokensDestroy({ identifier });
      assert.equal((await rejection(core.coreTokensRetrieve({ identifier }))).status, 404);
    });

    test("token errors reach the client as ResponseErrors with authentik's status and body", async (t) => {
      const { core, coreAs } = await startRekey(t, dialect);
      assert.deepEqual(
        await rejection(
          core.coreTokensCreate({ tokenRequest: { identifier: "x", intent: IntentEnum.Recovery } }),
        ),
        {
          status: 400,
          body: { intent: ["Invalid intent recovery"] },
        },
      );
      assert.deepEqual(
        await rejection(core.coreTokensCreate({ tokenRequest: { identifier: "not a slug" } })),
        {
          status: 400,
          body: {
            identifier: ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'],
          },
        },
      );
      const bob = await core.coreUsersCreate({ userRequest: { username: "bob", name: "Bob" } });
      await core.coreTokensCreate({ tokenRequest: { identifier: "bob-token", user: bob.pk } });
      const bobKey = (await core.coreTokensViewKeyRetrieve({ identifier: "bob-token" })).key;
      const asBob = coreAs(bobKey);
      // An admin created it for bob, so bob may use it but not read its key back.
      assert.equal(
        (await rejection(asBob.coreTokensViewKeyRetrieve({ identifier: "bob-token" }))).status,
        403,
      );
      assert.equal(
        (
          await rejection(
            asBob.coreTokensSetKeyCreate({ identifier: "bob-token", tokenSetKeyRequest: { key: "k" } }),
          )
        ).status,
        403,
      );
      assert.equal((await rejection(asBob.coreUsersList())).status, 403);
      assert.deepEqual(
        await rejection(asBob.coreTokensRetrieve({ identifier: "authentik-bootstrap-token" })),
        {
          status: 404,
          body: { detail: "No Token matches the given query." },
        },
      );
      assert.deepEqual(await rejection(coreAs(null).coreTokensList()), {
        status: 403,
        body: { detail: "Authentication credentials were not provided." },
      });
      assert.deepEqual(await rejection(coreAs("nope").coreTokensList()), {
        status: 403,
        body: { detail: "Token invalid/expired" },
      });
      assert.deepEqual(await rejection(core.coreUsersList({ page: 9 })), {
        status: 404,
        body: { detail: "Invalid page." },
      });
    });

    test("tenants and domains are managed with the tenants key as the client's bearer", async (t) => {
      const { tenants, basePath } = await startRekey(t, dialect);
      const tenant = await tenants.tenantsTenantsCreate({
        tenantRequest: { schemaName: "t_acme", name: "Acme" },
      });
      assert.match(tenant.tenantUuid, /^[0-9a-f-]{36}$/);
      assert.equal(tenant.schemaName, "t_acme");
      assert.equal(tenant.name, "Acme");
      assert.equal(tenant.ready, true);

      const listed = await tenants.tenantsTenantsList({ search: "acme" });
      assert.deepEqual(listed.results, [tenant]);
      const renamed = await tenants.tenantsTenantsPartialUpdate({
        tenantUuid: tenant.tenantUuid,
        patchedTenantRequest: { name: "Acme Inc" },
      });
      assert.deepEqual(renamed, { ...tenant, name: "Acme Inc" });

      const domain = await tenants.tenantsDomainsCreate({
        domainRequest: { domain: "Acme.Example.com", tenant: tenant.tenantUuid },
      });
      assert.equal(typeof domain.id, "number");
      assert.equal(domain.domain, "acme.example.com");
      assert.equal(domain.isPrimary, true);
      assert.equal(domain.tenant, tenant.tenantUuid);
      assert.deepEqual((await tenants.tenantsDomainsList({ search: "acme" })).results, [domain]);

      const duplicate = await rejection(
        tenants.tenantsDomainsCreate({
          domainRequest: { domain: "acme.example.com", tenant: tenant.tenantUuid },
        }),
      );
      assert.deepEqual(duplicate, {
        status: 400,
        body: { domain: ["Domain with this domain already exists."] },
      });
      const badSchema = await rejection(
        tenants.tenantsTenantsCreate({ tenantRequest: { schemaName: "T_x", name: "X" } }),
      );
      assert.equal(badSchema.status, 400);

      await tenants.tenantsDomainsDestroy({ id: domain.id });
      assert.equal((await tenants.tenantsDomainsList()).pagination.count, 0);
      await tenants.tenantsTenantsDestroy({ tenantUuid: tenant.tenantUuid });
      assert.deepEqual(
        (await tenants.tenantsTenantsList()).results.map((found) => found.schemaName),
        ["public"],
      );

      const withAdminToken = new TenantsApi(
        new Configuration({ basePath, headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } }),
      );
      assert.deepEqual(await rejection(withAdminToken.tenantsTenantsList()), {
        status: 403,
        body: { detail: "Authentication credentials were not provided." },
      });
    });

    test("events written by client calls are listed and read back as typed Event models", async (t) => {
      const { core, events } = await startRekey(t, dialect);
      const user = await core.coreUsersCreate({ userRequest: { username: "audited", name: "Audited" } });
      const listed = await events.eventsEventsList({ action: "model_created", contextModelName: "user" });
      assert.ok(listed.pagination.count >= 1);
      const event = listed.results.find(
        (found) => (found.context?.["model"] as { name?: string } | undefined)?.name === "audited",
      );
      assert.ok(event !== undefined, "the model_created event of the new user is listed");
      assert.equal(event.action, "model_created");
      assert.equal(event.app, "rekey.api");
      assert.deepEqual(event.user, {
        pk: (await core.coreUsersMeRetrieve()).user.pk,
        username: "akadmin",
        email: "admin@example.com",
      });
      assert.deepEqual(event.context?.["model"], {
        app: "authentik_core",
        model_name: "user",
        pk: user.pk,
        name: "audited",
      });
      assert.equal(typeof event.clientIp, "string");
      assertValidDate(event.created, "created");
      assertValidDate(event.expires, "expires");
      assert.equal(event.expires!.getTime() - event.created.getTime(), 365 * 86_400_000);
      assert.deepEqual(event.brand, {});

      assert.deepEqual(await events.eventsEventsRetrieve({ eventUuid: event.pk }), event);
      assert.deepEqual(
        await rejection(events.eventsEventsRetrieve({ eventUuid: "00000000-0000-0000-0000-000000000000" })),
        {
          status: 404,
          body: { detail: "No Event matches the given query." },
        },
      );
    });
  });
}
