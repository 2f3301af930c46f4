import { URI } from "otpauth";
import type { FlowScenario, Operation, ResponseHeaders } from "./flows.js";
import { ARGON2_LIMIT_PASSWORD, ARGON2_SCENARIO, BARE_SCENARIO, type BenchContext } from "./scenarios.js";
import { clientAddress, type SeededUser } from "./seed.js";
import { type TOTPPool, takeFromPool } from "./totp-pool.js";

/**
 * The multi-request scenarios of issues 3–6, each driven the way its real client drives it: the
 * authentik recovery link through its pages, the Kratos admin code through the self-service flow,
 * the Kratos api login flow, and the aal2 step-up with a TOTP code.
 */

export interface FlowContext {
  bench: BenchContext;
  /** Users seeded through the API; link and code operations go round them. */
  users: SeededUser[];
  /** Usernames whose password is ARGON2_LIMIT_PASSWORD (set through the API). */
  loginUsers: string[];
  totpPool: TOTPPool;
}

function bearerJSON(context: BenchContext): Record<string, string> {
  return { authorization: `Bearer ${context.adminToken}`, "content-type": "application/json" };
}

function headerValues(headers: ResponseHeaders, name: string): string[] {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name && value !== undefined) return Array.isArray(value) ? value : [value];
  }
  return [];
}

/** The value of cookie `name` set by this answer; throws when it sets none (the step then fails). */
export function setCookie(headers: ResponseHeaders, name: string): string {
  for (const line of headerValues(headers, "set-cookie")) {
    const match = new RegExp(`^${name}=([^;]*)`).exec(line);
    if (match !== null && match[1] !== "") return match[1]!;
  }
  throw new Error(`no ${name} cookie was set`);
}

function hiddenField(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (match === null) throw new Error(`the page has no ${name} field`);
  return match[1]!.replaceAll("&amp;", "&").replaceAll("&#39;", "'").replaceAll("&quot;", '"');
}

function value(operation: Operation, name: string): string {
  return operation.values[name] ?? "";
}

function userAt(context: FlowContext, sequence: number): SeededUser {
  return context.users[sequence % context.users.length]!;
}

/** authentik: an admin creates a link; the user opens it, presses Continue, sees the new-password form. */
export function recoveryLinkFlow(context: FlowContext): FlowScenario {
  const forwarded = (operation: Operation) => ({ "x-forwarded-for": value(operation, "client") });
  const cookies = (operation: Operation, names: string[]): string =>
    names.map((name) => `${name}=${value(operation, name)}`).join("; ");
  return {
    name: "recovery link create + consume",
    limit: BARE_SCENARIO,
    ratioPer: "request",
    start: (sequence) => ({
      pk: String(userAt(context, sequence).pk),
      client: clientAddress(sequence),
    }),
    steps: [
      {
        name: "POST /api/v3/core/users/{id}/recovery/",
        method: "POST",
        expectStatus: 200,
        build: (operation) => ({
          path: `/api/v3/core/users/${value(operation, "pk")}/recovery/`,
          headers: bearerJSON(context.bench),
          body: "{}",
        }),
        read(operation, body) {
          const link = new URL((JSON.parse(body) as { link: string }).link);
          operation.values["link"] = link.pathname + link.search;
        },
      },
      {
        name: "GET the link (Continue page)",
        method: "GET",
        expectStatus: 200,
        build: (operation) => ({ path: value(operation, "link"), headers: forwarded(operation) }),
        read(operation, body, headers) {
          operation.values["rekey_csrf"] = setCookie(headers, "rekey_csrf");
          operation.values["csrf_token"] = hiddenField(body, "csrf_token");
          operation.values["key"] = hiddenField(body, "key");
        },
      },
      {
        name: "POST Continue (consumes the link)",
        method: "POST",
        expectStatus: 303,
        build: (operation) => ({
          path: value(operation, "link").split("?")[0]!,
          headers: {
            ...forwarded(operation),
            "content-type": "application/x-www-form-urlencoded",
            cookie: cookies(operation, ["rekey_csrf"]),
          },
          body: new URLSearchParams({
            csrf_token: value(operation, "csrf_token"),
            key: value(operation, "key"),
          }).toString(),
        }),
        read(operation, _body, headers) {
          operation.values["rekey_recovery"] = setCookie(headers, "rekey_recovery");
        },
      },
      {
        name: "GET /if/recovery/ (new-password form)",
        method: "GET",
        expectStatus: 200,
        build: (operation) => ({
          path: "/if/recovery/",
          headers: { ...forwarded(operation), cookie: cookies(operation, ["rekey_csrf", "rekey_recovery"]) },
        }),
      },
    ],
    note:
      "recovery link: stops at the new-password form; setting the password (one argon2id hash) is the " +
      `"${ARGON2_SCENARIO}" row's kind of cost and is not included.`,
  };
}

/** Kratos: an admin creates a recovery code (api flow); the user redeems it in the self-service flow. */
export function kratosRecoveryCodeFlow(context: FlowContext): FlowScenario {
  return {
    name: "kratos admin code create + redeem",
    limit: BARE_SCENARIO,
    ratioPer: "request",
    start: (sequence) => ({
      identity: userAt(context, sequence).uuid,
      client: clientAddress(sequence),
    }),
    steps: [
      {
        name: "POST /admin/recovery/code",
        method: "POST",
        expectStatus: 201,
        build: (operation) => ({
          path: "/admin/recovery/code",
          headers: bearerJSON(context.bench),
          body: JSON.stringify({ identity_id: value(operation, "identity"), flow_type: "api" }),
        }),
        read(operation, body) {
          const answer = JSON.parse(body) as { recovery_link: string; recovery_code: string };
          const flow = new URL(answer.recovery_link).searchParams.get("flow");
          if (flow === null) throw new Error("recovery_link names no flow");
          operation.values["flow"] = flow;
          operation.values["code"] = answer.recovery_code;
        },
      },
      {
        name: "POST /self-service/recovery?flow= (method=code)",
        method: "POST",
        expectStatus: 200,
        build: (operation) => ({
          path: `/self-service/recovery?flow=${value(operation, "flow")}`,
          headers: {
            "content-type": "application/json",
            accept: "application/json",
            "x-forwarded-for": value(operation, "client"),
          },
          body: JSON.stringify({ method: "code", code: value(operation, "code") }),
        }),
        read(_operation, body) {
          if (!body.includes('"set_ory_session_token"')) throw new Error("no session token in the answer");
        },
      },
    ],
  };
}

/** Kratos api login flow with the password method: one argon2id verify per login. */
export function passwordLoginFlow(context: FlowContext): FlowScenario {
  return {
    name: "password login (kratos api flow)",
    limit: ARGON2_SCENARIO,
    ratioPer: "operation",
    start: (sequence) => ({
      identifier: context.loginUsers[sequence % context.loginUsers.length]!,
      client: clientAddress(sequence),
    }),
    steps: [
      {
        name: "GET /self-service/login/api",
        method: "GET",
        expectStatus: 200,
        build: (operation) => ({
          path: "/self-service/login/api",
          headers: { accept: "application/json", "x-forwarded-for": value(operation, "client") },
        }),
        read(operation, body) {
          operation.values["flow"] = (JSON.parse(body) as { id: string }).id;
        },
      },
      {
        name: "POST /self-service/login (method=password)",
        method: "POST",
        expectStatus: 200,
        build: (operation) => ({
          path: `/self-service/login?flow=${value(operation, "flow")}`,
          headers: {
            "content-type": "application/json",
            accept: "application/json",
            "x-forwarded-for": value(operation, "client"),
          },
          body: JSON.stringify({
            method: "password",
            identifier: value(operation, "identifier"),
            password: ARGON2_LIMIT_PASSWORD,
          }),
        }),
        read(_operation, body) {
          if (!body.includes('"session_token"')) throw new Error("no session token in the answer");
        },
      },
    ],
  };
}

/**
 * Kratos aal2 step-up with a TOTP code. A code is accepted once per step per device and an aal2
 * session cannot step up again, so every operation uses its own user: an aal1 session and a device
 * made beforehand through the API (bench/lib/totp-pool.ts); the code is computed when sent.
 */
export function totpStepUpFlow(context: FlowContext): FlowScenario {
  const session = (operation: Operation) => ({
    accept: "application/json",
    "x-session-token": value(operation, "session"),
  });
  return {
    name: "TOTP step-up (kratos aal2 flow)",
    limit: BARE_SCENARIO,
    ratioPer: "request",
    start: () => takeFromPool(context.totpPool),
    prepare: (count) => context.totpPool.fill(count),
    steps: [
      {
        name: "GET /self-service/login/api?aal=aal2",
        method: "GET",
        expectStatus: 200,
        build: (operation) => ({ path: "/self-service/login/api?aal=aal2", headers: session(operation) }),
        read(operation, body) {
          operation.values["flow"] = (JSON.parse(body) as { id: string }).id;
        },
      },
      {
        name: "POST /self-service/login (method=totp)",
        method: "POST",
        expectStatus: 200,
        build: (operation) => ({
          path: `/self-service/login?flow=${value(operation, "flow")}`,
          headers: { ...session(operation), "content-type": "application/json" },
          body: JSON.stringify({
            method: "totp",
            totp_code: URI.parse(value(operation, "otpauth")).generate(),
          }),
        }),
        read(_operation, body) {
          if (!body.includes('"aal2"')) throw new Error("the session was not raised to aal2");
        },
      },
    ],
    note:
      "TOTP: each operation uses its own user (aal1 session from an admin recovery code, device from " +
      "POST /api/v3/authenticators/admin/totp/), prepared outside the measured load; the load runs " +
      "as many operations as a calibration run says fill the duration.",
  };
}

export function flowScenarios(context: FlowContext): FlowScenario[] {
  return [
    recoveryLinkFlow(context),
    kratosRecoveryCodeFlow(context),
    passwordLoginFlow(context),
    totpStepUpFlow(context),
  ];
}
