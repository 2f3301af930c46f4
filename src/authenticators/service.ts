import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import { type Audit, recordEvent } from "../events/service.js";
import type { ModelRef } from "../events/store.js";
import type { SessionWithIdentity } from "../sessions/store.js";
import type { User } from "../users/store.js";
import type { StaticDevice, TOTPAlgorithm, TOTPDevice } from "./store.js";
import { acceptTOTPCode, createTOTPKeyURI } from "./totp.js";

export const BACKUP_CODE_COUNT = 10;
/** Lower-case letters and digits without look-alikes (0/o, 1/l/i): 31 symbols, 12 of them ≈ 59 bits. */
const BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";
const BACKUP_LENGTH = 12;
/** The pages warn when a user is down to this many unused backup codes. */
export const LOW_BACKUP_CODES = 2;

export function totpRef(device: Pick<TOTPDevice, "id" | "name">): ModelRef {
  return {
    app: "authentik_stages_authenticator_totp",
    model_name: "totpdevice",
    pk: device.id,
    name: device.name,
  };
}

export function staticRef(device: Pick<StaticDevice, "id" | "name">): ModelRef {
  return {
    app: "authentik_stages_authenticator_static",
    model_name: "staticdevice",
    pk: device.id,
    name: device.name,
  };
}

export interface NewTOTPDevice {
  user: User;
  name: string;
  digits: 6 | 8;
  period: number;
  algorithm: TOTPAlgorithm;
  /** An imported secret; a fresh 20-byte secret when absent. */
  secret: Uint8Array | null;
  /** Admin-created devices count at once; self-enrolled ones after their first valid code. */
  confirmed: boolean;
}

/** Creates a device with its secret sealed under the server secret; returns its otpauth URI once. */
export async function createTOTPDevice(
  deps: CoreDeps,
  audit: Audit,
  input: NewTOTPDevice,
): Promise<{ device: TOTPDevice; configURL: string }> {
  const secret = input.secret ?? deps.random.bytes(20);
  const sealed = deps.totpSecrets.seal(Buffer.from(secret).toString("base64"));
  return deps.persistence.transaction(async (stores) => {
    const device = await stores.totpDevices.createTOTPDevice(
      {
        tenantId: audit.tenantId,
        userId: input.user.id,
        name: input.name,
        secretSealed: sealed.sealed,
        secretSecretIndex: sealed.secretIndex,
        digits: input.digits,
        period: input.period,
        algorithm: input.algorithm,
        confirmed: input.confirmed,
      },
      deps.clock.now(),
    );
    await recordEvent(deps, stores.events, audit, "model_created", { model: totpRef(device) });
    const configURL = createTOTPKeyURI({
      issuer: deps.config.brandTitle,
      account: input.user.username,
      secret,
      algorithm: input.algorithm,
      digits: input.digits,
      period: input.period,
    });
    return { device, configURL };
  });
}

/** Confirms a self-enrolled device with its first valid code; false for a wrong (or replayed) code. */
export async function confirmTOTPDevice(
  deps: CoreDeps,
  audit: Audit,
  device: TOTPDevice,
  code: string,
): Promise<boolean> {
  return deps.persistence.transaction(async (stores) => {
    if ((await acceptTOTPCode(deps, stores, [device], code)) === null) {
      return false;
    }
    await stores.totpDevices.confirmTOTPDevice(device.tenantId, device.id);
    await recordEvent(deps, stores.events, audit, "model_updated", { model: totpRef(device) });
    return true;
  });
}

function generateBackupCode(deps: Pick<CoreDeps, "random">): string {
  return deps.random.string(BACKUP_LENGTH, BACKUP_ALPHABET);
}

/** What a user types: case, spaces and hyphens do not matter. */
export function normaliseBackupCode(text: string): string {
  return text.toLowerCase().replace(/[\s-]/g, "");
}

/** A fresh set of BACKUP_CODE_COUNT codes, in clear: to be shown once and stored only as HMACs. */
export function generateBackupCodes(deps: Pick<CoreDeps, "random">): string[] {
  return Array.from({ length: BACKUP_CODE_COUNT }, () => generateBackupCode(deps));
}

/**
 * Replaces the user's backup codes with `codes` (stored as HMACs) through `stores`, the caller's
 * transaction: every earlier set is deleted (`model_deleted`), the new one recorded (`model_created`).
 */
export async function replaceBackupCodes(
  deps: Pick<CoreDeps, "clock" | "backupCodeHMAC" | "random">,
  stores: Stores,
  audit: Audit,
  user: User,
  codes: readonly string[],
  options?: { name?: string },
): Promise<StaticDevice> {
  for (const old of await stores.staticDevices.userStaticDevices(audit.tenantId, user.id)) {
    await stores.staticDevices.deleteStaticDevice(audit.tenantId, old.id);
    await recordEvent(deps, stores.events, audit, "model_deleted", { model: staticRef(old) });
  }
  const device = await stores.staticDevices.createStaticDevice(
    { tenantId: audit.tenantId, userId: user.id, name: options?.name ?? "Backup codes" },
    codes.map((code) => deps.backupCodeHMAC.digest(code)),
    deps.clock.now(),
  );
  await recordEvent(deps, stores.events, audit, "model_created", { model: staticRef(device) });
  return device;
}

/**
 * Issues a fresh set of backup codes (replacing any earlier set), stored as HMACs. The codes are
 * returned once, to be shown once.
 */
export async function regenerateBackupCodes(
  deps: CoreDeps,
  audit: Audit,
  user: User,
  options?: { name?: string },
): Promise<{ device: StaticDevice; codes: string[] }> {
  const codes = generateBackupCodes(deps);
  return deps.persistence.transaction(async (stores) => {
    const device = await replaceBackupCodes(deps, stores, audit, user, codes, options);
    return { device, codes };
  });
}

/** Uses one backup code of the user; true once per code, whatever the concurrency. */
export async function useBackupCode(
  deps: Pick<CoreDeps, "clock" | "backupCodeHMAC">,
  stores: Stores,
  user: User,
  code: string,
): Promise<boolean> {
  const normalised = normaliseBackupCode(code);
  if (normalised.length !== BACKUP_LENGTH) {
    return false;
  }
  return stores.staticDevices.useStaticToken(
    user.tenantId,
    user.id,
    deps.backupCodeHMAC.candidates(normalised),
    deps.clock.now(),
  );
}

export interface SecondFactors {
  totp: TOTPDevice[];
  backupCodes: StaticDevice[];
}

/** The user's second factors: confirmed TOTP devices and backup-code sets with unused codes. */
export async function secondFactorsOf(
  stores: Stores,
  tenantId: string,
  userId: number,
): Promise<SecondFactors> {
  const totp = await stores.totpDevices.userTOTPDevices(tenantId, userId);
  const backupCodes = (await stores.staticDevices.userStaticDevices(tenantId, userId)).filter(
    (device) => device.unusedCount > 0,
  );
  return { totp, backupCodes };
}

export function hasAnyFactor(factors: SecondFactors): boolean {
  return factors.totp.length > 0 || factors.backupCodes.length > 0;
}

/**
 * Whether a session may set up or replace its user's second factors: always at aal2; at aal1 only
 * while the user has none. Otherwise whoever learned the password (or read the mailbox) could add
 * their own authenticator app or codes and lock the owner's factors out of the way. A recovery
 * that reset the factors leaves none, so the recovered user can enrol again at once.
 */
export function mayChangeSecondFactors(signedIn: Pick<SessionWithIdentity, "needsSecondFactor">): boolean {
  // needsSecondFactor, read with the session: aal1 while a confirmed TOTP device or an unused backup
  // code exists, never at aal2.
  return !signedIn.needsSecondFactor;
}

/** Checks a second-factor code: a TOTP code first, else a backup code. Returns the method that accepted it. */
export async function verifySecondFactor(
  deps: CoreDeps,
  stores: Stores,
  user: User,
  code: string,
): Promise<"totp" | "lookup_secret" | null> {
  const devices = await stores.totpDevices.userTOTPDevices(user.tenantId, user.id);
  if ((await acceptTOTPCode(deps, stores, devices, code)) !== null) {
    return "totp";
  }
  return (await useBackupCode(deps, stores, user, code)) ? "lookup_secret" : null;
}

/**
 * Removes every second factor of the user (`model_deleted` each) and, unless told otherwise, revokes
 * their sessions: an MFA reset must also end sessions opened with the old factors.
 */
export async function resetSecondFactors(
  deps: CoreDeps,
  stores: Stores,
  audit: Audit,
  user: User,
  options?: { kinds?: ("totp" | "lookup_secret")[]; keepSessions?: boolean },
): Promise<number> {
  const kinds = options?.kinds ?? ["totp", "lookup_secret"];
  let removed = 0;
  if (kinds.includes("totp")) {
    for (const device of await stores.totpDevices.userTOTPDevices(user.tenantId, user.id, {
      includeUnconfirmed: true,
    })) {
      await stores.totpDevices.deleteTOTPDevice(user.tenantId, device.id);
      await recordEvent(deps, stores.events, audit, "model_deleted", { model: totpRef(device) });
      removed++;
    }
  }
  if (kinds.includes("lookup_secret")) {
    for (const device of await stores.staticDevices.userStaticDevices(user.tenantId, user.id)) {
      await stores.staticDevices.deleteStaticDevice(user.tenantId, device.id);
      await recordEvent(deps, stores.events, audit, "model_deleted", { model: staticRef(device) });
      removed++;
    }
  }
  if (removed > 0 && options?.keepSessions !== true) {
    await stores.sessions.revokeUserSessions(user.tenantId, user.id, deps.clock.now());
  }
  return removed;
}
