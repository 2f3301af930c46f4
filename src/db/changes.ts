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

  /** On PostgreSQL: listen for other replicas' changes on a connection of its own. */
  async listen(databaseURL: string): Promise<void> {
    this.notifier = new pg.Pool({ connectionString: databaseURL, max: 1 });
    this.listener = new pg.Client({ connectionString: databaseURL });
    this.listener.on("notification", () => this.fire());
    this.listener.on("error", () => {
      // A broken listener leaves the TTLs in charge; the server keeps serving.
    });
    await this.listener.connect();
    await this.listener.query(`LISTEN ${ChangeFeed.CHANNEL}`);
  }

  async close(): Promise<void> {
    await this.listener?.end().catch(() => {});
    await this.notifier?.end().catch(() => {});
  }

  private fire(): void {
    for (const listener of this.listeners) {
      listener();
    }
  }
}
