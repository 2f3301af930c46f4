import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { verifySecondFactor } from "../../src/authenticators/service.js";
import { encodeBase32, matchingStep, totpCodeAt } from "../../src/authenticators/totp.js";
import { fixedClock } from "../../src/clock.js";
import { createTokenFor, createUser, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  adminPk,
  createTOTP,
  deviceEvents,
  findUser,
  isSessionActive,
  JSON_403,
  sessionOf,
  tenantB,
} from "./helpers.js";

/** authentik-v3.md §3.5 and the "Admin TOTP" lines of §5, through /api/v3/authenticators/admin/totp/. */

const BASE = "/api/v3/authenticators/admin/totp/";
const SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"; // 20 bytes
const OTHER_SECRET = encodeBase32(Buffer.from("0123456789abcdefghij")); // another 20 bytes

for (const dialect of DIALECTS) {
  describe(`POST ${BASE} on ${dialect}`, () => {
    test("with only a name, creates a confirmed device for the caller and answers name, pk, user, config_url", async (t) => {
      const rekey = await testApp(t, dialect);
      const response = await rekey.api("POST", BASE, { name: "YubiKey OTP" });
      assert.equal(response.statusCode, 201, response.body);
      assert.equal(response.headers["cache-control"], "no-store");
      const body = response.json();
      assert.deepEqual(Object.keys(body), ["name", "pk", "user", "config_url"]);
      assert.equal(body.name, "YubiKey OTP");
      assert.equal(body.user.pk, await adminPk(rekey));
      assert.deepEqual(Object.keys(body.user), [
        "pk",
        "username",
        "name",
        "is_active",
        "last_login",
        "email",
        "attributes",
        "uid",
      ]);
      const stored = await rekey.deps.persistence.stores.totpDevices.findTOTPDevice(
        (await findUser(rekey, body.user.pk)).tenantId,
        body.pk,
      );
      assert.equal(stored?.confirmed, true, "admin-created devices count as a second factor at once");
      assert.deepEqual(
        (await deviceEvents(rekey)).filter((event) => event.action === "model_created"),
        [{ action: "model_created", model: "totpdevice", pk: body.pk, actor: "akadmin" }],
      );
    });

    test("the config_url is otpauth://totp/Rekey%3A<username> with the secret, algorithm, digits, period and issuer", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const created = await createTOTP(rekey, { name: "phone", user: jdoe, secret: SECRET });
      const url = created.configURL;
      assert.equal(url.protocol, "otpauth:");
      assert.equal(url.host, "totp");
      assert.equal(url.pathname, "/Rekey%3Ajdoe");
      assert.equal(url.searchParams.get("issuer"), "Rekey");
      assert.equal(url.searchParams.get("secret"), SECRET, "an imported secret is what the URL carries");
      assert.equal(
        url.href,
        `otpauth://totp/Rekey%3Ajdoe?secret=${SECRET}&algorithm=SHA1&digits=6&period=30&issuer=Rekey`,
      );
    });

    test("accepts a lower-case secret with spaces and padding, digits 8, period 60 and sha256", async (t) => {
      const rekey = await testApp(t, dialect);
      const spaced = `${OTHER_SECRET.toLowerCase().slice(0, 8)} ${OTHER_SECRET.toLowerCase().slice(8)}====`;
      const created = await createTOTP(rekey, {
        name: "token",
        secret: spaced,
        digits: 8,
        period: 60,
        algorithm: "sha256",
      });
      assert.equal(created.configURL.searchParams.get("secret"), OTHER_SECRET);
      assert.deepEqual(created.device, { digits: 8, period: 60, algorithm: "sha256" });
    });

    test("a fresh secret is 20 random bytes, different for every device", async (t) => {
      const rekey = await testApp(t, dialect);
      const first = await createTOTP(rekey, { name: "a" });
      const second = await createTOTP(rekey, { name: "b" });
      assert.equal(first.secret.length, 20);
      assert.notDeepEqual(first.secret, second.secret);
    });

    test("refuses bad fields with authentik's messages and creates nothing", async (t) => {
      const rekey = await testApp(t, dialect);
      const cases: [Record<string, unknown>, Record<string, string[]>][] = [
        [{ name: "x", digits: 7 }, { digits: ['"7" is not a valid choice.'] }],
        [{ name: "x", algorithm: "md5" }, { algorithm: ['"md5" is not a valid choice.'] }],
        [{ name: "x", period: 9 }, { period: ["Ensure this value is greater than or equal to 10."] }],
        [{ name: "x", period: 301 }, { period: ["Ensure this value is less than or equal to 300."] }],
        [{ name: "x", user: 999 }, { user: ['Invalid pk "999" - object does not exist.'] }],
        [{ name: "x", secret: "JBSWY3DP" }, { secret: ["Invalid base32 secret."] }],
        [{ name: "x", secret: "not base32!" }, { secret: ["Invalid base32 secret."] }],
        [{ name: "x", secret: encodeBase32(new Uint8Array(65)) }, { secret: ["Invalid base32 secret."] }],
        [
          { name: "x", user: 999, secret: "!" },
          { user: ['Invalid pk "999" - object does not exist.'], secret: ["Invalid base32 secret."] },
        ],
        [{}, { name: ["This field is required."] }],
        [{ name: "" }, { name: ["This field may not be blank."] }],
        [{ name: "x".repeat(65) }, { name: ["Ensure this field has no more than 64 characters."] }],
      ];
      for (const [body, errors] of cases) {
        const response = await rekey.api("POST", BASE, body);
        assert.equal(response.statusCode, 400, JSON.stringify(body));
        assert.deepEqual(response.json(), errors, JSON.stringify(body));
      }
      assert.equal((await rekey.api("GET", BASE)).json().pagination.count, 0);
    });
  });

  describe(`verifying codes of an admin-created device on ${dialect}`, () => {
    test("a code from the current step verifies, one step either side verifies, a reused code fails", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:10Z"));
      const rekey = await testApp(t, dialect, { clock });
      const stores = rekey.deps.persistence.stores;
      const user = await findUser(rekey, await createUser(rekey, "jdoe"));
      const created = await createTOTP(rekey, { name: "phone", user: user.id });
      const codeAt = (offsetSteps: number): string =>
        totpCodeAt(created.device, created.secret, new Date(clock.now().getTime() + offsetSteps * 30_000));

      assert.equal(await verifySecondFactor(rekey.deps, stores, user, codeAt(-1)), "totp", "previous step");
      assert.equal(await verifySecondFactor(rekey.deps, stores, user, codeAt(0)), "totp", "current step");
      assert.equal(await verifySecondFactor(rekey.deps, stores, user, codeAt(1)), "totp", "next step");
      assert.equal(await verifySecondFactor(rekey.deps, stores, user, codeAt(0)), null, "reused code");
      assert.equal(
        await verifySecondFactor(rekey.deps, stores, user, codeAt(1)),
        null,
        "reused code of the last step",
      );

      const other = await findUser(rekey, await createUser(rekey, "other"));
      const second = await createTOTP(rekey, { name: "phone", user: other.id });
      const farCode = totpCodeAt(second.device, second.secret, new Date(clock.now().getTime() + 2 * 30_000));
      assert.equal(await verifySecondFactor(rekey.deps, stores, other, farCode), null, "two steps away");
    });

    test("digits, period and algorithm of the create body are the ones codes are checked with", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:40Z"));
      const rekey = await testApp(t, dialect, { clock });
      const user = await findUser(rekey, await createUser(rekey, "jdoe"));
      const created = await createTOTP(rekey, {
        name: "t",
        user: user.id,
        digits: 8,
        period: 60,
        algorithm: "sha512",
      });
      const code = totpCodeAt(created.device, created.secret, clock.now());
      assert.match(code, /^\d{8}$/);
      assert.equal(
        matchingStep({ digits: 6, period: 30, algorithm: "sha1" }, created.secret, code, clock.now()),
        null,
      );
      assert.equal(await verifySecondFactor(rekey.deps, rekey.deps.persistence.stores, user, code), "totp");
    });
  });

  describe(`reading and changing admin TOTP devices on ${dialect}`, () => {
    test("list, retrieve and PATCH never show the secret, digits, period or algorithm", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const created = await createTOTP(rekey, {
        name: "phone",
        user: jdoe,
        secret: SECRET,
        digits: 8,
        period: 45,
        algorithm: "sha256",
      });
      const answers = [
        await rekey.api("GET", BASE),
        await rekey.api("GET", `${BASE}?user=${jdoe}`),
        await rekey.api("GET", `${BASE}${created.pk}/`),
        await rekey.api("PATCH", `${BASE}${created.pk}/`, { name: "Phone" }),
        await rekey.api("PUT", `${BASE}${created.pk}/`, { name: "Phone 2" }),
        await rekey.api("GET", "/api/v3/events/events/?page_size=100"),
      ];
      for (const answer of answers) {
        assert.equal(answer.statusCode, 200, answer.body);
        for (const leak of [
          SECRET,
          "config_url",
          "otpauth",
          '"secret"',
          '"digits"',
          '"period"',
          '"algorithm"',
          "sha256",
          "SHA256",
        ]) {
          assert.ok(!answer.body.includes(leak), `${leak} in ${answer.body}`);
        }
      }
      const item = answers[2]!.json();
      assert.deepEqual(Object.keys(item), ["name", "pk", "user"]);
      assert.equal(answers[3]!.json().name, "Phone");
      assert.equal(answers[4]!.json().name, "Phone 2");
    });

    test("PUT and PATCH change the name only; other fields are ignored", async (t) => {
      const clock = fixedClock(new Date("2026-03-01T12:00:10Z"));
      const rekey = await testApp(t, dialect, { clock });
      const user = await findUser(rekey, await createUser(rekey, "jdoe"));
      const created = await createTOTP(rekey, { name: "phone", user: user.id, secret: SECRET });
      const admin = await adminPk(rekey);
      const patched = await rekey.api("PATCH", `${BASE}${created.pk}/`, {
        name: "Phone",
        user: admin,
        digits: 8,
        secret: OTHER_SECRET,
        period: 60,
      });
      assert.equal(patched.statusCode, 200, patched.body);
      assert.equal(patched.json().user.pk, user.id, "the owner is not changed");
      const empty = await rekey.api("PATCH", `${BASE}${created.pk}/`, {});
      assert.equal(empty.json().name, "Phone");
      assert.deepEqual((await rekey.api("PUT", `${BASE}${created.pk}/`, {})).json(), {
        name: ["This field is required."],
      });
      assert.deepEqual((await rekey.api("PATCH", `${BASE}${created.pk}/`, { name: "" })).json(), {
        name: ["This field may not be blank."],
      });
      const code = totpCodeAt({ digits: 6, period: 30, algorithm: "sha1" }, created.secret, clock.now());
      assert.equal(
        await verifySecondFactor(rekey.deps, rekey.deps.persistence.stores, user, code),
        "totp",
        "the old secret and settings still hold",
      );
      const updates = (await deviceEvents(rekey)).filter((event) => event.action === "model_updated");
      assert.equal(updates.length, 2, "one model_updated per successful update");
    });

    test("the list shows every user's devices, filters by user and name, searches and orders by name", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const mary = await createUser(rekey, "mary");
      await createTOTP(rekey, { name: "b-phone", user: jdoe });
      await createTOTP(rekey, { name: "a-tablet", user: jdoe });
      await createTOTP(rekey, { name: "c-phone", user: mary });
      const names = async (query: string): Promise<string[]> => {
        const response = await rekey.api("GET", `${BASE}${query}`);
        assert.equal(response.statusCode, 200, response.body);
        return response.json().results.map((row: { name: string }) => row.name);
      };
      assert.deepEqual(await names(""), ["a-tablet", "b-phone", "c-phone"]);
      assert.deepEqual(await names("?ordering=-name"), ["c-phone", "b-phone", "a-tablet"]);
      assert.deepEqual(await names(`?user=${jdoe}`), ["a-tablet", "b-phone"]);
      assert.deepEqual(await names(`?user=${mary}&name=c-phone`), ["c-phone"]);
      assert.deepEqual(await names("?name=phone"), [], "name is an exact filter");
      assert.deepEqual(await names("?search=PHONE"), ["b-phone", "c-phone"]);
      assert.deepEqual(await names("?page_size=1&page=2"), ["b-phone"]);
      assert.deepEqual((await rekey.api("GET", `${BASE}?user=999`)).json(), {
        user: ['Invalid pk "999" - object does not exist.'],
      });
      assert.deepEqual((await rekey.api("GET", `${BASE}?user=abc`)).json(), {
        user: ["Incorrect type. Expected pk value, received str."],
      });
      assert.deepEqual((await rekey.api("GET", `${BASE}?page=9`)).json(), { detail: "Invalid page." });
    });

    test("unknown and malformed ids are authentik's 404s", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const method of ["GET", "PATCH", "PUT", "DELETE"]) {
        const unknown = await rekey.api(
          method,
          `${BASE}999/`,
          method === "GET" || method === "DELETE" ? undefined : { name: "x" },
        );
        assert.equal(unknown.statusCode, 404);
        assert.deepEqual(unknown.json(), { detail: "No TOTPDevice matches the given query." });
        for (const malformed of ["abc", "99999999999", "-1"]) {
          const response = await rekey.api(
            method,
            `${BASE}${malformed}/`,
            method === "GET" || method === "DELETE" ? undefined : { name: "x" },
          );
          assert.deepEqual(response.json(), { detail: "Not found." }, malformed);
        }
      }
    });

    test("DELETE answers 204, records model_deleted and revokes the owner's sessions (an MFA reset)", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const bystander = await createUser(rekey, "bystander");
      const created = await createTOTP(rekey, { name: "phone", user: jdoe });
      const session = await sessionOf(rekey, jdoe);
      const otherSession = await sessionOf(rekey, bystander);
      const response = await rekey.api("DELETE", `${BASE}${created.pk}/`);
      assert.equal(response.statusCode, 204);
      assert.equal(response.body, "");
      assert.equal(await isSessionActive(rekey, session), false, "the owner's session ended");
      assert.equal(await isSessionActive(rekey, otherSession), true, "nobody else's");
      assert.equal((await rekey.api("GET", `${BASE}${created.pk}/`)).statusCode, 404);
      assert.ok(
        (await deviceEvents(rekey)).some(
          (event) => event.action === "model_deleted" && event.pk === created.pk,
        ),
      );
      assert.equal((await rekey.api("DELETE", `${BASE}${created.pk}/`)).statusCode, 404);
    });
  });

  describe(`who may use ${BASE} on ${dialect}`, () => {
    test("a non-superuser gets 403 on every admin route, before any lookup", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const key = await createTokenFor(rekey, jdoe, "jdoe-key");
      const own = await createTOTP(rekey, { name: "phone", user: jdoe });
      for (const [method, url, body] of [
        ["GET", BASE, undefined],
        ["POST", BASE, { name: "mine" }],
        ["GET", `${BASE}${own.pk}/`, undefined],
        ["PATCH", `${BASE}${own.pk}/`, { name: "x" }],
        ["PUT", `${BASE}999/`, { name: "x" }],
        ["DELETE", `${BASE}${own.pk}/`, undefined],
      ] as const) {
        const response = await rekey.api(method, url, body, { token: key });
        assert.equal(response.statusCode, 403, `${method} ${url}`);
        assert.deepEqual(response.json(), JSON_403);
      }
      const anonymous = await rekey.api("GET", BASE, undefined, { token: null });
      assert.deepEqual(anonymous.json(), { detail: "Authentication credentials were not provided." });
      assert.equal(
        (await rekey.api("GET", BASE)).json().pagination.count,
        1,
        "nothing was created, changed or deleted",
      );
    });

    test("devices are invisible from another tenant, and its admin cannot name this tenant's users", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const created = await createTOTP(rekey, { name: "phone", user: jdoe });
      const b = await tenantB(rekey);
      assert.equal((await b.call("GET", BASE)).json().pagination.count, 0);
      for (const method of ["GET", "PATCH", "DELETE"]) {
        const response = await b.call(
          method,
          `${BASE}${created.pk}/`,
          method === "PATCH" ? { name: "stolen" } : undefined,
        );
        assert.deepEqual(response.json(), { detail: "No TOTPDevice matches the given query." }, method);
      }
      assert.deepEqual((await b.call("POST", BASE, { name: "x", user: jdoe })).json(), {
        user: [`Invalid pk "${jdoe}" - object does not exist.`],
      });
      const mine = await b.call("POST", BASE, { name: "B's own" });
      assert.equal(mine.statusCode, 201, mine.body);
      assert.equal(
        (await rekey.api("GET", `${BASE}${mine.json().pk}/`)).statusCode,
        404,
        "and the other way round",
      );
      const still = await rekey.api("GET", `${BASE}${created.pk}/`);
      assert.equal(still.json().name, "phone");
    });
  });
}
