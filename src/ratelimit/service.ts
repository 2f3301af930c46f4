import { sha256Hex } from "../crypto/secrets.js";
import type { CoreDeps } from "../deps.js";
import { RateLimited } from "../errors.js";
import type { RateLimitStore } from "./store.js";

export interface Limit {
  /** Stable name, part of the counter key. */
  name: string;
  max: number;
  windowMs: number;
}

const MINUTE = 60_000;

/** Every limit Rekey applies, in one place so operators can read them (docs/operations.md). */
export const LIMITS = {
  recoveryRedeemPerIP: { name: "recovery_redeem_ip", max: 60, windowMs: 10 * MINUTE },
  recoveryCodePerAccount: { name: "recovery_code_account", max: 10, windowMs: 10 * MINUTE },
  forgotPasswordPerIP: { name: "forgot_password_ip", max: 10, windowMs: 15 * MINUTE },
  forgotPasswordPerAddress: { name: "forgot_password_address", max: 5, windowMs: 60 * MINUTE },
  loginPerIP: { name: "login_ip", max: 30, windowMs: 15 * MINUTE },
  loginPerAccount: { name: "login_account", max: 10, windowMs: 15 * MINUTE },
  // Kratos self-service recovery (kratos.md §3.4.5, §3.4.6): addresses submitted, codes and links redeemed.
  selfServiceRecoveryPerIP: { name: "selfservice_recovery_ip", max: 10, windowMs: 15 * MINUTE },
  selfServiceRecoveryPerAddress: { name: "selfservice_recovery_address", max: 5, windowMs: 60 * MINUTE },
  selfServiceRedeemPerIP: { name: "selfservice_redeem_ip", max: 60, windowMs: 10 * MINUTE },
} satisfies Record<string, Limit>;

/**
 * Counts one attempt against `limit` for `subject` (an IP address, a user id, an address) and throws
 * RateLimited, with the seconds until the window ends, once the limit is passed. Subjects are hashed
 * into the key so the table holds no addresses.
 */
export async function consumeLimit(
  deps: Pick<CoreDeps, "clock">,
  store: RateLimitStore,
  tenantId: string,
  limit: Limit,
  subject: string,
): Promise<void> {
  const now = deps.clock.now();
  const { count, windowStart } = await store.hit(limitKey(tenantId, limit, subject), limit.windowMs, now);
  if (count > limit.max) {
    throw rateLimited(limit, windowStart, now);
  }
}

/**
 * consumeLimit for several limits in one statement: every one is counted, then the first passed
 * (in the order given) throws. For requests that always take the same limits together.
 */
export async function consumeLimits(
  deps: Pick<CoreDeps, "clock">,
  store: RateLimitStore,
  tenantId: string,
  limits: { limit: Limit; subject: string }[],
): Promise<void> {
  const now = deps.clock.now();
  const counts = await store.hitMany(
    limits.map(({ limit, subject }) => ({
      key: limitKey(tenantId, limit, subject),
      windowMs: limit.windowMs,
    })),
    now,
  );
  for (const [index, { limit }] of limits.entries()) {
    const { count, windowStart } = counts[index]!;
    if (count > limit.max) {
      throw rateLimited(limit, windowStart, now);
    }
  }
}

/**
 * Throws RateLimited when `limit` is already used up for `subject`, without counting this attempt:
 * for limits on failures only (logins), where the failure is counted afterwards by consumeLimit.
 */
export async function assertWithinLimit(
  deps: Pick<CoreDeps, "clock">,
  store: RateLimitStore,
  tenantId: string,
  limit: Limit,
  subject: string,
): Promise<void> {
  const now = deps.clock.now();
  const { count, windowStart } = await store.peek(limitKey(tenantId, limit, subject), limit.windowMs, now);
  if (count >= limit.max) {
    throw rateLimited(limit, windowStart, now);
  }
}

function limitKey(tenantId: string, limit: Limit, subject: string): string {
  return `${limit.name}:${sha256Hex(`${tenantId}\u0000${subject.toLowerCase()}`)}`;
}

function rateLimited(limit: Limit, windowStart: number, now: Date): RateLimited {
  return new RateLimited(Math.max(1, Math.ceil((windowStart + limit.windowMs - now.getTime()) / 1000)));
}
