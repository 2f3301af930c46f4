import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";

/**
 * The system Chromium for the page tests (style.md, Tests: Pages): Debian's package, never a
 * download. With CI=true a missing browser fails the suite instead of skipping it; elsewhere the
 * tests skip, loudly, so a developer without Chromium still runs everything else.
 */

export const CHROMIUM_PATH = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const missing = !existsSync(CHROMIUM_PATH);
const inCI = process.env["CI"] === "true";

if (missing && !inCI) {
  console.warn(
    `\n*** Chromium not found at ${CHROMIUM_PATH}: browser tests are SKIPPED. Set CHROMIUM_PATH. ***\n`,
  );
}

/** The `skip` option of every browser test: a reason outside CI, never in CI. */
export const chromiumSkip: string | false =
  missing && !inCI ? `Chromium not found at ${CHROMIUM_PATH}` : false;

/**
 * Headless Chromium with the flags this machine needs: no sandbox (tests run as root) and no
 * background networking, whose connections the closed network would refuse many at a time.
 */
export async function launchChromium(): Promise<Browser> {
  if (missing) {
    throw new Error(`CI=true but Chromium is not at ${CHROMIUM_PATH}: browser tests must run in CI`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** Everything the browser console said: a CSP violation (a blocked stylesheet, say) shows up here. */
export function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  return errors;
}
