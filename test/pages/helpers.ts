import assert from "node:assert/strict";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { decodeBase32Secret, totpCodeAt } from "../../src/authenticators/totp.js";
import { TENANTS_KEY, type TestApp } from "../support/app.js";

/**
 * A browser's worth of state for app.inject(): a cookie jar that follows Set-Cookie (including
 * deletions) and sends the cookies back, and the client address the requests come from.
 */
export class PageClient {
  readonly cookies = new Map<string, string>();
  private readonly app: FastifyInstance;
  private readonly remoteAddress: string;

  /** `app` overrides the test app's own instance (e.g. one built with a logger). */
  constructor(rekey: TestApp, options?: { remoteAddress?: string; app?: FastifyInstance }) {
    this.app = options?.app ?? rekey.app;
    this.remoteAddress = options?.remoteAddress ?? "127.0.0.1";
  }

  async get(url: string): Promise<LightMyRequestResponse> {
    return this.send("GET", url, undefined);
  }

  /** POSTs `fields` as a urlencoded form (a browser's form submission). */
  async post(url: string, fields: Record<string, string>): Promise<LightMyRequestResponse> {
    return this.send("POST", url, new URLSearchParams(fields).toString());
  }

  /** GETs a form page and POSTs `fields` with the page's csrf_token. */
  async submit(
    formURL: string,
    fields: Record<string, string>,
    options?: { action?: string },
  ): Promise<LightMyRequestResponse> {
    const page = await this.get(formURL);
    assert.equal(page.statusCode, 200, page.body);
    return this.post(options?.action ?? formURL, { csrf_token: csrfTokenOf(page.body), ...fields });
  }

  private async send(
    method: "GET" | "POST",
    url: string,
    payload: string | undefined,
  ): Promise<LightMyRequestResponse> {
    const headers: Record<string, string> = { "user-agent": "rekey-page-tests" };
    if (this.cookies.size > 0) {
      headers["cookie"] = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    }
    if (payload !== undefined) {
      headers["content-type"] = "application/x-www-form-urlencoded";
    }
    const response = await this.app.inject({
      method,
      url,
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
}

function decodeEntities(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/** The value of the input named `name` on a page; undefined when there is none. */
export function inputValue(body: string, name: string): string | undefined {
  const match = new RegExp(`<input[^>]*\\bname="${name}"[^>]*>`).exec(body);
  const value = match === null ? null : /\bvalue="([^"]*)"/.exec(match[0]);
  return value === null || value === undefined ? undefined : decodeEntities(value[1]!);
}

export function csrfTokenOf(body: string): string {
  const token = inputValue(body, "csrf_token");
  assert.ok(token !== undefined && token !== "", "the page has a csrf_token field");
  return token;
}

/** The message ids a page shows, in order. */
export function messageIds(body: string): number[] {
  return [...body.matchAll(/data-message-id="(\d+)"/g)].map((match) => Number(match[1]));
}

/** The one Set-Cookie of `name` in a response, with its attributes as the server wrote them. */
export function setCookieHeader(response: LightMyRequestResponse, name: string): string {
  const raw = response.headers["set-cookie"];
  const all = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const found = all.filter((header) => header.startsWith(`${name}=`));
  assert.equal(found.length, 1, `one Set-Cookie ${name} in ${JSON.stringify(all)}`);
  return found[0]!;
}

export const UNUSABLE_TEXT = "This link was already used or has expired. Please request a new link.";

export interface IssuedSecret {
  /** Path and query to open, as a browser would from the link. */
  path: string;
  key: string;
}

/** An admin recovery link for `userPk`, through POST /api/v3/core/users/{id}/recovery/. */
export async function createLink(
  rekey: TestApp,
  userPk: number,
  body?: Record<string, unknown>,
): Promise<IssuedSecret> {
  const response = await rekey.api("POST", `/api/v3/core/users/${userPk}/recovery/`, body ?? {});
  assert.equal(response.statusCode, 200, response.body);
  const url = new URL(response.json().link as string);
  return { path: url.pathname + url.search, key: url.searchParams.get("flow_token")! };
}

export async function defaultTenantUUID(rekey: TestApp): Promise<string> {
  const tenants = await rekey.api("GET", "/api/v3/tenants/tenants/?search=public", undefined, {
    token: TENANTS_KEY,
  });
  assert.equal(tenants.statusCode, 200, tenants.body);
  return tenants.json().results[0].tenant_uuid as string;
}

/** A recovery key for `username`, through the tenants API (authentik-v3.md §3.4.3). */
export async function createKey(rekey: TestApp, username: string): Promise<IssuedSecret> {
  const tenant = await defaultTenantUUID(rekey);
  const response = await rekey.api(
    "POST",
    `/api/v3/tenants/tenants/${tenant}/create_recovery_key/`,
    { user: username, duration_days: 1 },
    { token: TENANTS_KEY },
  );
  assert.equal(response.statusCode, 200, response.body);
  const url = new URL(response.json().url as string);
  const key = /^\/recovery\/use-token\/([^/]+)\/$/.exec(url.pathname)![1]!;
  return { path: url.pathname, key: decodeURIComponent(key) };
}

export async function setPassword(rekey: TestApp, userPk: number, password: string): Promise<void> {
  const response = await rekey.api("POST", `/api/v3/core/users/${userPk}/set_password/`, { password });
  assert.equal(response.statusCode, 204, response.body);
}

/** Signs in through the login page; returns the client, now holding `rekey_session`. */
export async function signIn(
  rekey: TestApp,
  identifier: string,
  password: string,
  client?: PageClient,
): Promise<PageClient> {
  const browser = client ?? new PageClient(rekey);
  const response = await browser.submit("/if/login/", { identifier, password });
  assert.equal(response.statusCode, 303, response.body);
  assert.equal(response.headers["location"], "/if/user/");
  return browser;
}

/** A base32 secret the tests know, so they can compute the codes of the device they import. */
export const TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/** Gives `userPk` a confirmed TOTP device (admin create with an imported secret, authentik-v3.md A11). */
export async function addTOTPDevice(rekey: TestApp, userPk: number): Promise<void> {
  const response = await rekey.api("POST", "/api/v3/authenticators/admin/totp/", {
    name: "phone",
    user: userPk,
    secret: TOTP_SECRET,
  });
  assert.equal(response.statusCode, 201, response.body);
}

/** The current code of the device added by addTOTPDevice (6 digits, 30 s, SHA-1). */
export function currentTOTPCode(rekey: TestApp): string {
  return totpCodeAt(
    { digits: 6, period: 30, algorithm: "sha1" },
    decodeBase32Secret(TOTP_SECRET)!,
    rekey.deps.clock.now(),
  );
}

export async function totpDeviceCount(rekey: TestApp, userPk: number): Promise<number> {
  const response = await rekey.api("GET", `/api/v3/authenticators/admin/totp/?user=${userPk}`);
  assert.equal(response.statusCode, 200, response.body);
  return response.json().pagination.count as number;
}
