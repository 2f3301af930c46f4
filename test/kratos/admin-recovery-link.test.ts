import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixedClock } from "../../src/clock.js";
import { ADMIN_TOKEN, type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  assertKratosError,
  badRequest,
  createIdentity,
  defaultTenantId,
  type JSONBody,
  secondTenant,
  UUID,
} from "./admin-support.js";

const NOW = new Date("2026-03-01T12:00:00.123Z");
const RANDOM_ID = "0c6f7a0e-3b1d-4d8e-9a55-5d1f3c2b7e10";
const TOKEN_LINK =
  /^http:\/\/localhost:9000\/self-service\/recovery\?flow=([0-9a-f-]{36})&token=([A-Za-z0-9]{32})$/;

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
  describe(`request decoding of the admin recovery routes on ${dialect}`, () => {
    for (const [route, struct] of [
      ["code", "createRecoveryCodeForIdentityBody"],
      ["link", "createRecoveryLinkForIdentityBody"],
    ] as const) {
      test(`${route}: empty body, then Content-Type, then JSON, each with Kratos' text`, async (t) => {
        const { rekey, id } = await setup(t, dialect);
        const url = `/admin/recovery/${route}`;
        const post = (payload: string, contentType?: string) =>
          rekey.app.inject({
            method: "POST",
            url,
            payload,
            headers: {
              authorization: `Bearer ${ADMIN_TOKEN}`,
              ...(contentType === undefined ? {} : { "content-type": contentType }),
            },
          });
        assertKratosError(
          await post("", "text/plain"),
          400,
          badRequest('Unable to decode HTTP Request Body because its HTTP Header "Content-Length" is zero.'),
        );
        assertKratosError(
          await post("{}", "text/plain"),
          400,
          badRequest(
            'HTTP POST Request used unknown HTTP Header "Content-Type: text/plain", only [application/json] are supported.',
          ),
        );
        assertKratosError(
          await post("{}"),
          400,
          badRequest(
            'HTTP POST Request used unknown HTTP Header "Content-Type: ", only [application/json] are supported.',
          ),
        );
        assertKratosError(
          await post('{"expires_in":5}', "application/json"),
          400,
          badRequest(
            `Unable to decode JSON payload: json: cannot unmarshal number into Go struct field ${struct}.expires_in of type string`,
          ),
        );
        assertKratosError(
          await post('{"identity_id":"abc"}', "application/json"),
          400,
          badRequest('Unable to decode JSON payload: uuid: incorrect UUID length 3 in string "abc"'),
        );
        const bad36 = "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz";
        assertKratosError(
          await post(`{"identity_id":"${bad36}"}`, "application/json"),
          400,
          badRequest(`Unable to decode JSON payload: uuid: incorrect UUID format in string "${bad36}"`),
        );
        const broken = await post("{", "application/json");
        assert.equal(broken.statusCode, 400);
        assert.match(broken.json().error.reason, /^Unable to decode JSON payload: /);
        const accepted = await post(
          JSON.stringify({ identity_id: id, unknown_field: [1], Expires_In: "2h" }),
          "Application/JSON; charset=utf-8",
        );
        assert.equal(accepted.statusCode, route === "code" ? 201 : 200, accepted.body);
        assert.equal(
          accepted.json().expires_at,
          at(2 * 3_600_000),
          "field names match without case, as in Go",
        );
      });
    }
  });

  describe(`POST /admin/recovery/link on ${dialect}`, () => {
    test("answers 200 with a link holding the flow and a 32-character token, stored as an HMAC", async (t) => {
      const { rekey, id } = await setup(t, dialect);
      for (const prefix of ["/admin", "/iam"]) {
        const response = await rekey.api("POST", `${prefix}/recovery/link`, {
          identity_id: id,
          expires_in: "24h",
        });
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.headers["content-type"], "application/json; charset=utf-8");
        const body = response.json() as JSONBody;
        assert.deepEqual(Object.keys(body), ["recovery_link", "expires_at"]);
        assert.ok(response.body.includes("&token="), "the & is not escaped");
        const [, flowId, token] = TOKEN_LINK.exec(body["recovery_link"])!;
        assert.equal(body["expires_at"], at(86_400_000));
        const { flow, codes } = await storedFlow(rekey, flowId!);
        assert.equal(flow.state, "choose_method");
        assert.equal(flow.active, "link");
        assert.equal(flow.type, "browser");
        assert.equal(flow.origin, "admin");
        assert.equal(flow.csrfHash, null);
        assert.equal(codes.length, 1);
        assert.equal(codes[0]!.kind, "link");
        assert.equal(codes[0]!.origin, "admin");
        assert.equal(codes[0]!.expiresAt.toISOString(), flow.expiresAt.toISOString());
        assert.ok(rekey.deps.codeHMAC.matches(token!, codes[0]!.secretHMAC));
        assert.notEqual(codes[0]!.secretHMAC, token);
      }
      const events = await eventsOf(rekey, "recovery_link_created");
      assert.equal(events.length, 2);
      assert.equal(events[0]!["context"].source, "kratos_admin_link");
      assert.match(events[0]!["context"].flow_id, UUID);
    });

    test("defaults to one hour; unknown identities are a 400; -1h keeps Kratos' wording and the raw value", async (t) => {
      const { rekey, id } = await setup(t, dialect);
      assert.equal(
        (await rekey.api("POST", "/admin/recovery/link", { identity_id: id })).json().expires_at,
        at(3_600_000),
      );
      assertKratosError(
        await rekey.api("POST", "/admin/recovery/link", { identity_id: RANDOM_ID }),
        400,
        badRequest("The requested identity id does not exist."),
      );
      assertKratosError(
        await rekey.api("POST", "/admin/recovery/link", { identity_id: RANDOM_ID, expires_in: "-1h" }),
        400,
        badRequest('Value from "expires_in" must be result to a future time: -1h'),
      );
      assertKratosError(
        await rekey.api("POST", "/admin/recovery/link", { identity_id: id, expires_in: "0" }),
        400,
        badRequest('Value from "expires_in" must be result to a future time: 0'),
      );
      assertKratosError(
        await rekey.api("POST", "/admin/recovery/link", { identity_id: id, expires_in: "1d" }),
        400,
        badRequest('Unable to parse "expires_in" as a duration string (e.g. "1h", "1m30s", "500ms"): 1d'),
      );
      assertKratosError(
        await rekey.api("POST", "/admin/recovery/link?return_to=https://evil.example/", {
          identity_id: RANDOM_ID,
        }),
        400,
        {
          id: "self_service_flow_return_to_forbidden",
          ...badRequest('Requested return_to URL "https://evil.example/" is not allowed.'),
        },
      );
    });

    test("links point at the tenant's own public URL", async (t) => {
      const { rekey } = await setup(t, dialect);
      const b = await secondTenant(rekey, "b.example.com");
      const asB = { token: b.key, headers: { host: "b.example.com" } };
      const identity = (
        await rekey.api("POST", "/admin/identities", { traits: { email: "x@b.example.com" } }, asB)
      ).json();
      const link = (
        await rekey.api("POST", "/admin/recovery/link", { identity_id: identity.id }, asB)
      ).json();
      assert.match(link.recovery_link, /^http:\/\/b\.example\.com\/self-service\/recovery\?flow=/);
      const code = (await rekey.api("POST", "/iam/recovery/code", { identity_id: identity.id }, asB)).json();
      assert.match(code.recovery_link, /^http:\/\/b\.example\.com\/ui\/recovery\?flow=/);
    });
  });
}
