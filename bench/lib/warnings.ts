import type { FlowFigures } from "./flows.js";
import type { ScenarioFigures } from "./load.js";

/** What `npm run bench` says when a load did not measure the intended path, or the server logged. */

export function warnAboutFailures(figures: ScenarioFigures): boolean {
  const failed = figures.non2xx > 0 || figures.errors > 0 || figures.probe.status >= 300;
  if (failed) {
    console.warn(
      `\n!!! ${figures.name}: ${figures.non2xx} non-2xx (${JSON.stringify(figures.statusCodes)}), ${figures.errors} errors`,
    );
    console.warn(`!!! probe answered ${figures.probe.status}: ${figures.probe.body}`);
  }
  warnAboutLogs(figures.name, figures.serverLogLineCount, figures.serverLogTail);
  return failed;
}

export function warnAboutFlow(figures: FlowFigures): boolean {
  const failed = figures.failed > 0 || figures.errors > 0 || figures.completed === 0;
  if (failed) {
    console.warn(
      `\n!!! ${figures.name}: ${figures.completed} completed, ${figures.failed} failed operations, ${figures.errors} errors` +
        (figures.completed + figures.failed === 0
          ? " (no operation finished within the load: each took longer)"
          : ""),
    );
    for (const step of figures.steps) {
      if (step.firstUnexpected !== null) {
        console.warn(
          `!!!   ${step.name}: ${step.unexpected} unexpected (${JSON.stringify(step.statusCodes)}); first: ${step.firstUnexpected.status} ${step.firstUnexpected.body}`,
        );
      }
    }
  }
  warnAboutLogs(figures.name, figures.serverLogLineCount, figures.serverLogTail);
  return failed;
}

function warnAboutLogs(name: string, count: number, tail: string[]): void {
  if (count === 0) return;
  console.warn(`!!! the server logged ${count} lines during "${name}"; the last:`);
  for (const line of tail) console.warn(`    ${line.slice(0, 400)}`);
}
