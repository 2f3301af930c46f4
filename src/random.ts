import { randomBytes, randomUUID } from "node:crypto";

/** The only place that draws real randomness; services receive a RandomSource. */
export interface RandomSource {
  /** `length` bytes from a CSPRNG. */
  bytes(length: number): Buffer;
  /** A uniformly drawn string of `length` characters from `alphabet`. */
  string(length: number, alphabet: string): string;
  /** A random version-4 UUID, lower case. */
  uuid(): string;
  /**
   * A version-7 UUID for the instant `at` (taken from the caller's Clock), lower case. Ids made later
   * sort after earlier ones once the millisecond differs, so a primary key of them grows at its end.
   */
  uuidv7(at: Date): string;
}

export const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * The UUIDv7 layout (RFC 9562 §5.7) over a random version-4 UUID: the first 48 bits become the Unix
 * time in milliseconds and the version nibble 7. A v4 UUID already carries the variant bits `10` and
 * random bits everywhere else, exactly the 74 random bits v7 keeps (rand_a and rand_b). Reusing
 * randomUUID's output draws from Node's cached entropy instead of a getrandom call per id.
 */
export function uuidv7Layout(unixMs: number, v4: string): string {
  if (!Number.isInteger(unixMs) || unixMs < 0 || unixMs >= 2 ** 48) {
    throw new RangeError(`uuidv7: timestamp out of range: ${unixMs}`);
  }
  const time = unixMs.toString(16).padStart(12, "0");
  // v4: xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx; keep everything after the version nibble.
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${v4.slice(15)}`;
}

/** Bytes drawn from the CSPRNG in one call and handed out one at a time. */
const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let poolAt = 0;

function randomByte(): number {
  if (poolAt >= pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolAt = 0;
  }
  const byte = pool[poolAt] as number;
  // Handed-out bytes become parts of keys and codes: none stays readable in the pool after use.
  pool[poolAt++] = 0;
  return byte;
}

export const cryptoRandom: RandomSource = {
  bytes: (length) => randomBytes(length),
  string(length, alphabet) {
    if (alphabet.length < 1 || alphabet.length > 256) {
      throw new RangeError("random string: the alphabet must have 1 to 256 characters");
    }
    // Rejection sampling: bytes at or above the largest multiple of the alphabet's size are dropped,
    // so every character stays equally likely (no modulo bias), as randomInt did, without randomInt's
    // cost per character (60 calls per API key).
    const limit = 256 - (256 % alphabet.length);
    let out = "";
    while (out.length < length) {
      const byte = randomByte();
      if (byte < limit) out += alphabet[byte % alphabet.length];
    }
    return out;
  },
  uuid: () => randomUUID(),
  uuidv7: (at) => uuidv7Layout(at.getTime(), randomUUID()),
};
