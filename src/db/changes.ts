import pg from "pg";

/**
 * Tells every cache in every replica that data it may hold has changed: credentials (tokens, users,
 * groups) and tenant routing (tenants, domains). Local subscribers hear it at once; on PostgreSQL
 * other replicas hear it through LISTEN/NOTIFY within milliseconds. Caches keep a short TTL as the
 * backstop for a lost notification (or several processes on one SQLite file).
 */
export class ChangeFeed {
  static readonly CHANNEL = "rekey_changes";
  private readonly listeners: (() => void)[] = [];
  private notifier: pg.Pool | null = null;
  private listener: pg.Client | null = null;
  private databaseURL: string | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private retryDelayMs = 1000;
  private closed = false;

  subscribe(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Call after a change has committed. */
  changed(): void {
    this.fire();
    this.notifier?.query(`NOTIFY ${ChangeFeed.CHANNEL}`).catch(() => {
      // The other replicas' caches expire on their own within seconds.
    });
  }

  /**
   * On PostgreSQL: listen for other replicas' changes on a connection of its own. A lost connection
   * is re-opened with a growing delay (1 s up to 30 s); since notices may have been missed meanwhile,
   * every cache is flushed once it is back.
   */
  async listen(databaseURL: string): Promise<void> {
    this.databaseURL = databaseURL;
    this.notifier = new pg.Pool({ connectionString: databaseURL, max: 1 });
    this.notifier.on("error", () => {
      // pg drops the broken idle connection; the next NOTIFY opens a new one.
    });
    await this.connectListener();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    await this.listener?.end().catch(() => {});
    await this.notifier?.end().catch(() => {});
  }

  private async connectListener(): Promise<void> {
    const listener = new pg.Client({ connectionString: this.databaseURL ?? undefined });
    this.listener = listener;
    listener.on("notification", () => this.fire());
    // A broken listener leaves the TTLs in charge until it is back; the server keeps serving.
    listener.on("error", () => this.reconnectLater(listener));
    listener.on("end", () => this.reconnectLater(listener));
    await listener.connect();
    await listener.query(`LISTEN ${ChangeFeed.CHANNEL}`);
    this.retryDelayMs = 1000;
  }

  private reconnectLater(broken: pg.Client): void {
    if (this.closed || this.listener !== broken || this.reconnectTimer !== null) return;
    broken.end().catch(() => {});
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(delay * 2, 30_000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connectListener().then(
        () => this.fire(),
        () => this.reconnectLater(this.listener ?? broken),
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  private fire(): void {
    for (const listener of this.listeners) {
      listener();
    }
  }
}
