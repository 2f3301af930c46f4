import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { fixedClock } from "../../src/clock.js";
import { createUser, type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import { createIdentity, type JSONBody } from "./admin-support.js";

/**
 * The §5 "Admin code" and "Admin link" lines that need the public redemption endpoints: admin-issued
 * codes and links redeemed through /self-service/recovery as a browser or a native app would.
 */

const NOW = new Date("2026-03-01T12:00:00Z");
const ORIGIN = "http://localhost:9000";

function setCookies(response: LightMyRequestResponse): string[] {
  const header = response.headers["set-cookie"];
  return header === undefined ? [] : Array.isArray(header) ? header : [header];
}

function cookieHeader(response: LightMyRequestResponse): string {
  return setCookies(response)
    .map((cookie) => cookie.split(";")[0]!)
    .join("; ");
}

function local(url: string): string {
  assert.ok(url.startsWith(ORIGIN), url);
  return url.slice(ORIGIN.length);
}

function flowIdOf(url: string): string {
  return new URL(url).searchParams.get("flow")!;
}

async function setup(t: Parameters<typeof testApp>[0], dialect: (typeof DIALECTS)[number]) {
  const clock = fixedClock(NOW);
  const rekey = await testApp(t, dialect, { clock });
  const identity = await createIdentity(rekey, { email: "jane@example.com" });
  return { rekey, clock, id: identity["id"] as string };
}

async function issueCode(
  rekey: TestApp,
  body: JSONBody,
): Promise<{ link: string; code: string; flow: string }> {
  const response = await rekey.api("POST", "/admin/recovery/code", body);
  assert.equal(response.statusCode, 201, response.body);
  const issued = response.json() as JSONBody;
  return {
    link: issued["recovery_link"],
    code: issued["recovery_code"],
    flow: flowIdOf(issued["recovery_link"]),
  };
}

/** Posts `code=<code>` as a browser form would, with no method and no CSRF token. */
function postCode(rekey: TestApp, flow: string, code: string): Promise<LightMyRequestResponse> {
  return rekey.app.inject({
    method: "POST",
    url: `/self-service/recovery?flow=${flow}`,
    payload: `code=${code}`,
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
}

async function flowMessages(
  rekey: TestApp,
  kind: "recovery" | "settings",
  flow: string,
  cookie: string,
): Promise<JSONBody[]> {
  const response = await rekey.app.inject({
    method: "GET",
    url: `/self-service/${kind}/flows?id=${flow}`,
    headers: { cookie, accept: "application/json" },
  });
  assert.equal(response.statusCode, 200, response.body);
  return response.json().ui.messages as JSONBody[];
}

async function addressOf(rekey: TestApp, id: string): Promise<JSONBody> {
  return (await rekey.api("GET", `/admin/identities/${id}`)).json().verifiable_addresses[0] as JSONBody;
}

for (const dialect of DIALECTS) {
  describe(`redeeming admin recovery codes on ${dialect}`, () => {
    test("an identity without email: the code posted to ui.action ends on the settings UI with 1060001 and a session cookie", async (t) => {
      const { rekey } = await setup(t, dialect);
      const pk = await createUser(rekey, "noemail", { email: "" });
      const uuid = (await rekey.api("GET", `/api/v3/core/users/${pk}/`)).json().uuid as string;
      const issued = await issueCode(rekey, { identity_id: uuid });
      assert.ok(issued.link.includes("flow=") && !issued.link.includes("code="));
      const flow = await rekey.app.inject({
        method: "GET",
        url: `/self-service/recovery/flows?id=${issued.flow}`,
      });
      const action = flow.json().ui.action as string;
      assert.equal(action, `${ORIGIN}/self-service/recovery?flow=${issued.flow}`);
      const response = await rekey.app.inject({
        method: "POST",
        url: local(action),
        payload: `code=${issued.code}`,
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
      assert.equal(response.statusCode, 303, response.body);
      assert.match(String(response.headers["location"]), /^http:\/\/localhost:9000\/ui\/settings\?flow=/);
      const sessions = setCookies(response).filter((cookie) => cookie.startsWith("ory_kratos_session="));
      assert.equal(sessions.length, 1);
      const messages = await flowMessages(
        rekey,
        "settings",
        flowIdOf(String(response.headers["location"])),
        cookieHeader(response),
      );
      assert.equal(messages.length, 1);
      assert.equal(messages[0]!["id"], 1060001);
      assert.match(messages[0]!["text"], /60\.00 minutes/);
    });

    test("a valid admin code recovers the account and leaves the address pending", async (t) => {
      const { rekey, id } = await setup(t, dialect);
      const issued = await issueCode(rekey, { identity_id: id });
      const response = await postCode(rekey, issued.flow, issued.code);
      assert.equal(response.statusCode, 303, response.body);
      assert.match(String(response.headers["location"]), /\/ui\/settings\?flow=/);
      const address = await addressOf(rekey, id);
      assert.equal(address["verified"], false);
      assert.equal(address["status"], "pending");
    });

    test("a code expired before submission gives a new flow saying the recovery flow expired", async (t) => {
      const { rekey, clock, id } = await setup(t, dialect);
      const issued = await issueCode(rekey, { identity_id: id, expires_in: "100ms" });
      clock.advance(1_000);
      const response = await postCode(rekey, issued.flow, issued.code);
      assert.equal(response.statusCode, 303, response.body);
      const next = flowIdOf(String(response.headers["location"]));
      assert.notEqual(next, issued.flow);
      const messages = await flowMessages(rekey, "recovery", next, cookieHeader(response));
      assert.match(messages[0]!["text"], /The recovery flow expired/);
      assert.equal((await addressOf(rekey, id))["verified"], false);
    });

    test("the second code of an identity does not work in the first code's flow (4060006)", async (t) => {
      const { rekey, id } = await setup(t, dialect);
      const first = await issueCode(rekey, { identity_id: id, flow_type: "api" });
      const second = await issueCode(rekey, { identity_id: id, flow_type: "api" });
      if (first.code === second.code) return; // one chance in a million: nothing to tell apart
      const response = await rekey.app.inject({
        method: "POST",
        url: `/self-service/recovery?flow=${first.flow}`,
        payload: { method: "code", code: second.code },
        headers: { "content-type": "application/json" },
      });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(
        (response.json().ui.messages as JSONBody[]).map((message) => message["id"]),
        [4060006],
      );
    });

    test("the opened flow shows exactly the code input and the submit button", async (t) => {
      const { rekey, id } = await setup(t, dialect);
      const issued = await issueCode(rekey, { identity_id: id });
      const response = await rekey.app.inject({
        method: "GET",
        url: `/self-service/recovery/flows?id=${issued.flow}`,
      });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json().ui.nodes, [
        {
          type: "input",
          group: "code",
          attributes: {
            name: "code",
            type: "text",
            required: true,
            autocomplete: "one-time-code",
            pattern: "[0-9]+",
            disabled: false,
            maxlength: 6,
            node_type: "input",
          },
          messages: [],
          meta: { label: { id: 1070010, text: "Recovery code", type: "info" } },
        },
        {
          type: "input",
          group: "code",
          attributes: { name: "method", type: "submit", value: "code", disabled: false, node_type: "input" },
          messages: [],
          meta: { label: { id: 1070009, text: "Continue", type: "info" } },
        },
      ]);
      const page = await rekey.app.inject({ method: "GET", url: local(issued.link) });
      assert.equal(page.statusCode, 200);
    });

    test("flow_type api: the JSON code submission answers 200 with set_ory_session_token first", async (t) => {
      const { rekey, id } = await setup(t, dialect);
      const issued = await issueCode(rekey, { identity_id: id, flow_type: "api" });
      const response = await rekey.app.inject({
        method: "POST",
        url: `/self-service/recovery?flow=${issued.flow}`,
        payload: { code: issued.code },
        headers: { "content-type": "application/json" },
      });
      assert.equal(response.statusCode, 200, response.body);
      const continueWith = response.json().continue_with as JSONBody[];
      assert.equal(continueWith.length, 2);
      assert.equal(continueWith[0]!["action"], "set_ory_session_token");
      assert.match(continueWith[0]!["ory_session_token"], /^ory_st_[A-Za-z0-9]{32}$/);
      assert.equal(
        setCookies(response).filter((cookie) => cookie.startsWith("ory_kratos_session=")).length,
        0,
      );
    });
  });

  describe(`redeeming admin recovery links on ${dialect}`, () => {
    test("a valid visit ends on the settings UI with 1060001 and leaves the address unverified; a second visit is 4060004", async (t) => {
      const { rekey, id } = await setup(t, dialect);
      const link = (await rekey.api("POST", "/admin/recovery/link", { identity_id: id })).json()
        .recovery_link as string;
      const visit = await rekey.app.inject({ method: "GET", url: local(link) });
      assert.equal(visit.statusCode, 303, visit.body);
      const settings = String(visit.headers["location"]);
      assert.match(settings, /^http:\/\/localhost:9000\/ui\/settings\?flow=/);
      const messages = await flowMessages(rekey, "settings", flowIdOf(settings), cookieHeader(visit));
      assert.equal(messages[0]!["id"], 1060001);
      assert.equal((await addressOf(rekey, id))["verified"], false);

      const again = await rekey.app.inject({ method: "GET", url: local(link) });
      assert.equal(again.statusCode, 303);
      const retry = String(again.headers["location"]);
      assert.match(retry, /\/ui\/recovery\?flow=/);
      assert.deepEqual(
        (await flowMessages(rekey, "recovery", flowIdOf(retry), cookieHeader(again))).map(
          (message) => message["id"],
        ),
        [4060004],
      );
    });

    test("an expired link shows 4060005 and a token of flow B with flow A shows 4060004", async (t) => {
      const { rekey, clock, id } = await setup(t, dialect);
      const expiring = (
        await rekey.api("POST", "/admin/recovery/link", { identity_id: id, expires_in: "100ms" })
      ).json().recovery_link as string;
      clock.advance(1_000);
      const late = await rekey.app.inject({ method: "GET", url: local(expiring) });
      assert.equal(late.statusCode, 303);
      assert.deepEqual(
        (
          await flowMessages(
            rekey,
            "recovery",
            flowIdOf(String(late.headers["location"])),
            cookieHeader(late),
          )
        ).map((message) => message["id"]),
        [4060005],
      );

      const a = new URL(
        (await rekey.api("POST", "/admin/recovery/link", { identity_id: id })).json().recovery_link as string,
      );
      const b = new URL(
        (await rekey.api("POST", "/admin/recovery/link", { identity_id: id })).json().recovery_link as string,
      );
      const mixed = await rekey.app.inject({
        method: "GET",
        url: `/self-service/recovery?flow=${a.searchParams.get("flow")}&token=${b.searchParams.get("token")}`,
      });
      assert.equal(mixed.statusCode, 303);
      assert.deepEqual(
        (
          await flowMessages(
            rekey,
            "recovery",
            flowIdOf(String(mixed.headers["location"])),
            cookieHeader(mixed),
          )
        ).map((message) => message["id"]),
        [4060004],
      );
    });
  });
}
