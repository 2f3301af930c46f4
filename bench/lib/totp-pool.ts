import type { BenchContext } from "./scenarios.js";
import { callAPI, clientAddress, createUser, inParallel, recoveredSessionToken } from "./seed.js";

/**
 * Users ready for one TOTP step-up each: an aal1 Kratos session and a confirmed TOTP device, all made
 * through the real API. The session comes from an admin recovery code redeemed in an api flow (no
 * password, so preparing thousands costs no argon2 hashing); it is made before the device, since a
 * recovery of a user who has a second factor must pass that factor first.
 */
export interface TOTPPool {
  /** Prepared entries not yet used: `session` (token) and `otpauth` (the device's key URI). */
  ready: Record<string, string>[];
  made: number;
  fill(count: number): Promise<void>;
}

/** The next prepared entry; an empty one when none is left, whose requests then fail visibly. */
export function takeFromPool(pool: TOTPPool): Record<string, string> {
  return pool.ready.shift() ?? { session: "", otpauth: "otpauth://totp/none?secret=AAAAAAAAAAAAAAAA" };
}

async function prepareOne(context: BenchContext, index: number): Promise<Record<string, string>> {
  const username = `bench-totp-${context.runId}-${index}`;
  const user = await createUser(context, username, `Bench TOTP ${index}`);
  // Its own client address, as in the scenarios: the per-address redemption limit is not the subject.
  const session = await recoveredSessionToken(
    context.rekeyURL,
    context.adminToken,
    user.uuid,
    clientAddress(100_000 + index),
  );
  const device = (await callAPI(
    context,
    "/api/v3/authenticators/admin/totp/",
    { user: user.pk, name: "bench phone" },
    201,
  )) as { config_url: string };
  return { session, otpauth: device.config_url };
}

export function totpPool(context: BenchContext): TOTPPool {
  const pool: TOTPPool = {
    ready: [],
    made: 0,
    async fill(count: number): Promise<void> {
      const first = pool.made;
      pool.made += count;
      const entries = await inParallel(count, (index) => prepareOne(context, first + index));
      pool.ready.push(...entries);
    },
  };
  return pool;
}
