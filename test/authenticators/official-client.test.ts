import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { describe, type TestContext, test } from "node:test";
// As in test/compat/authentik-client.test.ts: the published build's `main` is missing, so this
// imports the ESM build that bundlers load for user scripts.
import {
  AuthenticatorsApi,
  Configuration,
  type Device,
  instanceOfDevice,
  instanceOfPaginatedStaticDeviceList,
  instanceOfPaginatedTOTPDeviceList,
  instanceOfPartialUser,
  instanceOfStaticDevice,
  instanceOfTOTPDevice,
  ResponseError,
} from "@goauthentik/api/dist/esm/index.js";
import { ADMIN_TOKEN, createTokenFor, createUser, type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";

/**
 * The device endpoints through `@goauthentik/api`'s AuthenticatorsApi on a real socket: every
 * answer must parse into the client's models (its `instanceOf…` checks pass, dates are dates).
 */

interface Clients {
  rekey: TestApp;
  basePath: string;
  admin: AuthenticatorsApi;
  jdoe: AuthenticatorsApi;
  jdoePk: number;
  jdoeKey: string;
}

async function start(t: TestContext, dialect: (typeof DIALECTS)[number]): Promise<Clients> {
  const rekey = await testApp(t, dialect);
  await rekey.app.listen({ host: "127.0.0.1", port: 0 });
  const basePath = `http://127.0.0.1:${(rekey.app.server.address() as AddressInfo).port}/api/v3`;
  const jdoePk = await createUser(rekey, "jdoe");
  const jdoeKey = await createTokenFor(rekey, jdoePk, "jdoe-key");
  const client = (key: string): AuthenticatorsApi =>
    new AuthenticatorsApi(new Configuration({ basePath, accessToken: key }));
  return { rekey, basePath, admin: client(ADMIN_TOKEN), jdoe: client(jdoeKey), jdoePk, jdoeKey };
}

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

function assertDevice(device: Device): void {
  assert.ok(instanceOfDevice(device), JSON.stringify(device));
  for (const date of [device.created, device.lastUpdated]) {
    assert.ok(date instanceof Date && !Number.isNaN(date.getTime()));
  }
  assert.ok(device.lastUsed === null || !Number.isNaN(device.lastUsed.getTime()));
}

/** The regenerate route is a Rekey extension: the client has no method for it, so a script calls it plainly. */
async function regenerate(basePath: string, key: string): Promise<{ pk: number; codes: string[] }> {
  const response = await fetch(`${basePath}/authenticators/static/`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(response.status, 201);
  const body = (await response.json()) as { pk: number; token_set: { token: string }[] };
  return { pk: body.pk, codes: body.token_set.map((entry) => entry.token) };
}

for (const dialect of DIALECTS) {
  describe(`AuthenticatorsApi of @goauthentik/api against Rekey on ${dialect}`, () => {
    test("admin TOTP devices: create, list, retrieve, update, partial update and destroy parse as TOTPDevice", async (t) => {
      const { admin, jdoePk } = await start(t, dialect);
      const created = await admin.authenticatorsAdminTotpCreate({
        tOTPDeviceRequest: { name: "YubiKey OTP" },
      });
      assert.ok(instanceOfTOTPDevice(created));
      assert.ok(instanceOfPartialUser(created.user));
      assert.equal(created.user.username, "akadmin");
      assert.equal(created.name, "YubiKey OTP");

      const list = await admin.authenticatorsAdminTotpList({
        search: "yubi",
        ordering: "-name",
        page: 1,
        pageSize: 10,
      });
      assert.ok(instanceOfPaginatedTOTPDeviceList(list));
      assert.deepEqual(
        list.results.map((device) => device.pk),
        [created.pk],
      );
      assert.deepEqual(list.autocomplete, {});
      assert.deepEqual(await admin.authenticatorsAdminTotpRetrieve({ id: created.pk }), created);
      const patched = await admin.authenticatorsAdminTotpPartialUpdate({
        id: created.pk,
        patchedTOTPDeviceRequest: { name: "Phone" },
      });
      assert.equal(patched.name, "Phone");
      const updated = await admin.authenticatorsAdminTotpUpdate({
        id: created.pk,
        tOTPDeviceRequest: { name: "Tablet" },
      });
      assert.deepEqual(updated, { ...created, name: "Tablet" });
      await admin.authenticatorsAdminTotpDestroy({ id: created.pk });
      assert.deepEqual(await rejection(admin.authenticatorsAdminTotpRetrieve({ id: created.pk })), {
        status: 404,
        body: { detail: "No TOTPDevice matches the given query." },
      });
      assert.notEqual(jdoePk, created.user.pk);
    });

    test("a user's own TOTP devices parse; others' are 404 and the admin routes 403", async (t) => {
      const { rekey, admin, jdoe, jdoePk } = await start(t, dialect);
      const own = await rekey.api("POST", "/api/v3/authenticators/admin/totp/", {
        name: "phone",
        user: jdoePk,
      });
      const ownPk = own.json().pk as number;
      const adminDevice = await admin.authenticatorsAdminTotpCreate({
        tOTPDeviceRequest: { name: "admin's" },
      });

      const list = await jdoe.authenticatorsTotpList({ name: "phone" });
      assert.ok(instanceOfPaginatedTOTPDeviceList(list));
      assert.deepEqual(
        list.results.map((device) => device.pk),
        [ownPk],
      );
      const read = await jdoe.authenticatorsTotpRetrieve({ id: ownPk });
      assert.ok(instanceOfTOTPDevice(read));
      assert.equal(read.user.pk, jdoePk);
      assert.equal(
        (
          await jdoe.authenticatorsTotpPartialUpdate({
            id: ownPk,
            patchedTOTPDeviceRequest: { name: "Phone" },
          })
        ).name,
        "Phone",
      );
      assert.equal(
        (await jdoe.authenticatorsTotpUpdate({ id: ownPk, tOTPDeviceRequest: { name: "Phone 2" } })).name,
        "Phone 2",
      );
      assert.deepEqual(await jdoe.authenticatorsTotpUsedByList({ id: ownPk }), []);

      assert.equal((await rejection(jdoe.authenticatorsTotpRetrieve({ id: adminDevice.pk }))).status, 404);
      assert.deepEqual(await rejection(jdoe.authenticatorsAdminTotpList()), {
        status: 403,
        body: { detail: "You do not have permission to perform this action." },
      });
      await jdoe.authenticatorsTotpDestroy({ id: ownPk });
      assert.equal((await jdoe.authenticatorsTotpList()).pagination.count, 0);
    });

    test("static devices parse as StaticDevice with token_set, for the user and for the admin", async (t) => {
      const { admin, jdoe, jdoePk, basePath, jdoeKey } = await start(t, dialect);
      const issued = await regenerate(basePath, jdoeKey);
      assert.equal(issued.codes.length, 10);

      const list = await jdoe.authenticatorsStaticList();
      assert.ok(instanceOfPaginatedStaticDeviceList(list));
      const device = list.results[0]!;
      assert.ok(instanceOfStaticDevice(device));
      assert.equal(device.tokenSet.length, 10);
      assert.ok(
        device.tokenSet.every((token) => !issued.codes.includes(token.token)),
        "reads never show a code",
      );
      assert.ok(instanceOfStaticDevice(await jdoe.authenticatorsStaticRetrieve({ id: issued.pk })));
      assert.equal(
        (
          await jdoe.authenticatorsStaticPartialUpdate({
            id: issued.pk,
            patchedStaticDeviceRequest: { name: "Paper" },
          })
        ).name,
        "Paper",
      );
      assert.equal(
        (await jdoe.authenticatorsStaticUpdate({ id: issued.pk, staticDeviceRequest: { name: "Drawer" } }))
          .name,
        "Drawer",
      );
      assert.deepEqual(await jdoe.authenticatorsStaticUsedByList({ id: issued.pk }), []);

      const adminList = await admin.authenticatorsAdminStaticList({ search: "drawer" });
      assert.ok(instanceOfPaginatedStaticDeviceList(adminList));
      assert.equal(adminList.results[0]!.user.pk, jdoePk);
      const adminRead = await admin.authenticatorsAdminStaticRetrieve({ id: issued.pk });
      assert.ok(instanceOfStaticDevice(adminRead));
      assert.equal(
        (
          await admin.authenticatorsAdminStaticPartialUpdate({
            id: issued.pk,
            patchedStaticDeviceRequest: { name: "Safe" },
          })
        ).name,
        "Safe",
      );
      assert.equal(
        (
          await admin.authenticatorsAdminStaticUpdate({
            id: issued.pk,
            staticDeviceRequest: { name: "Vault" },
          })
        ).name,
        "Vault",
      );
      assert.equal(
        (await rejection(admin.authenticatorsAdminStaticCreate({ staticDeviceRequest: { name: "x" } })))
          .status,
        405,
      );
      await admin.authenticatorsAdminStaticDestroy({ id: issued.pk });
      assert.deepEqual(await rejection(jdoe.authenticatorsStaticRetrieve({ id: issued.pk })), {
        status: 404,
        body: { detail: "No StaticDevice matches the given query." },
      });

      const again = await regenerate(basePath, jdoeKey);
      await jdoe.authenticatorsStaticDestroy({ id: again.pk });
      assert.equal((await jdoe.authenticatorsStaticList()).pagination.count, 0);
    });

    test("all/ and admin/all/ parse as Device arrays", async (t) => {
      const { rekey, admin, jdoe, jdoePk, basePath, jdoeKey } = await start(t, dialect);
      await rekey.api("POST", "/api/v3/authenticators/admin/totp/", { name: "phone", user: jdoePk });
      await regenerate(basePath, jdoeKey);
      await admin.authenticatorsAdminTotpCreate({ tOTPDeviceRequest: { name: "admin's" } });

      const mine = await jdoe.authenticatorsAllList();
      assert.equal(mine.length, 2);
      mine.forEach(assertDevice);
      assert.deepEqual(mine.map((device) => device.type).sort(), [
        "authentik_stages_authenticator_static.StaticDevice",
        "authentik_stages_authenticator_totp.TOTPDevice",
      ]);
      const everyone = await admin.authenticatorsAdminAllList();
      assert.equal(everyone.length, 3);
      everyone.forEach(assertDevice);
      assert.equal((await admin.authenticatorsAdminAllList({ user: jdoePk })).length, 2);
      assert.equal((await rejection(jdoe.authenticatorsAdminAllList())).status, 403);
    });
  });
}
