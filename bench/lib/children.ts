import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const KEPT_LINES = 200;

/** A server in its own process, so the load generator never shares its event loop. */
export interface ChildServer {
  name: string;
  pid: number;
  process: ChildProcess;
  /** Every line it wrote, stdout and stderr together, oldest first (the last KEPT_LINES). */
  lines: string[];
  /** How many lines it has written in all; the difference over a scenario is what that load logged. */
  lineCount(): number;
}

/** A port that was free a moment ago on 127.0.0.1; the child binds it next. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") {
    throw new Error("could not find a free port");
  }
  return address.port;
}

function keepLines(child: ChildProcess, lines: string[], counter: { count: number }): void {
  for (const stream of [child.stdout, child.stderr]) {
    let partial = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) {
        counter.count += 1;
        lines.push(line);
        if (lines.length > KEPT_LINES) lines.shift();
      }
    });
  }
}

let built = false;

/**
 * Builds dist/ once per bench run (scripts/build.mjs), so `bin/rekey.js` runs the same compiled
 * JavaScript `npm start` runs, not the TypeScript sources through tsx (which it falls back to when
 * src/ is newer than the build).
 */
function buildOnce(cwd: string): void {
  if (built) return;
  execFileSync(process.execPath, ["scripts/build.mjs"], { cwd, stdio: "inherit" });
  built = true;
}

/** The node flags `npm start` gives the server (package.json), so a bench measures what it starts. */
export function serverNodeFlags(cwd: string): string[] {
  const scripts = JSON.parse(readFileSync(join(cwd, "package.json"), "utf8")).scripts as { start: string };
  const flags = /\bnode ((?:--\S+ )*)bin\/rekey\.js serve\b/.exec(scripts.start);
  if (flags === null) throw new Error(`package.json: no "node … bin/rekey.js serve" in ${scripts.start}`);
  return flags[1]!.split(" ").filter((flag) => flag !== "");
}

/**
 * This process's environment without the variables named by `prefixes` (REKEY_* by default): each
 * child gets exactly the settings its caller gives it, none inherited from the shell.
 */
export function childEnv(prefixes: readonly string[] = ["REKEY_"]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !prefixes.some((prefix) => name.startsWith(prefix))) env[name] = value;
  }
  return env;
}

/**
 * Starts `node <args>` in `cwd` with exactly the environment `env`; Rekey from a fresh build and
 * with `npm start`'s node flags.
 */
export function startChild(
  name: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
): ChildServer {
  const rekey = args.includes("bin/rekey.js");
  if (rekey) buildOnce(cwd);
  const argv = rekey ? [...serverNodeFlags(cwd), ...args] : args;
  const child = spawn(process.execPath, argv, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) {
    throw new Error(`${name}: could not start node ${argv.join(" ")}`);
  }
  const lines: string[] = [];
  const counter = { count: 0 };
  keepLines(child, lines, counter);
  return { name, pid: child.pid, process: child, lines, lineCount: () => counter.count };
}

/** Polls `url` until it answers 2xx; fails early, with the child's output, when the child exits. */
export async function waitUntilReady(
  child: ChildServer,
  url: string,
  headers: Record<string, string>,
): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`${child.name} exited before it was ready:\n${child.lines.join("\n")}`);
    }
    try {
      const response = await fetch(url, { headers });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  throw new Error(`${child.name} was not ready within 60 s:\n${child.lines.join("\n")}`);
}

/** SIGTERM, then SIGKILL after five seconds; resolves once the child has gone. */
export async function stopChild(child: ChildServer): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.process.once("exit", () => resolve()));
  child.process.kill("SIGTERM");
  const timer = setTimeout(() => child.process.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** A field of /proc/<pid>/status in bytes (VmRSS, VmHWM); null when it cannot be read (not Linux). */
export function procStatusBytes(pid: number, field: "VmRSS" | "VmHWM"): number | null {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(
      readFileSync(`/proc/${pid}/status`, "utf8"),
    );
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

export interface RSSSampler {
  /** Stops sampling; the highest VmRSS seen while it ran, or null where /proc is missing. */
  stop(): number | null;
}

/** Reads the child's VmRSS every 100 ms: VmHWM alone would also count startup and seeding. */
export function sampleRSS(pid: number): RSSSampler {
  let peak = procStatusBytes(pid, "VmRSS");
  const timer = setInterval(() => {
    const now = procStatusBytes(pid, "VmRSS");
    if (now !== null && (peak === null || now > peak)) peak = now;
  }, 100);
  return {
    stop(): number | null {
      clearInterval(timer);
      const last = procStatusBytes(pid, "VmRSS");
      return last !== null && (peak === null || last > peak) ? last : peak;
    },
  };
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times (100 on every common Linux build). */
function clockTicks(): number {
  try {
    const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

let ticksPerSecond: number | null = null;

/**
 * CPU seconds (user + system, every thread) the process has used so far; null off Linux. The
 * difference over a load is what the server spent on it, a figure other processes on a busy
 * machine disturb far less than requests per second.
 */
export function procCPUSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticksPerSecond ??= clockTicks();
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return null;
  }
}

/** CPU seconds used between two readings, null when either is missing. */
export function cpuBetween(before: number | null, after: number | null): number | null {
  return before === null || after === null ? null : after - before;
}
