import pino from "pino";
import { buildApp, loggerOptions } from "./app.js";
import { openDeps } from "./boot.js";
import { bootstrapAdmin } from "./bootstrap.js";
import type { Config } from "./config.js";
import { startScheduler } from "./jobs/scheduler.js";
import { startCourier } from "./mail/courier.js";

/** How long a shutdown may take before the process gives up on it (a step that never ends). */
const SHUTDOWN_LIMIT_MS = 20_000;

/** `rekey serve`: open, migrate, bootstrap, listen, run the periodic jobs, and stop cleanly on a signal. */
export async function serve(config: Config): Promise<void> {
  const logger = pino(loggerOptions(config.logLevel) as pino.LoggerOptions);
  const deps = await openDeps(config, { serving: true });
  if (deps.db.dialect === "postgres") {
    await deps.changes.listen(config.databaseURL); // other replicas' changes empty our caches too
  }
  try {
    await bootstrapAdmin(deps);
  } catch {
    // Replicas starting together may race on the first insert; the second attempt sees the winner's rows.
    await bootstrapAdmin(deps);
  }
  const app = await buildApp(deps, { logger: loggerOptions(config.logLevel) });
  const scheduler = startScheduler(deps, app.log);
  // Every replica runs a courier: claims use FOR UPDATE SKIP LOCKED, so none sends a mail twice.
  const courier = startCourier(deps, app.log, {
    backoffMs: config.mailRetryBackoffSeconds * 1000,
    leaseMs: config.mailLeaseSeconds * 1000,
  });
  await app.listen({ host: config.listenHost, port: config.listenPort });
  logger.info({ database: deps.db.dialect, publicURL: config.publicURL.href }, "rekey is serving");

  let closing = false;
  async function shutdown(signal: string): Promise<void> {
    if (closing) return;
    closing = true;
    logger.info({ signal }, "shutting down");
    // Each step normally takes milliseconds. One that never ends would leave a process that was told
    // to stop still running, with nothing said; after SHUTDOWN_LIMIT_MS the log names it and
    // the process exits with 1, so the process manager knows the stop was not clean.
    let step = "stopping the scheduler";
    const watchdog = setTimeout(() => {
      logger.error({ signal, step }, `shutdown did not finish within ${SHUTDOWN_LIMIT_MS} ms`);
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS);
    scheduler.stop();
    step = "closing the HTTP server";
    await app.close();
    step = "stopping the courier";
    await courier.stop();
    step = "closing the change feed";
    await deps.changes.close();
    step = "closing the database";
    await deps.db.close();
    clearTimeout(watchdog);
    process.exit(0);
  }
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}
