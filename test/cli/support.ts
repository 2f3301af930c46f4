/**
 * The real `rekey` command for CLI tests: `node bin/rekey.js …` as a child process with a clean
 * environment (no REKEY_* variable of the caller leaks in), plus an in-process app on the same
 * database to check what a command wrote through the API, as a client would see it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestContext } from "node:test";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { type AppDeps, buildApp } from "../../src/app.js";
import { openDeps } from "../../src/boot.js";
import { bootstrapAdmin } from "../../src/bootstrap.js";
import { loadConfig } from "../../src/config.js";
import type { DB } from "../../src/db/database.js";
import { ADMIN_TOKEN, SECRET } from "../support/app.js";
import { freePort } from "../support/ports.js";

export { ADMIN_TOKEN, SECRET };

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/rekey.js");
/** A command that has not exited by then is stuck: fail the test rather than hang the suite. */
const RUN_TIMEOUT_MS = 60_000;

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** process.env without any REKEY_* variable, then `env`: each test states every setting it relies on. */
export function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("REKEY_")) clean[name] = value;
  }
  return { ...clean, ...env };
}

function collect(child: ChildProcess): Promise<Run> {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((done, failed) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      failed(new Error(`rekey did not exit within ${RUN_TIMEOUT_MS} ms; ${runOutput({ stdout, stderr })}`));
    }, RUN_TIMEOUT_MS);
    child.once("error", failed);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}

/** Runs `rekey <args>` to completion; `input` is written to its standard input (closed either way). */
export function rekey(
  args: string[],
  options?: { env?: Record<string, string>; input?: string; cwd?: string },
): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options?.cwd ?? ROOT,
    env: cleanEnv(options?.env ?? {}),
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin?.end(options?.input ?? "");
  return collect(child);
}

/** What a run said, for a failure message: stderr, then the end of stdout (the server's log lines). */
export function runOutput(run: Pick<Run, "stdout" | "stderr">): string {
  return `stderr: ${run.stderr}\nstdout (end): ${run.stdout.slice(-2000)}`;
}

/** The lines a run wrote to stderr, without the trailing empty one. */
export function stderrLines(run: Run): string[] {
  return run.stderr.split("\n").filter((line) => line !== "");
}

/** A new empty folder, removed when `t` ends. */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "rekey-cli-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Server {
  base: string;
  /** Sends SIGTERM and resolves with how the process ended. */
  stop(): Promise<Run>;
}

/**
 * `rekey serve` on a free loopback port, ready once GET /api/v3/schema/ answers. Killed when `t`
 * ends if the test has not stopped it.
 */
export async function serve(t: TestContext, env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [BIN, "serve"], {
    cwd: ROOT,
    env: cleanEnv({ REKEY_LISTEN: `127.0.0.1:${port}`, REKEY_LOG_LEVEL: "warn", ...env }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const ended = collect(child);
  let exited: Run | null = null;
  void ended.then((run) => {
    exited = run;
  });
  t.after(() => {
    if (exited === null) child.kill("SIGKILL");
  });
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  for (;;) {
    if (exited !== null) {
      const run: Run = exited;
      throw new Error(`rekey serve exited with ${run.code} before serving: ${run.stderr}`);
    }
    const ready = await fetch(`${base}/api/v3/schema/`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) throw new Error("rekey serve did not answer in time");
    await new Promise((done) => setTimeout(done, 100));
  }
  return {
    base,
    stop() {
      child.kill("SIGTERM");
      return ended;
    },
  };
}

export interface InProcessApp {
  app: FastifyInstance;
  deps: AppDeps;
  /** A request as the bootstrap admin (ADMIN_TOKEN) unless `token` says otherwise. */
  api(
    method: string,
    url: string,
    options?: { token?: string; body?: unknown },
  ): Promise<LightMyRequestResponse>;
}

/**
 * The real app, in this process, on the database a command wrote: the bootstrap admin akadmin with
 * ADMIN_TOKEN lets the test read users, groups and tokens through /api/v3 as an operator would.
 */
export async function appOn(t: TestContext, database: { db: DB; url: string }): Promise<InProcessApp> {
  const config = loadConfig({
    REKEY_DATABASE_URL: database.url,
    REKEY_SECRET_KEY: SECRET,
    REKEY_BOOTSTRAP_TOKEN: ADMIN_TOKEN,
  });
  const deps = await openDeps(config, { db: database.db });
  await bootstrapAdmin(deps);
  const app = await buildApp(deps, { logger: false });
  t.after(() => app.close());
  return {
    app,
    deps,
    api(method, url, options) {
      const headers: Record<string, string> = { authorization: `Bearer ${options?.token ?? ADMIN_TOKEN}` };
      if (options?.body !== undefined) headers["content-type"] = "application/json";
      return app.inject({
        method: method as "GET",
        url,
        headers,
        payload: options?.body === undefined ? undefined : JSON.stringify(options.body),
      });
    },
  };
}
