import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import pino from "pino";
import type { Clock } from "../../src/clock.js";
import type { Dialect } from "../../src/db/database.js";
import { type Courier, startCourier } from "../../src/mail/courier.js";
import { createUser, type TestApp, testApp } from "../support/app.js";
import { type ReceivedMail, type SMTPSink, startSMTPSink } from "../support/smtp.js";

/** `<P>` of the default tenant in tests (REKEY_PUBLIC_URL's default). */
export const P = "http://localhost:9000";

export const MESSAGE_CODE_SENT =
  "An email containing a recovery code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.";
export const CODE_INVALID = "The recovery code is invalid or has already been used. Please try again.";
export const TOO_OFTEN = "The request was submitted too often. Please request another code.";

export type Mode = "browser" | "spa" | "api";
export const MODES: Mode[] = ["browser", "spa", "api"];

export interface Harness {
  rekey: TestApp;
  smtp: SMTPSink;
  courier: Courier;
  /** Sends what the outbox holds and returns every mail received so far. */
  mails(): Promise<ReceivedMail[]>;
  /** The code of the last mail to `address`. */
  codeFor(address: string): Promise<string>;
}

/** The real app with a real SMTP sink and a courier the test runs by hand. */
export async function harness(
  t: TestContext,
  dialect: Dialect,
  options?: { env?: Record<string, string>; clock?: Clock },
): Promise<Harness> {
  const smtp = await startSMTPSink(t);
  const rekey = await testApp(t, dialect, {
    clock: options?.clock,
    env: { REKEY_SMTP_URL: smtp.url, REKEY_EMAIL_FROM: "rekey@example.com", ...options?.env },
  });
  const courier = startCourier(rekey.deps, pino({ level: "silent" }), { pollMs: 0, backoffMs: 1000 });
  t.after(() => courier.stop());
  async function mails(): Promise<ReceivedMail[]> {
    while ((await courier.runOnce()) > 0) {
      // drain
    }
    return smtp.received;
  }
  return {
    rekey,
    smtp,
    courier,
    mails,
    async codeFor(address) {
      const received = (await mails()).filter((mail) => mail.envelope.to.includes(address));
      const last = received[received.length - 1];
      assert.ok(last !== undefined, `no mail to ${address}`);
      const match = /(\d{6,12})/.exec(last.parsed.text ?? "");
      assert.ok(match !== null, `no code in ${last.parsed.text}`);
      return match[1]!;
    },
  };
}

/** A user with an email and (optionally) a password; returns its pk and uuid. */
export async function createIdentity(
  rekey: TestApp,
  username: string,
  options?: { email?: string; password?: string },
): Promise<{ pk: number; uuid: string }> {
  const pk = await createUser(rekey, username, { email: options?.email ?? `${username}@example.com` });
  if (options?.password !== undefined) {
    const response = await rekey.api("POST", `/api/v3/core/users/${pk}/set_password/`, {
      password: options.password,
    });
    assert.equal(response.statusCode, 204, response.body);
  }
  const user = await rekey.api("GET", `/api/v3/core/users/${pk}/`);
  return { pk, uuid: user.json().uuid as string };
}

/** The path and query of an absolute URL of `<P>`, for inject(). */
export function local(url: string): string {
  const parsed = new URL(url);
  assert.equal(parsed.origin, P, `expected a URL of ${P}: ${url}`);
  return `${parsed.pathname}${parsed.search}`;
}

export interface SendOptions {
  json?: unknown;
  form?: Record<string, string>;
  headers?: Record<string, string>;
}

/**
 * A client of one kind (kratos.md §2.6): a browser (HTML, forms, cookies), an SPA (JSON, cookies) or
 * an API client (JSON, no cookies, an optional session token).
 */
export class KratosClient {
  readonly cookies = new Map<string, string>();
  sessionToken: string | null = null;
  private readonly rekey: TestApp;
  readonly mode: Mode;
  private readonly remoteAddress: string;

  constructor(rekey: TestApp, mode: Mode, options?: { remoteAddress?: string }) {
    this.rekey = rekey;
    this.mode = mode;
    this.remoteAddress = options?.remoteAddress ?? "127.0.0.1";
  }

  async send(method: string, url: string, options?: SendOptions): Promise<LightMyRequestResponse> {
    const headers: Record<string, string> = {
      accept:
        this.mode === "browser"
          ? "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
          : "application/json",
      "user-agent": `rekey-${this.mode}-tests`,
    };
    if (this.mode !== "api" && this.cookies.size > 0) {
      headers["cookie"] = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    }
    if (this.sessionToken !== null) headers["x-session-token"] = this.sessionToken;
    let payload: string | undefined;
    if (options?.json !== undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(options.json);
    } else if (options?.form !== undefined) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      payload = new URLSearchParams(options.form).toString();
    }
    Object.assign(headers, options?.headers);
    const response = await this.rekey.app.inject({
      method: method as "GET",
      url: url.startsWith("http") ? local(url) : url,
      headers,
      payload,
      remoteAddress: this.remoteAddress,
    });
    for (const cookie of response.cookies as {
      name: string;
      value: string;
      maxAge?: number;
      expires?: Date;
    }[]) {
      const expired =
        cookie.maxAge === 0 || (cookie.expires !== undefined && cookie.expires.getTime() <= Date.now());
      if (expired || cookie.value === "") this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
    return response;
  }

  get(url: string, headers?: Record<string, string>): Promise<LightMyRequestResponse> {
    return this.send("GET", url, { headers });
  }

  /** Submits fields the way this client does: a form for a browser, JSON otherwise. */
  submit(url: string, fields: Record<string, unknown>): Promise<LightMyRequestResponse> {
    if (this.mode === "browser") {
      return this.send("POST", url, { form: fields as Record<string, string> });
    }
    return this.send("POST", url, { json: fields });
  }
}

/** Starts a recovery flow for the client's kind and returns the flow JSON (as the UI would fetch it). */
export async function startRecovery(client: KratosClient, query = ""): Promise<Record<string, any>> {
  if (client.mode === "api") {
    const response = await client.get(`/self-service/recovery/api${query}`);
    assert.equal(response.statusCode, 200, response.body);
    return response.json();
  }
  const response = await client.get(`/self-service/recovery/browser${query}`);
  if (client.mode === "spa") {
    assert.equal(response.statusCode, 200, response.body);
    return response.json();
  }
  assert.equal(response.statusCode, 303, response.body);
  const location = String(response.headers["location"]);
  assert.match(location, new RegExp(`^${P}/ui/recovery\\?flow=`));
  return fetchFlow(client, "recovery", new URL(location).searchParams.get("flow")!);
}

/** GET /self-service/<kind>/flows?id= with the client's cookies, as JSON. */
export async function fetchFlow(
  client: KratosClient,
  kind: "recovery" | "settings" | "login",
  id: string,
): Promise<Record<string, any>> {
  const response = await client.send("GET", `/self-service/${kind}/flows?id=${id}`, {
    headers: { accept: "application/json" },
  });
  assert.equal(response.statusCode, 200, response.body);
  return response.json();
}

/** The value of the flow's `csrf_token` node ("" when it has none). */
export function csrfOf(flow: Record<string, any>): string {
  const node = (flow.ui.nodes as any[]).find((n) => n.attributes.name === "csrf_token");
  return node?.attributes.value ?? "";
}

/** The flow the client sees after a submission: JSON as answered, or (browser) the flow behind the redirect. */
export async function flowAfter(
  client: KratosClient,
  response: LightMyRequestResponse,
  kind: "recovery" | "settings" | "login" = "recovery",
): Promise<Record<string, any>> {
  if (client.mode !== "browser") return response.json();
  assert.equal(response.statusCode, 303, response.body);
  const location = new URL(String(response.headers["location"]));
  assert.equal(location.pathname, `/ui/${kind}`, String(response.headers["location"]));
  return fetchFlow(client, kind, location.searchParams.get("flow")!);
}

/** Submits an address to a recovery flow. */
export async function submitEmail(
  client: KratosClient,
  flow: Record<string, any>,
  email: string,
  extra?: Record<string, unknown>,
): Promise<LightMyRequestResponse> {
  return client.submit(flow.ui.action, { method: "code", email, csrf_token: csrfOf(flow), ...extra });
}

/** Submits a code to a recovery flow. */
export async function submitCode(
  client: KratosClient,
  flow: Record<string, any>,
  code: string,
): Promise<LightMyRequestResponse> {
  return client.submit(flow.ui.action, { method: "code", code, csrf_token: csrfOf(flow) });
}

export function messageIds(flow: Record<string, any>): number[] {
  return ((flow.ui.messages ?? []) as { id: number }[]).map((message) => message.id);
}

/** The default tenant's id. */
export async function defaultTenantId(rekey: TestApp): Promise<string> {
  return (await rekey.deps.persistence.stores.tenants.defaultTenant()).id;
}

/** Starts a login flow for the client's kind and returns the flow JSON. */
export async function startLogin(client: KratosClient, query = ""): Promise<Record<string, any>> {
  const response = await client.get(
    `/self-service/login/${client.mode === "api" ? "api" : "browser"}${query}`,
  );
  if (client.mode !== "browser") {
    assert.equal(response.statusCode, 200, response.body);
    return response.json();
  }
  assert.equal(response.statusCode, 303, response.body);
  return fetchFlow(client, "login", new URL(String(response.headers["location"])).searchParams.get("flow")!);
}

/** Signs the client in through a login flow with the password method; API clients keep the token. */
export async function signInWithPassword(
  client: KratosClient,
  identifier: string,
  password: string,
): Promise<LightMyRequestResponse> {
  const flow = await startLogin(client);
  const response = await client.submit(flow.ui.action, {
    method: "password",
    identifier,
    password,
    csrf_token: csrfOf(flow),
  });
  if (client.mode === "browser") {
    assert.equal(response.statusCode, 303, response.body);
  } else {
    assert.equal(response.statusCode, 200, response.body);
    if (client.mode === "api") client.sessionToken = response.json().session_token;
  }
  return response;
}

/**
 * A flow as `POST /admin/recovery/code` makes it (kratos.md §3.2 step 5): origin `admin`, state
 * `sent_email`, active `code`, no CSRF binding, one code bound to the identity (not an address).
 */
export async function adminCodeFlow(
  rekey: TestApp,
  userPk: number,
  options?: { type?: "browser" | "api"; expiresInMs?: number; codeExpiresInMs?: number; code?: string },
): Promise<{ flowId: string; code: string; link: string }> {
  const stores = rekey.deps.persistence.stores;
  const tenantId = await defaultTenantId(rekey);
  const now = rekey.deps.clock.now();
  const expiresAt = new Date(now.getTime() + (options?.expiresInMs ?? 3_600_000));
  const flowId = rekey.deps.random.uuid();
  const code = options?.code ?? rekey.deps.random.string(6, "0123456789");
  await stores.selfServiceRecovery.createRecoveryFlow({
    id: flowId,
    tenantId,
    type: options?.type ?? "browser",
    state: "sent_email",
    active: "code",
    origin: "admin",
    userId: userPk,
    requestURL: `${P}/admin/recovery/code`,
    returnTo: null,
    csrfHash: null,
    messages: [],
    transientPayload: null,
    submittedAddress: null,
    submitCount: 0,
    issuedAt: now,
    expiresAt,
  });
  const codeExpiresAt =
    options?.codeExpiresInMs === undefined ? expiresAt : new Date(now.getTime() + options.codeExpiresInMs);
  await stores.selfServiceRecovery.createRecoveryCode(
    {
      id: rekey.deps.random.uuid(),
      tenantId,
      flowId,
      userId: userPk,
      kind: "code",
      origin: "admin",
      secretHMAC: rekey.deps.codeHMAC.digest(code),
      address: null,
      expiresAt: codeExpiresAt,
      usedAt: null,
    },
    now,
  );
  return { flowId, code, link: `${P}/ui/recovery?flow=${flowId}` };
}

/** A flow as `POST /admin/recovery/link` makes it (§3.3): a browser flow in `choose_method` with a link token. */
export async function adminLinkFlow(
  rekey: TestApp,
  userPk: number,
  options?: { expiresInMs?: number },
): Promise<{ flowId: string; token: string; link: string }> {
  const stores = rekey.deps.persistence.stores;
  const tenantId = await defaultTenantId(rekey);
  const now = rekey.deps.clock.now();
  const expiresAt = new Date(now.getTime() + (options?.expiresInMs ?? 3_600_000));
  const flowId = rekey.deps.random.uuid();
  const token = rekey.deps.random.string(
    32,
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
  );
  await stores.selfServiceRecovery.createRecoveryFlow({
    id: flowId,
    tenantId,
    type: "browser",
    state: "choose_method",
    active: "link",
    origin: "admin",
    userId: userPk,
    requestURL: `${P}/admin/recovery/link`,
    returnTo: null,
    csrfHash: null,
    messages: [],
    transientPayload: null,
    submittedAddress: null,
    submitCount: 0,
    issuedAt: now,
    expiresAt,
  });
  await stores.selfServiceRecovery.createRecoveryCode(
    {
      id: rekey.deps.random.uuid(),
      tenantId,
      flowId,
      userId: userPk,
      kind: "link",
      origin: "admin",
      secretHMAC: rekey.deps.codeHMAC.digest(token),
      address: null,
      expiresAt,
      usedAt: null,
    },
    now,
  );
  return { flowId, token, link: `${P}/self-service/recovery?flow=${flowId}&token=${token}` };
}

/** The stored user, for checks on what a flow changed. */
export async function userOf(rekey: TestApp, pk: number) {
  const user = await rekey.deps.persistence.stores.users.findUser(await defaultTenantId(rekey), pk);
  assert.ok(user !== null);
  return user;
}
