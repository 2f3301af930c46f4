import { Secret, TOTP } from "otpauth";
import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import type { TOTPAlgorithm, TOTPDevice } from "./store.js";

/**
 * otpauth's Secret over an exact copy of the bytes. A Node Buffer may be a view into a shared pool,
 * so its `.buffer` can hold far more than the secret: always copy.
 */
function otpSecret(bytes: Uint8Array): Secret {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return new Secret({ buffer: copy.buffer });
}

const ALGORITHM_NAME: Record<TOTPAlgorithm, string> = { sha1: "SHA1", sha256: "SHA256", sha512: "SHA512" };

/** Decodes a base32 secret (case-insensitive, `=` padding and spaces optional); null unless 10–64 bytes. */
export function decodeBase32Secret(text: string): Uint8Array | null {
  const cleaned = text.replace(/[\s=]/g, "").toUpperCase();
  if (cleaned === "" || !/^[A-Z2-7]+$/.test(cleaned)) {
    return null;
  }
  try {
    const bytes = Secret.fromBase32(cleaned).bytes;
    return bytes.length >= 10 && bytes.length <= 64 ? bytes : null;
  } catch {
    return null;
  }
}

export function encodeBase32(bytes: Uint8Array): string {
  return otpSecret(bytes).base32.replace(/=+$/, "");
}

/**
 * `otpauth://totp/<issuer>:<account>?secret=…&algorithm=…&digits=…&period=…&issuer=…` with the
 * label and issuer URL-encoded (authentik-v3.md §3.5).
 */
export function createTOTPKeyURI(input: {
  issuer: string;
  account: string;
  secret: Uint8Array;
  algorithm: TOTPAlgorithm;
  digits: number;
  period: number;
}): string {
  const label = encodeURIComponent(`${input.issuer}:${input.account}`);
  const query = [
    `secret=${encodeBase32(input.secret)}`,
    `algorithm=${ALGORITHM_NAME[input.algorithm]}`,
    `digits=${input.digits}`,
    `period=${input.period}`,
    `issuer=${encodeURIComponent(input.issuer)}`,
  ].join("&");
  return `otpauth://totp/${label}?${query}`;
}

/**
 * The time step a code belongs to, if it is valid for this secret at `now` one step either side
 * (RFC 6238 §5.2); null otherwise. Pure: the clock is the caller's.
 */
export function matchingStep(
  device: Pick<TOTPDevice, "digits" | "period" | "algorithm">,
  secret: Uint8Array,
  code: string,
  now: Date,
): number | null {
  if (!new RegExp(`^\\d{${device.digits}}$`).test(code)) {
    return null;
  }
  const delta = TOTP.validate({
    token: code,
    secret: otpSecret(secret),
    algorithm: ALGORITHM_NAME[device.algorithm],
    digits: device.digits,
    period: device.period,
    timestamp: now.getTime(),
    window: 1,
  });
  return delta === null ? null : Math.floor(now.getTime() / 1000 / device.period) + delta;
}

/** The code of a secret at an instant (enrolment pages show none; tests and benches compute codes with it). */
export function totpCodeAt(
  device: Pick<TOTPDevice, "digits" | "period" | "algorithm">,
  secret: Uint8Array,
  at: Date,
): string {
  return TOTP.generate({
    secret: otpSecret(secret),
    algorithm: ALGORITHM_NAME[device.algorithm],
    digits: device.digits,
    period: device.period,
    timestamp: at.getTime(),
  });
}

/**
 * Checks a code against the user's confirmed TOTP devices (or one unconfirmed device being enrolled)
 * and accepts it at most once: the step is stored by a conditional UPDATE, so a code whose step is
 * not later than the last accepted one fails, even when submitted concurrently.
 */
export async function acceptTOTPCode(
  deps: Pick<CoreDeps, "clock" | "totpSecrets">,
  stores: Stores,
  devices: TOTPDevice[],
  code: string,
): Promise<TOTPDevice | null> {
  const now = deps.clock.now();
  for (const device of devices) {
    const secret = deps.totpSecrets.open(device.secretSealed, device.secretSecretIndex);
    if (secret === null) continue;
    const step = matchingStep(device, Buffer.from(secret, "base64"), code.trim(), now);
    if (step !== null && (device.lastStep === null || step > device.lastStep)) {
      if (await stores.totpDevices.acceptTOTPStep(device.tenantId, device.id, step)) {
        return device;
      }
    }
  }
  return null;
}
