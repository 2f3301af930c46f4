import { createCipheriv, createDecipheriv, hash, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Hex SHA-256 of a token key: the lookup column. Long random keys need no salt or stretching.
 * `hash` is the one-shot form: a third of `createHash`'s cost on every authenticated request.
 */
export function sha256Hex(value: string): string {
  return hash("sha256", value, "hex");
}

/** Constant-time equality of two strings (equal lengths are compared without early exit). */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = hash("sha256", a, "buffer");
  const right = hash("sha256", b, "buffer");
  // Comparing digests keeps the time independent of where, and whether, the lengths differ.
  return timingSafeEqual(left, right) && a.length === b.length;
}

/**
 * A fresh 96-bit AES-GCM nonce, cut from a larger CSPRNG draw: a draw of its own per seal was about
 * 10 µs, a tenth of a created token's CPU time. Each nonce is used once (the offset only moves
 * forward, and a spent pool is replaced, never refilled in place); nonces are not secret.
 */
const NONCE_BYTES = 12;
let noncePool = Buffer.alloc(0);
let nonceAt = 0;

function freshNonce(): Buffer {
  if (nonceAt + NONCE_BYTES > noncePool.length) {
    noncePool = randomBytes(NONCE_BYTES * 256);
    nonceAt = 0;
  }
  const nonce = noncePool.subarray(nonceAt, nonceAt + NONCE_BYTES);
  nonceAt += NONCE_BYTES;
  return nonce;
}

export interface SealedSecret {
  /** base64 of nonce ‖ ciphertext ‖ tag. */
  sealed: string;
  /** Index of the server secret (in REKEY_SECRET_KEY order) whose derived key sealed it. */
  secretIndex: number;
}

/**
 * AES-256-GCM under keys derived from the server secrets (HKDF-SHA256, one `info` per purpose).
 * The first secret seals; every configured secret can open, so a rotation keeps old rows readable
 * (authentik-v3.md §4, A6).
 */
export class SecretBox {
  private readonly keys: Buffer[];

  constructor(serverSecrets: readonly string[], info: string) {
    this.keys = serverSecrets.map((secret) =>
      Buffer.from(hkdfSync("sha256", Buffer.from(secret, "utf8"), Buffer.alloc(0), info, 32)),
    );
  }

  seal(plaintext: string): SealedSecret {
    const nonce = freshNonce();
    const cipher = createCipheriv("aes-256-gcm", this.keys[0]!, nonce);
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return { sealed: Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64"), secretIndex: 0 };
  }

  /** Null when no configured secret opens it (a secret was removed, or the row was tampered with). */
  open(sealed: string, secretIndexHint: number): string | null {
    const raw = Buffer.from(sealed, "base64");
    if (raw.length < 28) {
      return null;
    }
    const order = [secretIndexHint, ...this.keys.keys()].filter((index) => index < this.keys.length);
    for (const index of new Set(order)) {
      try {
        const decipher = createDecipheriv("aes-256-gcm", this.keys[index]!, raw.subarray(0, 12));
        decipher.setAuthTag(raw.subarray(raw.length - 16));
        return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString(
          "utf8",
        );
      } catch {
        // Wrong key or tampered data: try the next secret.
      }
    }
    return null;
  }
}
