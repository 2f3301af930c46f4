#!/usr/bin/env node
// `npm run build` (also run by `npm install` and `npm start`): transpiles src/ to plain JavaScript
// in dist/, file for file, so the server runs without a TypeScript loader in the process. tsx
// keeps every source and its transpiled text in memory: about 50 MiB of the server's resident set.
// Type checking is `npm run typecheck`; this only strips types (esbuild), in well under a second.
// dist/build.json records when the build started: bin/rekey.js runs dist/ only when no file under
// src/ is newer, and otherwise the sources through tsx, so an edit is never served stale.
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function sources(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") && !path.endsWith(".test.ts") ? [path] : [];
  });
}

const startedAt = Date.now();
const outdir = join(root, "dist");
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: sources(join(root, "src")),
  outbase: root,
  outdir,
  format: "esm",
  platform: "node",
  target: "node20",
  bundle: false,
  sourcemap: "linked",
  logLevel: "warning",
});
writeFileSync(join(outdir, "build.json"), `${JSON.stringify({ startedAt })}\n`);
