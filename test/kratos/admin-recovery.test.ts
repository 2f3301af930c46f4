import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixedClock } from "../../src/clock.js";
import { createUser, type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  assertKratosError,
  badRequest,
  createIdentity,
  defaultTenantId,
  type JSONBody,
  plainUserToken,
} from "./admin-support.js";

const NOW = new Date("2026-03-01T12:00:00.123Z");
const RANDOM_ID = "0c6f7a0e-3b1d-4d8e-9a55-5d1f3c2b7e10";
const CODE_LINK = /^http:\/\/localhost:9000\/ui\/recovery\?flow=([0-9a-f-]{36})$/;

function at(ms: number): string {
  return new Date(NOW.getTime() + ms).toISOString();
}

async function setup(
  t: Parameters<typeof testApp>[0],
  dialect: (typeof DIALECTS)[number],
  env?: Record<string, string>,
) {
  const clock = fixedClock(NOW);
  const rekey = await testApp(t, dialect, { clock, env });
  const identity = await createIdentity(rekey, { email: "jane@example.com" });
  return { rekey, clock, id: identity["id"] as string };
}

async function eventsOf(rekey: TestApp, action: string): Promise<JSONBody[]> {
  return (await rekey.api("GET", `/api/v3/events/events/?action=${action}`)).json().results as JSONBody[];
}

async function storedFlow(rekey: TestApp, flowId: string) {
  const flow = await rekey.deps.persistence.stores.selfServiceRecovery.findRecoveryFlow(
    defaultTenantId(rekey),
    flowId,
  );
  assert.ok(flow !== null);
  const codes = await rekey.deps.persistence.stores.selfServiceRecovery.listRecoveryCodes(
    defaultTenantId(rekey),
    flowId,
  );
  return { flow, codes };
}

for (const dialect of DIALECTS) {
  describe(`POST /admin/recovery/code on ${dialect}`, () => {
    test("answers 201 with the link, the code and the expiry, in that order, under /admin and /iam", async (t) => {
      const { rekey, id } = await setup(t, dialect);
      for (const prefix of ["/admin", "/iam"]) {
        const response = await rekey.api("POST", `${prefix}/recovery/code`, {
          identity_id: id,
          expires_in: "1.5h",
        });
        assert.equal(response.statusCode, 201, response.body);
        assert.equal(response.headers["content-type"], "application/json; charset=utf-8");
        const body = response.json() as JSONBody;
        assert.deepEqual(Object.keys(body), ["recovery_link", "recovery_code", "expires_at"]);
        assert.match(body["recovery_link"], CODE_LINK);
        assert.match(body["recovery_code"], /^[0-9]{6}$/);
        assert.ok(
          !body["recovery_link"].includes(body["recovery_code"]) && !body["recovery_link"].includes("code="),
        );
        assert.equal(body["expires_at"], at(90 * 60_000));
      }
    });

    test("stores a sent_email flow bound to the identity, and only an HMAC of the code, expiring together", async (t) => {
      const { rekey, id } = await setup(t, dialect);
      const response = await rekey.api(
        "POST",
        "/admin/recovery/code?return_to=http://localhost:9000/welcome",
        { identity_id: id, flow_type: "api" },
      );
      const body = response.json() as JSONBody;
      const flowId = CODE_LINK.exec(body["recovery_link"])![1]!;
      const { flow, codes } = await storedFlow(rekey, flowId);
      const user = await rekey.deps.persistence.stores.users.findUserByUUID(defaultTenantId(rekey), id);
      assert.equal(flow.state, "sent_email");
      assert.equal(flow.active, "code");
      assert.equal(flow.origin, "admin");
      assert.equal(flow.type, "api");
      assert.equal(flow.userId, user!.id);
      assert.equal(flow.csrfHash, null);
      assert.equal(flow.returnTo, "http://localhost:9000/welcome");
      assert.equal(
        flow.requestURL,
        "http://localhost:80/admin/recovery/code?return_to=http://localhost:9000/welcome",
      );
      assert.equal(flow.issuedAt.toISOString(), NOW.toISOString());
      assert.equal(flow.expiresAt.toISOString(), at(3_600_000));
      assert.equal(codes.length, 1);
      const [code] = codes;
      assert.equal(code!.kind, "code");
      assert.equal(code!.origin, "admin");
      assert.equal(code!.address, null);
      assert.equal(code!.usedAt, null);
      assert.equal(code!.userId, user!.id);
      assert.equal(code!.expiresAt.toISOString(), flow.expiresAt.toISOString());
      assert.match(code!.secretHMAC, /^[0-9a-f]{64}$/);
      assert.ok(rekey.deps.codeHMAC.matches(body["recovery_code"], code!.secretHMAC));
      assert.ok(
        !rekey.deps.codeHMAC.matches("000000", code!.secretHMAC) || body["recovery_code"] === "000000",
      );
      const browser = (await rekey.api("POST", "/admin/recovery/code", { identity_id: id })).json();
      assert.equal(
        (await storedFlow(rekey, CODE_LINK.exec(browser.recovery_link)![1]!)).flow.type,
        "browser",
      );
    });

    test("records recovery_code_created with the target, the expiry and the flow", async (t) => {
      const { rekey, id } = await setup(t, dialect);
      const body = (await rekey.api("POST", "/admin/recovery/code", { identity_id: id })).json();
      const [event] = await eventsOf(rekey, "recovery_code_created");
      assert.equal(event!["context"].target.name, "jane@example.com");
      assert.equal(event!["context"].flow_id, CODE_LINK.exec(body.recovery_link)![1]);
      assert.equal(event!["context"].expires, "2026-03-01T13:00:00.123000Z");
      assert.equal(event!["app"], "rekey.kratos");
    });

    test("codes have REKEY_RECOVERY_CODE_LENGTH digits", async (t) => {
      const { rekey, id } = await setup(t, dialect, { REKEY_RECOVERY_CODE_LENGTH: "12" });
      const response = await rekey.api("POST", "/admin/recovery/code", { identity_id: id });
      assert.match(response.json().recovery_code, /^[0-9]{12}$/);
    });

    test("an unknown identity is a 404 with Kratos' exact body; no identity_id is the nil UUID", async (t) => {
      const { rekey } = await setup(t, dialect);
      const notFound = {
        code: 404,
        status: "Not Found",
        reason: "could not find identity",
        message: "Unable to locate the resource",
      };
      assertKratosError(
        await rekey.api("POST", "/admin/recovery/code", { identity_id: RANDOM_ID }),
        404,
        notFound,
      );
      assertKratosError(await rekey.api("POST", "/admin/recovery/code", {}), 404, notFound);
      assertKratosError(await rekey.api("POST", "/admin/recovery/code", "null"), 404, notFound);
      const traced = await rekey.api(
        "POST",
        "/iam/recovery/code",
        { identity_id: RANDOM_ID },
        { headers: { "x-request-id": "trace-1" } },
      );
      assert.equal(
        traced.body,
        JSON.stringify({
          error: {
            code: 404,
            status: "Not Found",
            request: "trace-1",
            reason: "could not find identity",
            message: "Unable to locate the resource",
          },
        }),
      );
    });

    test("accepts an identity without an email and an inactive identity", async (t) => {
      const { rekey } = await setup(t, dialect);
      const pk = await createUser(rekey, "noemail", { email: "" });
      const uuid = (await rekey.api("GET", `/api/v3/core/users/${pk}/`)).json().uuid;
      const response = await rekey.api("POST", "/admin/recovery/code", { identity_id: uuid });
      assert.equal(response.statusCode, 201, response.body);
      assert.match(response.json().recovery_link, CODE_LINK);
      const off = await createIdentity(rekey, { email: "off@example.com" }, { state: "inactive" });
      assert.equal(
        (await rekey.api("POST", "/admin/recovery/code", { identity_id: off["id"] })).statusCode,
        201,
      );
    });

    test("parses expires_in as a Go duration before looking the identity up", async (t) => {
      const { rekey, id } = await setup(t, dialect);
      const unparsable =
        'Unable to parse "expires_in" as a duration string (e.g. "1h", "1m30s", "500ms"): not-a-valid-value';
      assertKratosError(
        await rekey.api("POST", "/admin/recovery/code", {
          identity_id: RANDOM_ID,
          expires_in: "not-a-valid-value",
        }),
        400,
        badRequest(unparsable),
      );
      for (const [expiresIn, shown] of [
        ["-1h", "-1h0m0s"],
        ["0", "0s"],
        ["-90s", "-1m30s"],
        ["-0.5ms", "-500µs"],
      ]) {
        assertKratosError(
          await rekey.api("POST", "/admin/recovery/code", { identity_id: RANDOM_ID, expires_in: expiresIn }),
          400,
          badRequest(`Value from "expires_in" must result to a future time: ${shown}`),
        );
      }
      const lifespans: [string, number][] = [
        ["1.5h", 5_400_000],
        ["90m", 5_400_000],
        ["500ms", 500],
        ["1\u00b5s", 0],
        ["1\u03bcs", 0],
        ["24h", 86_400_000],
        ["", 3_600_000],
      ];
      for (const [expiresIn, ms] of lifespans) {
        const response = await rekey.api("POST", "/admin/recovery/code", {
          identity_id: id,
          expires_in: expiresIn,
        });
        assert.equal(response.statusCode, 201, `${expiresIn}: ${response.body}`);
        assert.equal(response.json().expires_at, at(ms), expiresIn);
      }
    });

    test("refuses a flow_type other than api or browser, after expires_in and before return_to", async (t) => {
      const { rekey, id } = await setup(t, dialect);
      assertKratosError(
        await rekey.api("POST", "/admin/recovery/code", { identity_id: id, flow_type: "native" }),
        400,
        badRequest('Value from "flow_type" is not valid: "native"'),
      );
      const both = await rekey.api("POST", "/admin/recovery/code?return_to=https://evil.example/", {
        identity_id: id,
        flow_type: "native",
        expires_in: "x",
      });
      assert.match(both.json().error.reason, /^Unable to parse "expires_in"/);
      const flowAndReturn = await rekey.api("POST", "/admin/recovery/code?return_to=https://evil.example/", {
        identity_id: id,
        flow_type: "native",
      });
      assert.match(flowAndReturn.json().error.reason, /flow_type/);
    });

    test("refuses a return_to outside the public origin and the allowed prefixes, before looking the identity up", async (t) => {
      const { rekey, id } = await setup(t, dialect, {
        REKEY_ALLOWED_RETURN_URLS: "https://app.example.com/after/",
      });
      const forbidden = {
        id: "self_service_flow_return_to_forbidden",
        code: 400,
        status: "Bad Request",
        reason: 'Requested return_to URL "https://evil.example/" is not allowed.',
        message: "The request was malformed or contained invalid parameters",
      };
      const response = await rekey.api("POST", "/admin/recovery/code?return_to=https://evil.example/", {
        identity_id: RANDOM_ID,
      });
      assertKratosError(response, 400, forbidden);
      assert.equal(response.headers["ory-error-id"], "self_service_flow_return_to_forbidden");
      for (const allowed of ["http://localhost:9000/anything", "https://app.example.com/after/done"]) {
        const ok = await rekey.api("POST", `/admin/recovery/code?return_to=${encodeURIComponent(allowed)}`, {
          identity_id: id,
        });
        assert.equal(ok.statusCode, 201, ok.body);
      }
      const prefixOnly = await rekey.api(
        "POST",
        "/admin/recovery/code?return_to=https://app.example.com/other",
        { identity_id: id },
      );
      assert.equal(prefixOnly.statusCode, 400);
    });

    test("issues independent codes: the second code does not match the first flow's row", async (t) => {
      const { rekey, id } = await setup(t, dialect);
      const first = (await rekey.api("POST", "/admin/recovery/code", { identity_id: id })).json();
      const second = (await rekey.api("POST", "/admin/recovery/code", { identity_id: id })).json();
      const flowOne = await storedFlow(rekey, CODE_LINK.exec(first.recovery_link)![1]!);
      const flowTwo = await storedFlow(rekey, CODE_LINK.exec(second.recovery_link)![1]!);
      assert.notEqual(flowOne.flow.id, flowTwo.flow.id);
      if (first.recovery_code !== second.recovery_code) {
        assert.ok(!rekey.deps.codeHMAC.matches(second.recovery_code, flowOne.codes[0]!.secretHMAC));
      }
      assert.ok(rekey.deps.codeHMAC.matches(second.recovery_code, flowTwo.codes[0]!.secretHMAC));
    });

    test("a non-superuser's token is a 403 and no token a 401, on both prefixes", async (t) => {
      const { rekey, id } = await setup(t, dialect);
      const plain = await plainUserToken(rekey);
      for (const prefix of ["/admin", "/iam"]) {
        assert.equal(
          (await rekey.api("POST", `${prefix}/recovery/code`, { identity_id: id }, { token: null }))
            .statusCode,
          401,
        );
        assert.equal(
          (await rekey.api("POST", `${prefix}/recovery/code`, { identity_id: id }, { token: plain }))
            .statusCode,
          403,
        );
        assert.equal(
          (await rekey.api("POST", `${prefix}/recovery/link`, { identity_id: id }, { token: plain }))
            .statusCode,
          403,
        );
      }
    });
  });
}
