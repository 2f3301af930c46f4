#!/usr/bin/env -S node --max-semi-space-size=8
// --max-semi-space-size=8 (also in `npm start`; set it in NODE_OPTIONS where Rekey is started some
// other way): V8 lets the young generation grow to 2 × 16 MiB, which a server's request garbage
// fills and keeps resident; at 2 × 8 MiB the server holds 10–30 MiB less, idle and under load, with
// no CPU cost that the benches could tell apart from the machine's own drift (docs/performance.md).
// Runs the build in dist/ (scripts/build.mjs: `npm install` and `npm start` make it) when it is at
// least as new as every file under src/; otherwise the TypeScript sources directly through tsx, so a
// clone without a build, or an edit made since the last one, still runs, and never runs stale code.
// The build saves the resident memory a TypeScript loader holds (about 50 MiB).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function builtAt() {
  try {
    return JSON.parse(readFileSync(join(root, "dist", "build.json"), "utf8")).startedAt;
  } catch {
    return null;
  }
}

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

async function loadCLI() {
  const built = builtAt();
  if (typeof built === "number" && newestSource(join(root, "src")) <= built) {
    return import("../dist/src/cli.js");
  }
  const { register } = await import("tsx/esm/api");
  register();
  return import("../src/cli.ts");
}

const { main } = await loadCLI();
const code = await main(process.argv.slice(2));
if (code >= 0) {
  process.exitCode = code;
}
