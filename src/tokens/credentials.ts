import type { Clock } from "../clock.js";
import type { User } from "../users/store.js";

/** How long an authenticated token is trusted without asking the database again. */
const TTL_MS = 5_000;
const CAPACITY = 10_000;

interface Entry {
  user: User;
  /** The token's own expiry; a cached token never outlives it. */
  tokenExpires: number;
  until: number;
}

/**
 * Owners of recently used `api` tokens, by tenant and key hash: `/core/users/me/` and every other
 * authenticated call skip both queries on a hit. A change to tokens, users or groups empties it at
 * once (ChangeFeed, across replicas on PostgreSQL); a read that began before such a change cannot put
 * its stale answer back (the generation check). Unknown keys are never cached.
 */
export class CredentialCache {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;
  private readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** The generation to hand back to `remember` after reading the database. */
  currentGeneration(): number {
    return this.generation;
  }

  lookup(tenantId: string, keyHash: string): User | null {
    const entry = this.entries.get(`${tenantId}:${keyHash}`);
    if (entry === undefined) {
      return null;
    }
    const now = this.clock.now().getTime();
    if (entry.until <= now || entry.tokenExpires <= now) {
      this.entries.delete(`${tenantId}:${keyHash}`);
      return null;
    }
    return entry.user;
  }

  remember(
    tenantId: string,
    keyHash: string,
    user: User,
    tokenExpires: Date | null,
    generation: number,
  ): void {
    if (generation !== this.generation) {
      return; // something changed while we read: the answer may already be stale
    }
    if (this.entries.size >= CAPACITY) {
      this.entries.clear();
    }
    const now = this.clock.now().getTime();
    this.entries.set(`${tenantId}:${keyHash}`, {
      user,
      tokenExpires: tokenExpires?.getTime() ?? Number.POSITIVE_INFINITY,
      until: now + TTL_MS,
    });
  }

  invalidate(): void {
    this.generation++;
    this.entries.clear();
  }
}
