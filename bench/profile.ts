// Server CPU per request, the figure that stays put on a loaded machine: req/s falls when other work
// takes the cores, but the CPU time the server spends on one request hardly moves. Starts the bare
// fastify route and the real Rekey server (SQLite, or PostgreSQL with PROFILE_DIALECT=postgres) the
// way bench/run.ts does, sends a fixed number of requests per scenario, and reads each child's
// utime+stime from /proc/<pid>/stat before and after (every thread counts: libuv pool and GC too).
//
//   node --import tsx bench/profile.ts
//
// Settings: PROFILE_REQUESTS (per scenario, default 20000), PROFILE_CONNECTIONS (default 10),
// PROFILE_USERS (seeded users, default 200), PROFILE_ROUNDS (default 2: the best round is kept, which
// drops rounds a neighbour's burst or a GC pause skewed), PROFILE_CPU_PROF=<dir> (the Rekey child runs
// with --cpu-prof and writes its profile to <dir> when stopped), PROFILE_ONLY=<scenario name> (the
// bare route and that one Rekey scenario only, for a profile of one path).
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import {
  type ChildServer,
  childEnv,
  freePort,
  startChild,
  stopChild,
  waitUntilReady,
} from "./lib/children.js";
import { type BenchDatabase, freshPostgres, freshSQLite } from "./lib/databases.js";
import { call } from "./peer-better-auth/drive.js";
import { type BenchContext, type Scenario, SCENARIOS } from "./lib/scenarios.js";
import { callAPI, clientAddress, inParallel, recoveredSessionToken, seedUsers } from "./lib/seed.js";

/** A scenario whose path, headers or body change per request (a fresh flow, another client address). */
interface ProfiledScenario extends Scenario {
  buildRequest?: () => { path: string; headers: Record<string, string>; body: string };
}

/** A Kratos session token for a fresh identity, as bench:peer makes one. */
async function kratosSessionToken(context: BenchContext): Promise<string> {
  const username = `profile-${context.runId}-whoami`;
  const user = (await callAPI(
    context,
    "/api/v3/core/users/",
    { username, name: username, email: `${username}@example.com` },
    201,
  )) as { uuid: string };
  return recoveredSessionToken(context.rekeyURL, context.adminToken, user.uuid);
}

let whoamiToken = "";

const WHOAMI: ProfiledScenario = {
  name: "GET /sessions/whoami",
  server: "rekey",
  method: "GET",
  path: "/sessions/whoami",
  headers: () => ({ "x-session-token": whoamiToken }),
  setup: async (context) => {
    whoamiToken = await kratosSessionToken(context);
  },
};

/**
 * Kratos' password-reset request as bench:peer sends it: method=code with a known address, each
 * request on a fresh api flow from an address of its own (REKEY_TRUST_PROXY), since Rekey allows
 * an address 5 submissions an hour and a client 10 a quarter hour.
 */
let recoveryFlows: string[] = [];
let recoveryEmails: string[] = [];
/** Flows and client addresses are used once each, across warm-ups and rounds. */
let recoveryNext = 0;

const RECOVERY_SUBMIT: ProfiledScenario = {
  name: "POST /self-service/recovery",
  server: "rekey",
  method: "POST",
  path: "/self-service/recovery",
  headers: () => ({ "content-type": "application/json", accept: "application/json" }),
  setup: async (context) => {
    const needed = Math.ceil(setting("PROFILE_REQUESTS", 20_000) * 1.25) * setting("PROFILE_ROUNDS", 2) + 10;
    recoveryEmails = await inParallel(Math.ceil(needed / 5), async (index) => {
      const email = `profile-${context.runId}-r${index}@example.com`;
      await callAPI(context, "/api/v3/core/users/", { username: email, name: "r", email }, 201);
      return email;
    });
    recoveryFlows = await inParallel(needed, async () => {
      const { body } = await call(
        `${context.rekeyURL}/self-service/recovery/api`,
        { headers: { accept: "application/json" } },
        200,
      );
      return (JSON.parse(body) as { id: string }).id;
    });
  },
  buildRequest: () => {
    const index = recoveryNext++;
    return {
      path: `/self-service/recovery?flow=${recoveryFlows[index]}`,
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        "x-forwarded-for": clientAddress(index),
      },
      body: JSON.stringify({ method: "code", email: recoveryEmails[index % recoveryEmails.length] }),
    };
  },
};

/**
 * The foundation issue's speed scenarios and issue 6's Kratos session read and recovery submission;
 * others in SCENARIOS (argon2 and the like) are not ours.
 */
const PROFILED: ProfiledScenario[] = [
  ...SCENARIOS.filter((scenario) =>
    ["bare route GET", "GET /core/users/me/", "POST /core/tokens/"].includes(scenario.name),
  ),
  WHOAMI,
  RECOVERY_SUBMIT,
].filter(
  (scenario) =>
    scenario.server === "bare" || (process.env["PROFILE_ONLY"] ?? scenario.name) === scenario.name,
);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const TICK_US = 1_000_000 / 100; // USER_HZ is 100 on every Linux this runs on

function setting(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}: expected a positive whole number`);
  return value;
}

/** utime + stime of a /proc stat line, in microseconds (fields 14 and 15). */
function statMicros(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

function cpuMicros(pid: number): number {
  return statMicros(readFileSync(`/proc/${pid}/stat`, "utf8"));
}

/**
 * CPU per thread kind: the main thread (its id is the pid), and the others by name (libuv's pool,
 * V8's helpers, worker threads). Threads that ended between two readings are missed, which is why
 * the total above comes from the process, not from this.
 */
function threadMicros(pid: number): Map<string, number> {
  const byKind = new Map<string, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const kind = task === String(pid) ? "main" : name;
      byKind.set(kind, (byKind.get(kind) ?? 0) + statMicros(stat));
    } catch {
      // the thread ended while being read
    }
  }
  return byKind;
}

async function start(
  database: BenchDatabase,
): Promise<{ bare: ChildServer; rekey: ChildServer; context: BenchContext }> {
  const [barePort, rekeyPort] = [await freePort(), await freePort()];
  const context: BenchContext = {
    bareURL: `http://127.0.0.1:${barePort}`,
    rekeyURL: `http://127.0.0.1:${rekeyPort}`,
    adminToken: randomBytes(32).toString("base64url"),
    runId: randomBytes(4).toString("hex"),
  };
  const env = childEnv();
  const profileDir = process.env["PROFILE_CPU_PROF"];
  const bare = startChild(
    "bare",
    ["--import", "tsx", "bench/bare.ts"],
    { ...env, BENCH_BARE_PORT: String(barePort) },
    ROOT,
  );
  const rekey = startChild(
    "rekey",
    [...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []), "bin/rekey.js", "serve"],
    {
      ...env,
      REKEY_DATABASE_URL: database.url,
      REKEY_LISTEN: `127.0.0.1:${rekeyPort}`,
      REKEY_PUBLIC_URL: context.rekeyURL,
      REKEY_SECRET_KEY: randomBytes(32).toString("base64url"),
      REKEY_BOOTSTRAP_TOKEN: context.adminToken,
      REKEY_LOG_LEVEL: "warn",
      // The recovery submission spreads its clients with X-Forwarded-For, as bench:peer does.
      REKEY_TRUST_PROXY: "true",
    },
    ROOT,
  );
  await waitUntilReady(bare, `${context.bareURL}/`, {});
  await waitUntilReady(rekey, `${context.rekeyURL}/api/v3/core/users/me/`, {
    authorization: `Bearer ${context.adminToken}`,
  });
  return { bare, rekey, context };
}

interface Measured {
  usPerRequest: number;
  requestsPerSecond: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Server CPU per request by thread kind, and the load generator's own (this process). */
  threads: Map<string, number>;
}

let sequence = 0;

async function measure(
  scenario: ProfiledScenario,
  context: BenchContext,
  pid: number,
  amount: number,
): Promise<Measured> {
  const base = scenario.server === "bare" ? context.bareURL : context.rekeyURL;
  const buildBody = scenario.buildBody;
  const buildRequest = scenario.buildRequest;
  const before = cpuMicros(pid);
  const threadsBefore = threadMicros(pid);
  const selfBefore = process.cpuUsage();
  const result = await autocannon({
    url: base + scenario.path,
    method: scenario.method,
    headers: scenario.headers(context),
    body: scenario.body,
    connections: setting("PROFILE_CONNECTIONS", 10),
    amount,
    requests:
      buildRequest !== undefined
        ? [{ setupRequest: (request) => ({ ...request, ...buildRequest() }) }]
        : buildBody === undefined
          ? undefined
          : [{ setupRequest: (request) => ({ ...request, body: buildBody(sequence++, context) }) }],
  });
  const used = cpuMicros(pid) - before;
  const threads = new Map<string, number>();
  for (const [kind, after] of threadMicros(pid)) {
    threads.set(kind, (after - (threadsBefore.get(kind) ?? 0)) / result.requests.total);
  }
  const self = process.cpuUsage(selfBefore);
  threads.set("load generator", (self.user + self.system) / result.requests.total);
  return {
    usPerRequest: used / result.requests.total,
    // Not requests.average: with a fixed amount that is a mean over whole seconds, the last one partial.
    requestsPerSecond: result.requests.total / result.duration,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    threads,
  };
}

async function main(): Promise<void> {
  const amount = setting("PROFILE_REQUESTS", 20_000);
  const rounds = setting("PROFILE_ROUNDS", 2);
  let database: BenchDatabase;
  if (process.env["PROFILE_DIALECT"] === "postgres") {
    const made = await freshPostgres();
    if ("unreachable" in made) throw new Error(made.unreachable);
    database = made;
  } else {
    database = freshSQLite();
  }
  const { bare, rekey, context } = await start(database);
  try {
    await seedUsers(context, setting("PROFILE_USERS", 200));
    for (const scenario of PROFILED) await scenario.setup?.(context);
    const best = new Map<string, Measured>();
    for (let round = 0; round < rounds; round++) {
      for (const scenario of PROFILED) {
        const pid = scenario.server === "bare" ? bare.pid : rekey.pid;
        await measure(scenario, context, pid, Math.ceil(amount / 4)); // warm-up: JIT, caches
        const figures = await measure(scenario, context, pid, amount);
        const previous = best.get(scenario.name);
        if (previous === undefined || figures.usPerRequest < previous.usPerRequest) {
          best.set(scenario.name, figures);
        }
      }
    }
    const bareUs = best.get(PROFILED[0]!.name)!.usPerRequest;
    console.log(
      `${database.dialect}, ${amount} requests per scenario, load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`,
    );
    for (const [name, figures] of best) {
      console.log(
        `${name.padEnd(24)} ${figures.usPerRequest.toFixed(1).padStart(8)} us/req  ` +
          `bare/this ${(bareUs / figures.usPerRequest).toFixed(3)}  ` +
          `${figures.requestsPerSecond.toFixed(0).padStart(6)} req/s  p99 ${figures.p99} ms  ` +
          `non-2xx ${figures.non2xx}  errors ${figures.errors}`,
      );
      const threads = [...figures.threads]
        .filter(([, us]) => us >= 0.5)
        .map(([kind, us]) => `${kind} ${us.toFixed(1)}`);
      console.log(`${"".padEnd(24)} us/req by thread: ${threads.join(", ")}`);
    }
  } finally {
    await Promise.all([stopChild(bare), stopChild(rekey)]);
    await database.drop();
  }
}

await main();
