import { randomBytes, randomInt, randomUUID } from "node:crypto";

/** The only place that draws real randomness; services receive a RandomSource. */
export interface RandomSource {
  /** `length` bytes from a CSPRNG. */
  bytes(length: number): Buffer;
  /** A uniformly drawn string of `length` characters from `alphabet`. */
  string(length: number, alphabet: string): string;
  /** A random version-4 UUID, lower case. */
  uuid(): string;
}

export const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export const cryptoRandom: RandomSource = {
  bytes: (length) => randomBytes(length),
  string(length, alphabet) {
    // randomInt draws without modulo bias, so every character is equally likely.
    let out = "";
    for (let i = 0; i < length; i++) {
      out += alphabet[randomInt(alphabet.length)];
    }
    return out;
  },
  uuid: () => randomUUID(),
};
