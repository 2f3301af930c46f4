import type { TestContext } from "node:test";
import type { FastifyInstance, FastifyServerOptions, LightMyRequestResponse } from "fastify";
import { type AppDeps, buildApp } from "../../src/app.js";
import { openDeps } from "../../src/boot.js";
import { bootstrapAdmin } from "../../src/bootstrap.js";
import type { Clock } from "../../src/clock.js";
import { loadConfig } from "../../src/config.js";
import type { Dialect } from "../../src/db/database.js";
import { freshDatabase, type TestDatabase } from "./databases.js";

export const ADMIN_TOKEN = "admin-token-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR";
export const TENANTS_KEY = "tenants-api-key-for-tests";
export const SECRET = "test-server-secret-0123456789";

export interface TestApp {
  app: FastifyInstance;
  deps: AppDeps;
  database: TestDatabase;
  /** JSON request with the admin's bearer token unless `token` says otherwise (null: no header). */
  api(
    method: string,
    url: string,
    body?: unknown,
    options?: { token?: string | null; headers?: Record<string, string> },
  ): Promise<LightMyRequestResponse>;
}

/**
 * The real app on a fresh database of `dialect`, with the bootstrap admin `akadmin` (superuser) and
 * its api token ADMIN_TOKEN. `env` adds or overrides REKEY_* settings.
 */
export async function testApp(
  t: TestContext,
  dialect: Dialect,
  options?: { env?: Record<string, string>; clock?: Clock; logger?: FastifyServerOptions["logger"] },
): Promise<TestApp> {
  const database = await freshDatabase(t, dialect);
  const config = loadConfig({
    REKEY_DATABASE_URL: database.url,
    REKEY_SECRET_KEY: SECRET,
    REKEY_BOOTSTRAP_TOKEN: ADMIN_TOKEN,
    REKEY_BOOTSTRAP_PASSWORD: "bootstrap-password-1",
    REKEY_BOOTSTRAP_EMAIL: "admin@example.com",
    REKEY_TENANTS_API_KEY: TENANTS_KEY,
    ...options?.env,
  });
  const deps = await openDeps(config, { db: database.db, clock: options?.clock });
  await bootstrapAdmin(deps);
  const app = await buildApp(deps, { logger: options?.logger });
  t.after(() => app.close());
  return {
    app,
    deps,
    database,
    api(method, url, body, requestOptions) {
      const token = requestOptions?.token === undefined ? ADMIN_TOKEN : requestOptions.token;
      const headers: Record<string, string> = { ...requestOptions?.headers };
      if (token !== null) headers["authorization"] = `Bearer ${token}`;
      if (body !== undefined) headers["content-type"] ??= "application/json";
      return app.inject({
        method: method as "GET",
        url,
        headers,
        payload: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
    },
  };
}

/** Creates a user through the API and returns its pk; `superuser` puts it in a superuser group. */
export async function createUser(
  test: TestApp,
  username: string,
  options?: { email?: string; superuser?: boolean; attributes?: Record<string, unknown> },
): Promise<number> {
  const response = await test.api("POST", "/api/v3/core/users/", {
    username,
    name: username,
    email: options?.email ?? `${username}@example.com`,
    attributes: options?.attributes ?? {},
  });
  if (response.statusCode !== 201) throw new Error(`createUser: ${response.statusCode} ${response.body}`);
  const pk = response.json().pk as number;
  if (options?.superuser === true) {
    const groups = await test.api("GET", "/api/v3/core/groups/?name=authentik%20Admins");
    const group = groups.json().results[0].pk as string;
    await test.api("POST", `/api/v3/core/groups/${group}/add_user/`, { pk });
  }
  return pk;
}

/** Creates an api token owned by `userPk` (as the admin) and returns its key. */
export async function createTokenFor(test: TestApp, userPk: number, identifier: string): Promise<string> {
  const created = await test.api("POST", "/api/v3/core/tokens/", { identifier, user: userPk, intent: "api" });
  if (created.statusCode !== 201) throw new Error(`createTokenFor: ${created.statusCode} ${created.body}`);
  const viewed = await test.api("GET", `/api/v3/core/tokens/${identifier}/view_key/`);
  return viewed.json().key as string;
}
