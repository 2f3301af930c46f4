import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * SQLite's WAL checkpoints, moved off the event loop.
 *
 * A checkpoint copies the pages committed to the WAL back into the database file and syncs both:
 * thousands of page writes and two fsyncs, all synchronous in better-sqlite3. Left to SQLite's
 * automatic checkpoint it runs inside whichever COMMIT crosses the threshold, so every request of
 * that batch, and every request queued behind the blocked event loop, waits for it: about half of
 * the SQLite time of a created token, and most of its p99 (docs/performance.md).
 *
 * Here a worker thread with its own connection to the same file runs PASSIVE checkpoints, which
 * never take the write lock and so never hold up the server's connection; the server's own
 * automatic checkpoint stays on as a backstop and then finds almost nothing left to copy. Durability
 * is untouched: a checkpoint only moves pages that are already committed in the WAL.
 *
 * The worker is a few lines of plain JavaScript evaluated in place, so it runs the same whether the
 * server runs from dist/ or from the TypeScript sources, and loads the same better-sqlite3 build.
 */
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const SQLite = require(workerData.driver);
const db = new SQLite(workerData.path, { fileMustExist: true });
db.pragma("cache_size = -64"); // a checkpoint copies frames from the WAL; it needs no page cache
let delay = workerData.busyDelayMs;
let lastLog = -1;
function checkpoint() {
  let log = lastLog;
  try {
    log = db.pragma("wal_checkpoint(PASSIVE)")[0].log;
  } catch {
    // Another checkpoint holds the lock (the server's own backstop): try again on the next round.
  }
  // Every busyDelayMs while the WAL grows; backing off to the idle delay once it stops.
  delay = log !== lastLog ? workerData.busyDelayMs : Math.min(delay * 2, workerData.idleDelayMs);
  lastLog = log;
  setTimeout(checkpoint, delay);
}
checkpoint();
`;

/** How long stop() waits for the thread to end before the shutdown goes on without it. */
const STOP_WAIT_MS = 5_000;

export interface Checkpointer {
  /** Stops the worker (its teardown closes its connection); call before closing the server's own. */
  stop(): Promise<void>;
}

export function startCheckpointer(
  path: string,
  options: { busyDelayMs?: number; idleDelayMs?: number } = {},
): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    // No resourceLimits: the thread's heap stays at about 5 MiB by itself, and a worker near a tight
    // limit is where Node's termination has hung before (nodejs/node#38208). Twice in CI a serving
    // process on SQLite did not finish its shutdown within 60 s of SIGTERM while stopping this
    // thread, with an 8 MiB limit in place.
    workerData: {
      path,
      driver: createRequire(import.meta.url).resolve("better-sqlite3"),
      // Each checkpoint writes every page changed since the last one once, however often it changed,
      // so a longer round copies fewer pages per commit: under token creation the thread took 31–34
      // µs of CPU per token checkpointing every 10 ms, 19–23 every 50–100 ms, 13 every 200 ms. 100 ms
      // keeps a round to about a thousand frames at that rate, so SQLite's own checkpoint, the
      // backstop in the server's thread, still finds little left.
      busyDelayMs: options.busyDelayMs ?? 100,
      idleDelayMs: options.idleDelayMs ?? 1000,
    },
  });
  // The server never waits on this thread: an idle process may exit with it running.
  worker.unref();
  // A failing worker (the file removed under it) costs only the speed-up: SQLite's own checkpoint
  // still runs in the server's connection.
  worker.on("error", () => {});
  return {
    async stop() {
      // Stops the thread between two checkpoints (a checkpoint in progress finishes first, and an
      // interrupted one would be redone by the next anyway); the thread's teardown closes its
      // connection. No message to wait on, so a thread that never started cannot hang a shutdown,
      // and no more than STOP_WAIT_MS of waiting either: the process's exit ends the thread.
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, STOP_WAIT_MS);
      });
      await Promise.race([worker.terminate(), waited]);
      clearTimeout(timer);
    },
  };
}
