import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { randomInt } from "node:crypto";

/**
 * HMAC-SHA512/256 of short-lived recovery secrets (codes and link tokens) under keys derived from the
 * server secrets (kratos.md §3.5): a leaked table gives nothing, and a plain hash of six digits would
 * fall to a million guesses. The first secret writes; every configured secret verifies, so rotating
 * REKEY_SECRET_KEY (new first, old second) keeps issued codes valid.
 */
export class SecretHMAC {
  private readonly keys: Buffer[];

  constructor(serverSecrets: readonly string[], info: string) {
    this.keys = serverSecrets.map((secret) =>
      Buffer.from(hkdfSync("sha256", Buffer.from(secret, "utf8"), Buffer.alloc(0), info, 64)),
    );
  }

  /** The stored form: lower-case hex under the current secret. */
  digest(value: string): string {
    return createHmac("sha512-256", this.keys[0]!).update(value, "utf8").digest("hex");
  }

  /** The digests of `value` under every configured secret, for an indexed lookup (`WHERE hmac IN (…)`). */
  candidates(value: string): string[] {
    return this.keys.map((key) => createHmac("sha512-256", key).update(value, "utf8").digest("hex"));
  }

  /** True when `value` matches `storedHex` under any configured secret; constant time per comparison. */
  matches(value: string, storedHex: string): boolean {
    const stored = Buffer.from(storedHex, "hex");
    let found = false;
    for (const key of this.keys) {
      const candidate = createHmac("sha512-256", key).update(value, "utf8").digest();
      // No early exit: every secret is tried whatever the outcome.
      found = (candidate.length === stored.length && timingSafeEqual(candidate, stored)) || found;
    }
    return found;
  }
}

/** `length` decimal digits, each drawn uniformly (no modulo bias), leading zeros allowed. */
export function generateDigits(length: number, draw: (max: number) => number = randomInt): string {
  let code = "";
  for (let i = 0; i < length; i++) {
    code += String(draw(10));
  }
  return code;
}
