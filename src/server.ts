import pino from "pino";
import { buildApp, loggerOptions } from "./app.js";
import { openDeps } from "./boot.js";
import { bootstrapAdmin } from "./bootstrap.js";
import type { Config } from "./config.js";
import { startScheduler } from "./jobs/scheduler.js";
import { startCourier } from "./mail/courier.js";

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
    scheduler.stop();
    await app.close();
    await courier.stop();
    await deps.changes.close();
    await deps.db.close();
    process.exit(0);
  }
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}
