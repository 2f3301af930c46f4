import type { FastifyBaseLogger } from "fastify";
import type { CoreDeps } from "../deps.js";
import { SYSTEM_ACTOR } from "../events/store.js";
import { cleanUpExpiredTokens } from "../tokens/service.js";

export interface Scheduler {
  stop(): void;
}

/**
 * Periodic jobs: expired-token cleanup every REKEY_TOKEN_CLEANUP_INTERVAL seconds, the daily purge
 * of expired events, and the hourly purge of finished mail, flows, sessions and rate-limit windows
 * (src/jobs/housekeeping.ts). Every replica may run them: each change is a conditional statement, so two
 * replicas never rotate or delete the same token twice.
 */
export function startScheduler(deps: CoreDeps, log: FastifyBaseLogger): Scheduler {
  const timers: NodeJS.Timeout[] = [];
  const interval = deps.config.tokenCleanupIntervalSeconds;
  let running = false;

  async function tokenCleanup(): Promise<void> {
    if (running) return; // a slow run is never overlapped by the next tick
    running = true;
    try {
      const changed = await cleanUpExpiredTokens(deps, (tenantId) => ({
        tenantId,
        actor: SYSTEM_ACTOR,
        clientIP: null,
        httpRequest: null,
        app: "rekey.tasks",
      }));
      if (changed > 0) {
        log.info({ changed }, "expired tokens cleaned up");
      }
    } catch (error) {
      log.error({ err: error }, "token cleanup failed");
    } finally {
      running = false;
    }
  }

  async function eventPurge(): Promise<void> {
    try {
      await deps.persistence.stores.events.purgeExpiredEvents(deps.clock.now());
    } catch (error) {
      log.error({ err: error }, "event purge failed");
    }
  }

  async function housekeeping(): Promise<void> {
    try {
      const purged = await deps.persistence.stores.housekeeping.purge(deps.clock.now());
      if (Object.values(purged).some((count) => count > 0)) {
        log.info({ purged }, "finished rows purged");
      }
    } catch (error) {
      log.error({ err: error }, "housekeeping failed");
    }
  }

  if (interval > 0) {
    timers.push(setInterval(tokenCleanup, interval * 1000));
  }
  timers.push(setInterval(eventPurge, 86_400_000));
  timers.push(setInterval(housekeeping, 3_600_000));
  for (const timer of timers) {
    timer.unref();
  }
  return {
    stop(): void {
      for (const timer of timers) clearInterval(timer);
    },
  };
}
