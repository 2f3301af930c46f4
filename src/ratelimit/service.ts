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
  const key = `${limit.name}:${sha256Hex(`${tenantId}\u0000${subject.toLowerCase()}`)}`;
  const { count, windowStart } = await store.hit(key, limit.windowMs, now);
  if (count > limit.max) {
    throw new RateLimited(Math.max(1, Math.ceil((windowStart + limit.windowMs - now.getTime()) / 1000)));
  }
}
