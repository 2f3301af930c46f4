import type { Clock } from "../clock.js";
import type { TenantStore, Tenant } from "./store.js";

/** How long a host → tenant answer is reused. A domain change elsewhere is seen after at most this. */
const TTL_MS = 5_000;

/**
 * Resolves a request's tenant from its Host header (authentik-v3.md §2.2): lower-cased, port removed,
 * matched exactly against domains, else the default tenant. Answers are cached briefly per process
 * because every request needs one; local writes to tenants or domains clear the cache at once.
 */
export class TenantResolver {
  private readonly cache = new Map<string, { tenant: Tenant; until: number }>();
  private readonly store: TenantStore;
  private readonly clock: Clock;

  constructor(store: TenantStore, clock: Clock) {
    this.store = store;
    this.clock = clock;
  }

  /**
   * The cached answer for this Host header, or null when it must be read: lets the per-request hook
   * answer without a promise on the common path.
   */
  cached(hostHeader: string | undefined): Tenant | null {
    const cached = this.cache.get(normaliseHost(hostHeader ?? ""));
    return cached !== undefined && cached.until > this.clock.now().getTime() ? cached.tenant : null;
  }

  async resolve(hostHeader: string | undefined): Promise<Tenant> {
    const host = normaliseHost(hostHeader ?? "");
    const now = this.clock.now().getTime();
    const cached = this.cache.get(host);
    if (cached !== undefined && cached.until > now) {
      return cached.tenant;
    }
    const tenant =
      (host === "" ? null : await this.store.findTenantByHost(host)) ?? (await this.store.defaultTenant());
    if (this.cache.size > 10_000) {
      this.cache.clear(); // bounded: arbitrary Host headers must not grow memory without limit
    }
    this.cache.set(host, { tenant, until: now + TTL_MS });
    return tenant;
  }

  /** Forget every answer: call after any change to tenants or domains. */
  invalidate(): void {
    this.cache.clear();
  }
}

export function normaliseHost(header: string): string {
  const lower = header.trim().toLowerCase();
  if (lower.startsWith("[")) {
    const end = lower.indexOf("]");
    return end === -1 ? lower : lower.slice(0, end + 1);
  }
  const colon = lower.indexOf(":");
  return colon === -1 ? lower : lower.slice(0, colon);
}
