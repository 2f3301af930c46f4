import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createTOTPDevice, verifySecondFactor } from "../../src/authenticators/service.js";
import { totpCodeAt } from "../../src/authenticators/totp.js";
import { fixedClock } from "../../src/clock.js";
import { SYSTEM_ACTOR } from "../../src/events/store.js";
import { createTokenFor, createUser, type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import { createTOTP, deviceEvents, findUser, isSessionActive, JSON_403, sessionOf } from "./helpers.js";

/**
 * The caller's own devices (`/authenticators/totp/`, `/authenticators/static/`), backup codes through
 * the API, the admin static viewset, and the `all/` lists of every kind.
 */

const MASKED = "************";
const NO_TOTP = { detail: "No TOTPDevice matches the given query." };
const NO_STATIC = { detail: "No StaticDevice matches the given query." };
const DEVICE_KEYS = [
  "verbose_name",
  "verbose_name_plural",
  "meta_model_name",
  "pk",
  "name",
  "type",
  "confirmed",
  "created",
  "last_updated",
  "last_used",
  "extra_description",
  "external_id",
];

interface Person {
  pk: number;
  key: string;
  call: (method: string, url: string, body?: unknown) => ReturnType<TestApp["api"]>;
}

async function person(rekey: TestApp, username: string): Promise<Person> {
  const pk = await createUser(rekey, username);
  const key = await createTokenFor(rekey, pk, `${username}-key`);
  return { pk, key, call: (method, url, body) => rekey.api(method, url, body, { token: key }) };
}

/** A self-enrolment in progress: a device that is not a second factor until its first code. */
async function unconfirmedDevice(rekey: TestApp, userPk: number): Promise<number> {
  const user = await findUser(rekey, userPk);
  const audit = {
    tenantId: user.tenantId,
    actor: SYSTEM_ACTOR,
    clientIP: null,
    httpRequest: null,
    app: "rekey.api" as const,
  };
  const { device } = await createTOTPDevice(rekey.deps, audit, {
    user,
    name: "pending",
    digits: 6,
    period: 30,
    algorithm: "sha1",
    secret: null,
    confirmed: false,
  });
  return device.id;
}

async function generateCodes(
  who: Person,
  body: unknown = {},
): Promise<{ pk: number; codes: string[]; name: string }> {
  const response = await who.call("POST", "/api/v3/authenticators/static/", body);
  assert.equal(response.statusCode, 201, response.body);
  assert.equal(response.headers["cache-control"], "no-store");
  const json = response.json();
  assert.deepEqual(Object.keys(json), ["name", "token_set", "pk", "user"]);
  assert.equal(json.user.pk, who.pk);
  return {
    pk: json.pk,
    name: json.name,
    codes: json.token_set.map((entry: { token: string }) => entry.token),
  };
}

for (const dialect of DIALECTS) {
  describe(`/api/v3/authenticators/totp/ on ${dialect}`, () => {
    test("lists, shows, renames and deletes the caller's confirmed devices only", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await person(rekey, "jdoe");
      const mary = await person(rekey, "mary");
      const own = await createTOTP(rekey, { name: "phone", user: jdoe.pk });
      const others = await createTOTP(rekey, { name: "mary's phone", user: mary.pk });
      const pending = await unconfirmedDevice(rekey, jdoe.pk);

      const list = await jdoe.call("GET", "/api/v3/authenticators/totp/");
      assert.equal(list.statusCode, 200, list.body);
      assert.deepEqual(
        list.json().results.map((row: { pk: number }) => row.pk),
        [own.pk],
        "not mary's, not the unconfirmed one",
      );
      assert.deepEqual(Object.keys(list.json().results[0]), ["name", "pk", "user"]);
      assert.equal(
        (await jdoe.call("GET", `/api/v3/authenticators/totp/?search=PHO`)).json().pagination.count,
        1,
      );

      for (const id of [others.pk, pending, 999]) {
        for (const method of ["GET", "PATCH", "PUT", "DELETE"]) {
          const response = await jdoe.call(
            method,
            `/api/v3/authenticators/totp/${id}/`,
            method.startsWith("P") ? { name: "mine now" } : undefined,
          );
          assert.equal(response.statusCode, 404, `${method} ${id}`);
          assert.deepEqual(response.json(), NO_TOTP);
        }
      }
      assert.equal(
        (await rekey.api("GET", `/api/v3/authenticators/admin/totp/${others.pk}/`)).json().name,
        "mary's phone",
      );

      const renamed = await jdoe.call("PATCH", `/api/v3/authenticators/totp/${own.pk}/`, {
        name: "Phone",
        digits: 8,
      });
      assert.equal(renamed.statusCode, 200, renamed.body);
      assert.deepEqual(renamed.json(), { ...list.json().results[0], name: "Phone" });
      assert.deepEqual(
        (await jdoe.call("PUT", `/api/v3/authenticators/totp/${own.pk}/`, { name: "x".repeat(65) })).json(),
        {
          name: ["Ensure this field has no more than 64 characters."],
        },
      );

      const session = await sessionOf(rekey, jdoe.pk);
      assert.equal((await jdoe.call("DELETE", `/api/v3/authenticators/totp/${own.pk}/`)).statusCode, 204);
      assert.equal(
        await isSessionActive(rekey, session),
        true,
        "removing one's own device is not an MFA reset",
      );
      const events = await deviceEvents(rekey);
      assert.ok(
        events.some(
          (event) => event.action === "model_updated" && event.pk === own.pk && event.actor === "jdoe",
        ),
      );
      assert.ok(
        events.some(
          (event) => event.action === "model_deleted" && event.pk === own.pk && event.actor === "jdoe",
        ),
      );
    });

    test("a superuser sees only their own devices here too", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await person(rekey, "jdoe");
      await createTOTP(rekey, { name: "jdoe's", user: jdoe.pk });
      const own = await createTOTP(rekey, { name: "admin's" });
      const list = await rekey.api("GET", "/api/v3/authenticators/totp/");
      assert.deepEqual(
        list.json().results.map((row: { pk: number }) => row.pk),
        [own.pk],
      );
    });
  });

  describe(`backup codes through /api/v3/authenticators/static/ on ${dialect}`, () => {
    test("POST issues 10 codes once; reads list each unused code masked; each code works once", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await person(rekey, "jdoe");
      const issued = await generateCodes(jdoe);
      assert.equal(issued.codes.length, 10);
      assert.equal(new Set(issued.codes).size, 10);
      assert.equal(issued.name, "Backup codes");
      for (const code of issued.codes) assert.match(code, /^[a-z2-9]{12}$/);

      const user = await findUser(rekey, jdoe.pk);
      assert.equal(
        await verifySecondFactor(rekey.deps, rekey.deps.persistence.stores, user, issued.codes[3]!),
        "lookup_secret",
      );
      assert.equal(
        await verifySecondFactor(rekey.deps, rekey.deps.persistence.stores, user, issued.codes[3]!),
        null,
        "used once",
      );

      const reads = [
        await jdoe.call("GET", "/api/v3/authenticators/static/"),
        await jdoe.call("GET", `/api/v3/authenticators/static/${issued.pk}/`),
        await rekey.api("GET", `/api/v3/authenticators/admin/static/?user=${jdoe.pk}`),
        await rekey.api("GET", `/api/v3/authenticators/admin/static/${issued.pk}/`),
        await jdoe.call("PATCH", `/api/v3/authenticators/static/${issued.pk}/`, { name: "Paper" }),
        await rekey.api("GET", "/api/v3/events/events/?page_size=100"),
      ];
      for (const read of reads) {
        assert.equal(read.statusCode, 200, read.body);
        for (const code of issued.codes) assert.ok(!read.body.includes(code), "no read shows a code");
      }
      const device = reads[1]!.json();
      assert.deepEqual(
        device.token_set,
        Array.from({ length: 9 }, () => ({ token: MASKED })),
        "one masked entry per unused code",
      );
      assert.equal(reads[0]!.json().results[0].token_set.length, 9);
      assert.equal(reads[4]!.json().name, "Paper");
    });

    test("a new set replaces the old one: old codes stop working, events record both", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await person(rekey, "jdoe");
      const first = await generateCodes(jdoe);
      const second = await generateCodes(jdoe, { name: "Drawer" });
      assert.equal(second.name, "Drawer");
      const user = await findUser(rekey, jdoe.pk);
      const stores = rekey.deps.persistence.stores;
      assert.equal(await verifySecondFactor(rekey.deps, stores, user, first.codes[0]!), null);
      assert.equal(await verifySecondFactor(rekey.deps, stores, user, second.codes[0]!), "lookup_secret");
      assert.deepEqual(
        (await jdoe.call("GET", "/api/v3/authenticators/static/"))
          .json()
          .results.map((row: { pk: number }) => row.pk),
        [second.pk],
      );
      const events = await deviceEvents(rekey);
      assert.ok(
        events.some(
          (event) =>
            event.action === "model_deleted" && event.model === "staticdevice" && event.pk === first.pk,
        ),
      );
      assert.equal(
        events.filter((event) => event.action === "model_created" && event.model === "staticdevice").length,
        2,
      );
      assert.deepEqual((await jdoe.call("POST", "/api/v3/authenticators/static/", { name: "" })).json(), {
        name: ["This field may not be blank."],
      });
      assert.deepEqual(
        (await jdoe.call("GET", "/api/v3/authenticators/static/"))
          .json()
          .results.map((row: { pk: number }) => row.pk),
        [second.pk],
        "a refused POST replaced nothing",
      );
    });

    test("another user's set is a 404, and the admin routes are for superusers", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await person(rekey, "jdoe");
      const mary = await person(rekey, "mary");
      const marys = await generateCodes(mary);
      for (const method of ["GET", "PUT", "PATCH", "DELETE"]) {
        const response = await jdoe.call(
          method,
          `/api/v3/authenticators/static/${marys.pk}/`,
          method.startsWith("P") ? { name: "x" } : undefined,
        );
        assert.deepEqual(response.json(), NO_STATIC, method);
        const admin = await jdoe.call(
          method,
          `/api/v3/authenticators/admin/static/${marys.pk}/`,
          method.startsWith("P") ? { name: "x" } : undefined,
        );
        assert.deepEqual(admin.json(), JSON_403, method);
      }
      assert.deepEqual((await jdoe.call("GET", "/api/v3/authenticators/admin/static/")).json(), JSON_403);
      assert.equal((await jdoe.call("GET", "/api/v3/authenticators/static/")).json().pagination.count, 0);
      const adminCreate = await rekey.api("POST", "/api/v3/authenticators/admin/static/", {
        name: "for mary",
      });
      assert.equal(adminCreate.statusCode, 405, "an admin never holds a user's backup codes");
    });

    test("an admin lists every user's sets, filters by user, and deleting one resets that user's sessions", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await person(rekey, "jdoe");
      const mary = await person(rekey, "mary");
      const jdoes = await generateCodes(jdoe);
      await generateCodes(mary);
      const all = await rekey.api("GET", "/api/v3/authenticators/admin/static/");
      assert.equal(all.json().pagination.count, 2);
      const filtered = await rekey.api("GET", `/api/v3/authenticators/admin/static/?user=${jdoe.pk}`);
      assert.deepEqual(
        filtered.json().results.map((row: { pk: number }) => row.pk),
        [jdoes.pk],
      );
      const session = await sessionOf(rekey, jdoe.pk);
      assert.equal(
        (await rekey.api("DELETE", `/api/v3/authenticators/admin/static/${jdoes.pk}/`)).statusCode,
        204,
      );
      assert.equal(await isSessionActive(rekey, session), false);
      assert.deepEqual(
        (await rekey.api("GET", `/api/v3/authenticators/admin/static/${jdoes.pk}/`)).json(),
        NO_STATIC,
      );
      assert.ok(
        (await deviceEvents(rekey)).some(
          (event) => event.action === "model_deleted" && event.pk === jdoes.pk && event.actor === "akadmin",
        ),
      );
    });
  });

  describe(`/api/v3/authenticators/all/ and admin/all/ on ${dialect}`, () => {
    test("all/ lists the caller's confirmed devices of every kind in upstream's Device shape", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:10Z"));
      const rekey = await testApp(t, dialect, { clock });
      const jdoe = await person(rekey, "jdoe");
      const mary = await person(rekey, "mary");
      const totp = await createTOTP(rekey, { name: "phone", user: jdoe.pk });
      await unconfirmedDevice(rekey, jdoe.pk);
      const codes = await generateCodes(jdoe);
      await createTOTP(rekey, { name: "mary's", user: mary.pk });
      const user = await findUser(rekey, jdoe.pk);
      assert.equal(
        await verifySecondFactor(
          rekey.deps,
          rekey.deps.persistence.stores,
          user,
          totpCodeAt(totp.device, totp.secret, clock.now()),
        ),
        "totp",
      );

      const response = await jdoe.call("GET", "/api/v3/authenticators/all/");
      assert.equal(response.statusCode, 200, response.body);
      const devices = response.json();
      assert.equal(devices.length, 2);
      for (const device of devices) assert.deepEqual(Object.keys(device), DEVICE_KEYS);
      assert.deepEqual(devices[0], {
        verbose_name: "Static Device",
        verbose_name_plural: "Static Devices",
        meta_model_name: "authentik_stages_authenticator_static.staticdevice",
        pk: String(codes.pk),
        name: "Backup codes",
        type: "authentik_stages_authenticator_static.StaticDevice",
        confirmed: true,
        created: "2026-03-01T12:00:10Z",
        last_updated: "2026-03-01T12:00:10Z",
        last_used: null,
        extra_description: null,
        external_id: null,
      });
      assert.equal(devices[1].type, "authentik_stages_authenticator_totp.TOTPDevice");
      assert.equal(devices[1].verbose_name, "TOTP Device");
      assert.equal(devices[1].pk, String(totp.pk));
      assert.equal(devices[1].last_used, "2026-03-01T12:00:00Z", "the start of the accepted code's step");
    });

    test("admin/all/ lists every device, confirmed or not, or one user's with ?user=", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await person(rekey, "jdoe");
      const mary = await person(rekey, "mary");
      await createTOTP(rekey, { name: "phone", user: jdoe.pk });
      const pending = await unconfirmedDevice(rekey, jdoe.pk);
      await generateCodes(mary);
      const all = await rekey.api("GET", "/api/v3/authenticators/admin/all/");
      assert.equal(all.statusCode, 200, all.body);
      assert.equal(all.json().length, 3);
      const jdoes = (await rekey.api("GET", `/api/v3/authenticators/admin/all/?user=${jdoe.pk}`)).json();
      assert.deepEqual(
        jdoes.map((device: { name: string; confirmed: boolean }) => [device.name, device.confirmed]),
        [
          ["phone", true],
          ["pending", false],
        ],
      );
      assert.ok(jdoes.some((device: { pk: string }) => device.pk === String(pending)));
      assert.deepEqual((await rekey.api("GET", "/api/v3/authenticators/admin/all/?user=999")).json(), {
        user: ['Invalid pk "999" - object does not exist.'],
      });
      assert.deepEqual((await rekey.api("GET", "/api/v3/authenticators/admin/all/?user=x")).json(), {
        user: ["Incorrect type. Expected pk value, received str."],
      });
      assert.deepEqual((await jdoe.call("GET", "/api/v3/authenticators/admin/all/")).json(), JSON_403);
      assert.deepEqual(
        (await rekey.api("GET", "/api/v3/authenticators/all/", undefined, { token: null })).json(),
        {
          detail: "Authentication credentials were not provided.",
        },
      );
    });
  });
}
