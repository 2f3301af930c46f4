import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { loggerOptions } from "../../src/app.js";
import { decodeBase32Secret } from "../../src/authenticators/totp.js";
import { startCourier } from "../../src/mail/courier.js";
import { csrfTokenOf, PageClient } from "../pages/helpers.js";
import {
  KratosClient,
  signInWithPassword,
  startRecovery,
  submitCode,
  submitEmail,
} from "../selfservice/helpers.js";
import { TENANTS_KEY, type TestApp, testApp } from "../support/app.js";
import { startSMTPSink } from "../support/smtp.js";

/**
 * A realistic day of Rekey on SQLite with every kind of secret passing through it, logged by the
 * server's own pino settings at `trace` (the chattiest level) into memory. Returns every secret it
 * saw, by label, with the database file and the log lines to scan.
 */

export interface Scenario {
  secrets: Map<string, string>;
  /** Raw bytes behind an encoded secret (a TOTP seed), to be looked for in hex and base64 too. */
  rawSecrets: Map<string, Buffer>;
  file: string;
  log: string[];
}

function expectStatus(
  response: LightMyRequestResponse,
  status: number,
  what: string,
): LightMyRequestResponse {
  assert.equal(response.statusCode, status, `${what}: ${response.body.slice(0, 300)}`);
  return response;
}

export interface SecretsHarness {
  rekey: TestApp;
  /** The server's log lines, as pino wrote them. */
  log: string[];
  /** Sends what the outbox holds through the SMTP sink. */
  drain(): Promise<void>;
  /** The text of every mail received so far. */
  mails(): string[];
}

/** One round of the scenario: every secret it hands out or takes in is added to `secrets`. */
export async function runScenario(
  harness: SecretsHarness,
  round: number,
  secrets: Map<string, string>,
  rawSecrets: Map<string, Buffer>,
): Promise<void> {
  const { rekey, drain } = harness;
  const add = (label: string, value: string) => secrets.set(`${label} (round ${round})`, value);
  const json = (method: string, url: string, body?: unknown, token?: string) =>
    rekey.api(method, url, body, token === undefined ? undefined : { token });

  // A user with a password, api and app-password tokens, one key chosen by its owner.
  const username = `jane${round}`;
  const email = `${username}@example.com`;
  const created = expectStatus(
    await json("POST", "/api/v3/core/users/", { username, name: "Jane", email }),
    201,
    "user",
  );
  const pk = created.json().pk as number;
  const password1 = `first-Passw0rd-${round}-of-jane`;
  expectStatus(
    await json("POST", `/api/v3/core/users/${pk}/set_password/`, { password: password1 }),
    204,
    "password",
  );
  add("password", password1);
  for (const intent of ["api", "app_password"]) {
    const identifier = `${username}-${intent}`;
    expectStatus(await json("POST", "/api/v3/core/tokens/", { identifier, intent, user: pk }), 201, "token");
    add(
      `${intent} key`,
      expectStatus(await json("GET", `/api/v3/core/tokens/${identifier}/view_key/`), 200, "view").json().key,
    );
  }
  const chosen = `chosen-key-${round}-0123456789abcdefghijklmnop`;
  expectStatus(
    await json("POST", `/api/v3/core/tokens/${username}-api/set_key/`, { key: chosen }),
    204,
    "set_key",
  );
  add("chosen api key", chosen);

  // authentik recovery: an admin link opened in a browser and a new password set; a recovery key.
  const link = new URL(
    expectStatus(await json("POST", `/api/v3/core/users/${pk}/recovery/`, {}), 200, "link").json().link,
  );
  add("recovery link token", link.searchParams.get("flow_token")!);
  const browser = new PageClient(rekey);
  const opened = await browser.get(link.pathname + link.search);
  expectStatus(
    await browser.post(link.pathname + link.search, { csrf_token: csrfTokenOf(opened.body) }),
    303,
    "open link",
  );
  const password2 = `second-Passw0rd-${round}-of-jane`;
  const form = await browser.get("/if/recovery/");
  const changed = expectStatus(
    await browser.post("/if/recovery/", {
      csrf_token: csrfTokenOf(form.body),
      password: password2,
      password_repeat: password2,
    }),
    200,
    "new password",
  );
  assert.match(changed.body, /data-message-id="1900102"/, "the password was changed");
  add("password set through a link", password2);
  const tenant = (await rekey.deps.persistence.stores.tenants.defaultTenant()).id;
  const key = await rekey.api(
    "POST",
    `/api/v3/tenants/tenants/${tenant}/create_recovery_key/`,
    { user: username, duration_days: 1 },
    { token: TENANTS_KEY },
  );
  add(
    "recovery key",
    decodeURIComponent(/\/use-token\/([^/]+)\//.exec(expectStatus(key, 200, "key").json().url)![1]!),
  );

  // Forgot password (page): the mailed link token.
  const page = new PageClient(rekey);
  const request = await page.get("/if/recovery/request/");
  expectStatus(
    await page.post("/if/recovery/request/", { csrf_token: csrfTokenOf(request.body), email }),
    200,
    "forgot password",
  );
  await drain();
  const mailed = harness.mails().at(-1)!;
  add("mailed recovery link token", /flow_token=([^\s&"<]+)/.exec(mailed)![1]!);

  // Kratos: self-service codes by mail.
  const api = new KratosClient(rekey, "api");
  const flow = await startRecovery(api);
  expectStatus(await submitEmail(api, flow, email), 200, "kratos email");
  await drain();
  add("mailed recovery code", /(\d{6,12})/.exec(harness.mails().at(-1)!)![1]!);
  // A second flow's code, this one redeemed.
  const second = await startRecovery(api);
  const sentFlow = expectStatus(await submitEmail(api, second, email), 200, "kratos email").json();
  await drain();
  const code = /(\d{6,12})/.exec(harness.mails().at(-1)!)![1]!;
  add("redeemed recovery code", code);
  expectStatus(await submitCode(api, sentFlow, code), 200, "redeem code");
  // Kratos admin: a recovery link and a code for the identity.
  const identity = created.json().uuid as string;
  const adminLink = expectStatus(
    await json("POST", "/admin/recovery/link", { identity_id: identity }),
    200,
    "admin link",
  );
  add("Kratos admin link token", new URL(adminLink.json().recovery_link).searchParams.get("token")!);
  const adminCode = expectStatus(
    await json("POST", "/admin/recovery/code", { identity_id: identity }),
    201,
    "admin code",
  );
  add("Kratos admin code", adminCode.json().recovery_code);
  // Sessions, and a mistyped password (a near miss of the real one) that must not be kept either.
  await signInWithPassword(api, email, password2);
  add("Kratos session token", api.sessionToken!);
  const typo = `${password2}x`;
  const login = new PageClient(rekey);
  const loginPage = await login.get("/if/login/");
  await login.post("/if/login/", {
    csrf_token: csrfTokenOf(loginPage.body),
    identifier: username,
    password: typo,
  });
  add("mistyped password", typo);

  // TOTP last (a second factor would stop the recoveries above): the admin enrols a device; backup codes through the user's own key.
  const totp = expectStatus(
    await json("POST", "/api/v3/authenticators/admin/totp/", { name: "phone", user: pk }),
    201,
    "totp",
  );
  const seed = new URL(totp.json().config_url).searchParams.get("secret")!;
  add("TOTP secret", seed);
  rawSecrets.set(`TOTP seed bytes (round ${round})`, Buffer.from(decodeBase32Secret(seed)!));
  const backup = expectStatus(
    await json("POST", "/api/v3/authenticators/static/", {}, chosen),
    201,
    "backup codes",
  );
  for (const [i, entry] of (backup.json().token_set as { token: string }[]).entries())
    add(`backup code ${i}`, entry.token);
}

/** The real app on a SQLite file, logging at `trace` into memory, with a real SMTP sink and courier. */
export async function startSecretsHarness(t: TestContext): Promise<SecretsHarness> {
  const smtp = await startSMTPSink(t);
  const log: string[] = [];
  const stream = { write: (line: string) => void log.push(line) };
  const rekey = await testApp(t, "sqlite", {
    env: { REKEY_SMTP_URL: smtp.url, REKEY_LOG_LEVEL: "trace" },
    logger: { ...(loggerOptions("trace") as object), stream } as never,
  });
  const courier = startCourier(rekey.deps, rekey.app.log, { pollMs: 0, backoffMs: 1000 });
  t.after(() => courier.stop());
  return {
    rekey,
    log,
    async drain() {
      while ((await courier.runOnce()) > 0) {}
    },
    mails: () => smtp.received.map((mail) => `${mail.parsed.text ?? ""}`),
  };
}
