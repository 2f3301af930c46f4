import type { CoreDeps } from "../deps.js";
import type { Audit } from "../events/service.js";
import { recordEvent } from "../events/service.js";
import type { FlowMessage } from "../selfservice/store.js";
import type { User } from "../users/store.js";
import {
  generateBackupCodes,
  LOW_BACKUP_CODES,
  replaceBackupCodes,
  resetSecondFactors,
  totpRef,
} from "./service.js";
import type { SettingsSecretKind } from "./store.js";
import { createTOTPKeyURI, encodeBase32, matchingStep } from "./totp.js";

/**
 * The second factors in the Kratos settings flow (kratos.md §3.6; upstream
 * `selfservice/strategy/{totp,lookup}/settings.go`): enrol an authenticator app with a secret the flow
 * holds until its first code, unlink it, and generate backup codes that are shown in the flow and
 * saved only when confirmed. What the flow holds is sealed under the server secret.
 */

/** Enrolment through the settings flow uses the defaults every authenticator app understands. */
const SETTINGS_TOTP = { digits: 6, period: 30, algorithm: "sha1" } as const;

/** What the flow's second-factor part shows. */
export interface MFASettingsView {
  /** The TOTP secret being enrolled (with its otpauth URI); null when the user has a device already. */
  enrolment: { secretBase32: string; uri: string } | null;
  totpLinked: boolean;
  /** Unused codes of the user's backup-code sets; null when the user has none. */
  backupCodesLeft: number | null;
  /** Backup codes generated in this flow and not confirmed yet. */
  pendingCodes: string[] | null;
}

export type MFASettingsResult =
  | { kind: "saved"; method: "totp" | "lookup_secret" }
  | { kind: "shown"; messages: FlowMessage[] }
  | { kind: "refused"; message: FlowMessage };

type SecretDeps = Pick<CoreDeps, "persistence" | "totpSecrets" | "clock">;

async function openSecret(
  deps: SecretDeps,
  flow: { tenantId: string; id: string },
  kind: SettingsSecretKind,
): Promise<string | null> {
  const stored = await deps.persistence.stores.settingsSecrets.findSettingsSecret(
    flow.tenantId,
    flow.id,
    kind,
  );
  return stored === null ? null : deps.totpSecrets.open(stored.secretSealed, stored.secretSecretIndex);
}

async function putSecret(
  deps: SecretDeps,
  flow: { tenantId: string; id: string },
  kind: SettingsSecretKind,
  plaintext: string,
  options?: { replace?: boolean },
): Promise<string> {
  const sealed = deps.totpSecrets.seal(plaintext);
  const stored = await deps.persistence.stores.settingsSecrets.putSettingsSecret(
    {
      tenantId: flow.tenantId,
      flowId: flow.id,
      kind,
      secretSealed: sealed.sealed,
      secretSecretIndex: sealed.secretIndex,
    },
    deps.clock.now(),
    options,
  );
  return deps.totpSecrets.open(stored.secretSealed, stored.secretSecretIndex) ?? plaintext;
}

/**
 * The flow's TOTP secret: the one it holds, else a fresh 20-byte secret stored with it. Concurrent
 * first renders agree, as the store keeps the first secret written.
 */
async function enrolmentSecret(
  deps: SecretDeps & Pick<CoreDeps, "random">,
  flow: { tenantId: string; id: string },
): Promise<Uint8Array> {
  const held = await openSecret(deps, flow, "totp");
  if (held !== null) {
    return Buffer.from(held, "base64");
  }
  const fresh = Buffer.from(deps.random.bytes(20)).toString("base64");
  return Buffer.from(await putSecret(deps, flow, "totp", fresh, { replace: true }), "base64");
}

/** Everything the settings form needs to show the user's second factors. */
export async function mfaSettingsView(
  deps: CoreDeps,
  flow: { tenantId: string; id: string },
  user: User,
): Promise<MFASettingsView> {
  const stores = deps.persistence.stores;
  const devices = await stores.totpDevices.userTOTPDevices(user.tenantId, user.id);
  let enrolment: MFASettingsView["enrolment"] = null;
  if (devices.length === 0) {
    const secret = await enrolmentSecret(deps, flow);
    const uri = createTOTPKeyURI({
      issuer: deps.config.brandTitle,
      account: user.username,
      secret,
      ...SETTINGS_TOTP,
    });
    enrolment = { secretBase32: encodeBase32(secret), uri };
  }
  const sets = await stores.staticDevices.userStaticDevices(user.tenantId, user.id);
  const pending = await openSecret(deps, flow, "lookup_secret");
  return {
    enrolment,
    totpLinked: devices.length > 0,
    backupCodesLeft: sets.length === 0 ? null : sets.reduce((sum, set) => sum + set.unusedCount, 0),
    pendingCodes: pending === null ? null : (JSON.parse(pending) as string[]),
  };
}

/** True when the user is down to LOW_BACKUP_CODES unused backup codes or fewer (and has a set). */
export function isLowOnBackupCodes(left: number | null): boolean {
  return left !== null && left <= LOW_BACKUP_CODES;
}

/**
 * `method: "totp"`: `totp_unlink` removes the user's authenticator apps; otherwise `totp_code` must
 * be a valid code of the flow's secret, which then becomes a confirmed device. The secret is taken
 * from the flow in the same transaction, and the code's step is stored as used, so neither the
 * enrolment nor its code can be replayed (a login with the same code fails).
 */
export async function updateTOTPSetting(
  deps: CoreDeps,
  audit: Audit,
  user: User,
  flow: { tenantId: string; id: string },
  input: { code: string; unlink: boolean },
  messages: { missingCode: FlowMessage; invalidCode: FlowMessage; noStrategy: FlowMessage },
): Promise<MFASettingsResult> {
  const stores = deps.persistence.stores;
  const linked = (await stores.totpDevices.userTOTPDevices(user.tenantId, user.id)).length > 0;
  if (input.unlink) {
    if (!linked) return { kind: "refused", message: messages.noStrategy };
    await deps.persistence.transaction(async (tx) => {
      await resetSecondFactors(deps, tx, audit, user, { kinds: ["totp"], keepSessions: true });
    });
    return { kind: "saved", method: "totp" };
  }
  if (linked) return { kind: "refused", message: messages.noStrategy };
  const code = input.code.trim();
  if (code === "") return { kind: "refused", message: messages.missingCode };
  const held = await openSecret(deps, flow, "totp");
  const secret = held === null ? null : Buffer.from(held, "base64");
  const step = secret === null ? null : matchingStep(SETTINGS_TOTP, secret, code, deps.clock.now());
  if (secret === null || step === null) return { kind: "refused", message: messages.invalidCode };
  const enrolled = await deps.persistence.transaction(async (tx) => {
    if ((await tx.settingsSecrets.takeSettingsSecret(flow.tenantId, flow.id, "totp")) === null) {
      return false; // a concurrent submission of this flow enrolled it
    }
    const sealed = deps.totpSecrets.seal(secret.toString("base64"));
    const device = await tx.totpDevices.createTOTPDevice(
      {
        tenantId: user.tenantId,
        userId: user.id,
        name: "Authenticator app",
        secretSealed: sealed.sealed,
        secretSecretIndex: sealed.secretIndex,
        ...SETTINGS_TOTP,
        confirmed: true,
      },
      deps.clock.now(),
    );
    await tx.totpDevices.acceptTOTPStep(user.tenantId, device.id, step);
    await recordEvent(deps, tx.events, audit, "model_created", { model: totpRef(device) });
    return true;
  });
  return enrolled ? { kind: "saved", method: "totp" } : { kind: "refused", message: messages.invalidCode };
}

export interface LookupInput {
  regenerate: boolean;
  reveal: boolean;
  confirm: boolean;
  disable: boolean;
}

/**
 * `method: "lookup_secret"`: `regenerate` puts new codes in the flow (shown, not saved);
 * `confirm` saves them, replacing the earlier set, and removes them from the flow; `disable`
 * removes the user's codes; `reveal` cannot show stored codes (only their HMACs are kept), so it
 * says so.
 */
export async function updateLookupSetting(
  deps: CoreDeps,
  audit: Audit,
  user: User,
  flow: { tenantId: string; id: string },
  input: LookupInput,
  messages: { noStrategy: FlowMessage; notRevealable: FlowMessage; nothingToConfirm: FlowMessage },
): Promise<MFASettingsResult> {
  const stores = deps.persistence.stores;
  if (input.confirm) {
    const saved = await deps.persistence.transaction(async (tx) => {
      const taken = await tx.settingsSecrets.takeSettingsSecret(flow.tenantId, flow.id, "lookup_secret");
      const opened =
        taken === null ? null : deps.totpSecrets.open(taken.secretSealed, taken.secretSecretIndex);
      if (opened === null) return false;
      await replaceBackupCodes(deps, tx, audit, user, JSON.parse(opened) as string[]);
      return true;
    });
    return saved
      ? { kind: "saved", method: "lookup_secret" }
      : { kind: "refused", message: messages.nothingToConfirm };
  }
  if (input.regenerate) {
    await putSecret(deps, flow, "lookup_secret", JSON.stringify(generateBackupCodes(deps)), {
      replace: true,
    });
    return { kind: "shown", messages: [] };
  }
  if (input.disable) {
    if ((await stores.staticDevices.userStaticDevices(user.tenantId, user.id)).length === 0) {
      return { kind: "refused", message: messages.noStrategy };
    }
    await deps.persistence.transaction(async (tx) => {
      await resetSecondFactors(deps, tx, audit, user, { kinds: ["lookup_secret"], keepSessions: true });
      await tx.settingsSecrets.takeSettingsSecret(flow.tenantId, flow.id, "lookup_secret");
    });
    return { kind: "saved", method: "lookup_secret" };
  }
  if (input.reveal) {
    return { kind: "shown", messages: [messages.notRevealable] };
  }
  return { kind: "refused", message: messages.noStrategy };
}
