/**
 * Real Rekey servers for the reliability suite: `node bin/rekey.js serve` as child processes on real
 * sockets, killed with SIGKILL and restarted on the same database and port.
 *
 * Stable API (other reliability files import it; change it only additively):
 * - ADMIN_TOKEN, TENANTS_KEY, SECRET: the bootstrap admin's api token, REKEY_TENANTS_API_KEY and
 *   REKEY_SECRET_KEY every server started here gets.
 * - freshDatabaseURL(t, dialect): a new SQLite file in a temporary folder, or a new PostgreSQL database
 *   on the server of REKEY_TEST_POSTGRES_URL; removed when `t` ends.
 * - startRekey(t, { databaseURL, env?, name? }): a ready server (RekeyProcess); killed when `t` ends.
 *   RekeyProcess: url, port, logFile (stdout and stderr of every run, appended), kill9(), restart(),
 *   stop() (SIGTERM, clean shutdown), request(...).
 * - request(base, method, path, options): one HTTP request with fetch; JSON in, {status, body, headers} out.
 * - waitFor(what, check, timeoutMs): polls `check` until it returns a value other than undefined/false;
 *   a check throws GiveUp to stop waiting at once.
 * - seededRandom(t): a reproducible random source; the seed (REKEY_RELIABILITY_SEED to replay) is
 *   printed as a test diagnostic.
 * - onCleanup(t, fn): like t.after, but last registered runs first (servers stop before their
 *   database is dropped); every helper here cleans up through it.
 * - inParallel, clientIP, createUser: small helpers for driving many clients.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { freePort } from "../../support/ports.js";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestContext } from "node:test";
import pg from "pg";
import type { Dialect } from "../../../src/db/database.js";
import { POSTGRES_URL } from "../../support/databases.js";

export const ADMIN_TOKEN = "reliability-admin-token-0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
export const TENANTS_KEY = "reliability-tenants-api-key-0123456789";
export const SECRET = "reliability-server-secret-0123456789";

const ROOT = resolve(import.meta.dirname, "../../..");
const BIN = join(ROOT, "bin/rekey.js");
const START_TIMEOUT_MS = 180_000; // a start took over a minute on the loaded 2-core test machine

const cleanups = new WeakMap<TestContext, (() => unknown)[]>();

/**
 * Runs `fn` when `t` ends, in reverse order of registration. node:test runs t.after hooks in the
 * order they were added, which would drop a database under the servers still connected to it.
 */
export function onCleanup(t: TestContext, fn: () => unknown): void {
  let stack = cleanups.get(t);
  if (stack === undefined) {
    const fresh: (() => unknown)[] = [];
    stack = fresh;
    cleanups.set(t, fresh);
    t.after(async () => {
      for (let next = fresh.pop(); next !== undefined; next = fresh.pop()) await next();
    });
  }
  stack.push(fn);
}

/** Thrown by a waitFor check that knows the condition can no longer come true: waitFor rethrows it at once. */
export class GiveUp extends Error {}

/**
 * Polls `check` every `intervalMs` until it yields a value (not undefined or false); throws after
 * `timeoutMs`. Errors thrown by `check` count as "not yet", except GiveUp.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      const cause = lastError === null ? "" : ` (last error: ${(lastError as Error).message})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((done) => setTimeout(done, intervalMs));
  }
}

/** mulberry32: small, fast and reproducible; Math.random would make a failing run impossible to replay. */
export function seededRandom(t: TestContext): () => number {
  const fromEnv = process.env["REKEY_RELIABILITY_SEED"];
  let state = fromEnv === undefined ? randomBytes(4).readUInt32LE(0) : Number(fromEnv) >>> 0;
  t.diagnostic(`seed ${state} (REKEY_RELIABILITY_SEED=${state} replays it)`);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export { freePort };

/** A database no other test uses: a SQLite file in a new folder, or a new PostgreSQL database. */
export async function freshDatabaseURL(t: TestContext, dialect: Dialect): Promise<string> {
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "rekey-reliability-"));
    onCleanup(t, () => rmSync(dir, { recursive: true, force: true }));
    return `sqlite:${join(dir, "rekey.db")}`;
  }
  if (POSTGRES_URL === undefined)
    throw new Error("PostgreSQL requested but REKEY_TEST_POSTGRES_URL is not set");
  const name = `rekey_rel_${process.pid}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  onCleanup(t, async () => {
    const cleanup = new pg.Client({ connectionString: POSTGRES_URL });
    await cleanup.connect();
    await cleanup.query(`drop database if exists "${name}" with (force)`);
    await cleanup.end();
  });
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.href;
}

export interface Response {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are untyped JSON, checked by the assertions
  body: any;
  text: string;
  headers: Headers;
}

export interface RequestOptions {
  /** Bearer token; ADMIN_TOKEN unless given, null for none. */
  token?: string | null;
  /** JSON body (objects) or a urlencoded form (URLSearchParams). */
  body?: unknown;
  /** Sent as X-Forwarded-For: the servers trust it, so each simulated client has its own address. */
  clientIP?: string;
  cookie?: string;
}

/** One HTTP request over a real socket. Network errors (a killed server) reject. */
export async function request(
  base: string,
  method: string,
  path: string,
  options?: RequestOptions,
): Promise<Response> {
  const headers: Record<string, string> = {};
  const token = options?.token === undefined ? ADMIN_TOKEN : options.token;
  if (token !== null) headers["authorization"] = `Bearer ${token}`;
  if (options?.clientIP !== undefined) headers["x-forwarded-for"] = options.clientIP;
  if (options?.cookie !== undefined) headers["cookie"] = options.cookie;
  let body: string | undefined;
  if (options?.body instanceof URLSearchParams) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = options.body.toString();
  } else if (options?.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  const response = await fetch(`${base}${path}`, { method, headers, body, redirect: "manual" });
  const text = await response.text();
  let parsed: unknown = null;
  if ((response.headers.get("content-type") ?? "").includes("json") && text !== "") {
    parsed = JSON.parse(text);
  }
  return { status: response.status, body: parsed, text, headers: response.headers };
}

export interface RekeyProcess {
  /** http://127.0.0.1:<port>; the same across restarts. */
  readonly url: string;
  readonly port: number;
  /** Everything the server wrote to stdout and stderr, over all its runs. */
  readonly logFile: string;
  /** The PID of the current run, null while stopped. */
  readonly pid: number | null;
  /** SIGKILL: no shutdown hook runs, nothing is flushed; resolves once the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM: the server's clean shutdown; resolves once the process is gone. */
  stop(): Promise<void>;
  /** Starts the server again (after kill9 or stop) and waits until it answers. */
  restart(): Promise<void>;
  /** request() against this server. */
  request(method: string, path: string, options?: RequestOptions): Promise<Response>;
  /** The last `lines` lines of the log, for assertion messages. */
  logTail(lines?: number): string;
}

export interface StartOptions {
  databaseURL: string;
  /** Extra or overriding REKEY_* settings. */
  env?: Record<string, string>;
  /** Names the log file, to tell replicas apart. */
  name?: string;
}

function rekeyEnv(options: StartOptions, port: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    // The test runner's own REKEY_* settings must not leak into the server under test.
    if (value !== undefined && !name.startsWith("REKEY_")) env[name] = value;
  }
  return {
    ...env,
    REKEY_DATABASE_URL: options.databaseURL,
    REKEY_LISTEN: `127.0.0.1:${port}`,
    REKEY_PUBLIC_URL: `http://127.0.0.1:${port}`,
    // SQLite generates its own into the data folder; PostgreSQL replicas must share one.
    ...(options.databaseURL.startsWith("sqlite:") ? {} : { REKEY_SECRET_KEY: SECRET }),
    REKEY_BOOTSTRAP_TOKEN: ADMIN_TOKEN,
    // No REKEY_BOOTSTRAP_PASSWORD: its argon2 hash on every start would only slow the restarts down.
    REKEY_BOOTSTRAP_EMAIL: "admin@example.com",
    REKEY_TENANTS_API_KEY: TENANTS_KEY,
    // Every simulated client brings its own X-Forwarded-For, as behind a load balancer.
    REKEY_TRUST_PROXY: "true",
    REKEY_LOG_LEVEL: "warn",
    ...options.env,
  };
}

/** Starts `rekey serve` on a free port and waits until the bootstrap admin's token is accepted. */
export async function startRekey(t: TestContext, options: StartOptions): Promise<RekeyProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logDir = mkdtempSync(join(tmpdir(), "rekey-reliability-log-"));
  const logFile = join(logDir, `${options.name ?? "rekey"}.log`);
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const logTail = (lines = 30): string => {
    try {
      return readFileSync(logFile, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  };

  async function launch(): Promise<void> {
    const fd = openSync(logFile, "a");
    const started = spawn(process.execPath, [BIN, "serve"], {
      cwd: ROOT,
      env: rekeyEnv(options, port),
      stdio: ["ignore", fd, fd],
    });
    closeSync(fd);
    child = started;
    let gone = false;
    exited = new Promise((done) =>
      started.once("exit", () => {
        gone = true;
        if (child === started) child = null;
        done();
      }),
    );
    await waitFor(
      `${options.name ?? "rekey"} to answer on ${url}`,
      async () => {
        if (gone) throw new GiveUp(`rekey exited while starting:\n${logTail()}`);
        const response = await request(url, "GET", "/api/v3/core/users/me/").catch(() => null);
        return response?.status === 200;
      },
      START_TIMEOUT_MS,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${logTail()}`);
    });
  }

  async function signal(name: NodeJS.Signals): Promise<void> {
    const current = child;
    if (current === null) return;
    current.kill(name);
    await exited;
  }

  await launch();
  onCleanup(t, async () => {
    await signal("SIGKILL");
    rmSync(logDir, { recursive: true, force: true });
  });
  return {
    url,
    port,
    logFile,
    get pid() {
      return (child as ChildProcess | null)?.pid ?? null;
    },
    kill9: () => signal("SIGKILL"),
    stop: () => signal("SIGTERM"),
    async restart() {
      if (child !== null) throw new Error("restart() of a server that is still running");
      await launch();
    },
    request: (method, path, requestOptions) => request(url, method, path, requestOptions),
    logTail,
  };
}

/** Runs `work` over `items` with at most `concurrency` in flight; results in the items' order. */
export async function inParallel<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, runner));
  return results;
}

/** A distinct client address for the n-th simulated client (documentation range 10/8, n < 2^24). */
export function clientIP(n: number): string {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** Creates a user through the API (admin token); returns its pk, uuid and username. */
export async function createUser(
  rekey: RekeyProcess,
  username: string,
): Promise<{ pk: number; uuid: string; username: string }> {
  const response = await rekey.request("POST", "/api/v3/core/users/", {
    body: { username, name: username, email: `${username}@example.com` },
  });
  if (response.status !== 201) throw new Error(`creating ${username}: ${response.status} ${response.text}`);
  return { pk: response.body.pk as number, uuid: response.body.uuid as string, username };
}
