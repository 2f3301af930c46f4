/** Fixed-window counters kept in the database, so limits hold across restarts and replicas. */
export interface RateLimitStore {
  /**
   * Counts one hit on `key` in its current window (a new window starts when the last began
   * `windowMs` or more ago) and returns the count including this hit and when the window began.
   * One upsert statement: concurrent hits from several replicas are all counted.
   */
  hit(key: string, windowMs: number, now: Date): Promise<{ count: number; windowStart: number }>;
  /**
   * `hit` on several distinct keys in one upsert statement; results in the order of `entries`.
   * Every key is counted, even when another one is already over its limit.
   */
  hitMany(
    entries: { key: string; windowMs: number }[],
    now: Date,
  ): Promise<{ count: number; windowStart: number }[]>;
  /** The hits counted on `key` in its current window, without counting one (0 when none or stale). */
  peek(key: string, windowMs: number, now: Date): Promise<{ count: number; windowStart: number }>;
}
