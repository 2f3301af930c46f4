import type { ListQuery, Page } from "../db/listing.js";

export type TOTPAlgorithm = "sha1" | "sha256" | "sha512";

export interface TOTPDevice {
  id: number;
  tenantId: string;
  userId: number;
  name: string;
  secretSealed: string;
  secretSecretIndex: number;
  digits: 6 | 8;
  period: number;
  algorithm: TOTPAlgorithm;
  /** Unconfirmed devices (self-enrolment before the first valid code) are not a second factor. */
  confirmed: boolean;
  lastStep: number | null;
  createdAt: Date;
}

export interface StaticDevice {
  id: number;
  tenantId: string;
  userId: number;
  name: string;
  confirmed: boolean;
  /** Backup codes not used yet. */
  unusedCount: number;
  createdAt: Date;
}

export type DeviceField = "name" | "pk";

export interface DeviceFilters {
  name?: string;
  userId?: number;
  /** Only confirmed (true) or only unconfirmed (false) devices; both when absent. */
  confirmed?: boolean;
}

export interface TOTPDeviceStore {
  createTOTPDevice(device: Omit<TOTPDevice, "id" | "lastStep" | "createdAt">, now: Date): Promise<TOTPDevice>;
  findTOTPDevice(tenantId: string, id: number): Promise<TOTPDevice | null>;
  listTOTPDevices(
    tenantId: string,
    filters: DeviceFilters,
    query: ListQuery<DeviceField>,
  ): Promise<Page<TOTPDevice>>;
  /** The user's devices, confirmed ones only unless `includeUnconfirmed`. */
  userTOTPDevices(
    tenantId: string,
    userId: number,
    options?: { includeUnconfirmed?: boolean },
  ): Promise<TOTPDevice[]>;
  renameTOTPDevice(tenantId: string, id: number, name: string): Promise<void>;
  confirmTOTPDevice(tenantId: string, id: number): Promise<void>;
  deleteTOTPDevice(tenantId: string, id: number): Promise<void>;
  /**
   * Records `step` as the device's last accepted step only if it is later than the stored one: one
   * conditional UPDATE, so of concurrent submissions of one code exactly one is accepted.
   */
  acceptTOTPStep(tenantId: string, id: number, step: number): Promise<boolean>;
}

export interface StaticDeviceStore {
  /** Creates a device holding these code HMACs (replacing none: callers delete the old device first). */
  createStaticDevice(
    device: { tenantId: string; userId: number; name: string },
    tokenHMACs: string[],
    now: Date,
  ): Promise<StaticDevice>;
  findStaticDevice(tenantId: string, id: number): Promise<StaticDevice | null>;
  listStaticDevices(
    tenantId: string,
    filters: DeviceFilters,
    query: ListQuery<DeviceField>,
  ): Promise<Page<StaticDevice>>;
  userStaticDevices(tenantId: string, userId: number): Promise<StaticDevice[]>;
  renameStaticDevice(tenantId: string, id: number, name: string): Promise<void>;
  deleteStaticDevice(tenantId: string, id: number): Promise<void>;
  /**
   * Marks one unused code of the user whose HMAC is among `candidates` (one per configured secret)
   * as used; true for the one caller that did. One conditional UPDATE decides under concurrency.
   */
  useStaticToken(tenantId: string, userId: number, candidates: string[], now: Date): Promise<boolean>;
}

/** What a settings flow holds between requests: the TOTP secret being enrolled, or unconfirmed backup codes. */
export type SettingsSecretKind = "totp" | "lookup_secret";

export interface SettingsSecret {
  tenantId: string;
  flowId: string;
  kind: SettingsSecretKind;
  /** Sealed under the server secret (SecretBox), never in clear. */
  secretSealed: string;
  secretSecretIndex: number;
}

export interface SettingsSecretStore {
  /**
   * Stores the flow's secret of `kind` unless it already has one (`replace` overwrites it); returns
   * the stored one, so concurrent first renders of a flow agree on one TOTP secret.
   */
  putSettingsSecret(
    secret: SettingsSecret,
    now: Date,
    options?: { replace?: boolean },
  ): Promise<SettingsSecret>;
  findSettingsSecret(
    tenantId: string,
    flowId: string,
    kind: SettingsSecretKind,
  ): Promise<SettingsSecret | null>;
  /**
   * Deletes the flow's secret of `kind` and returns it; null when there was none. Reading and
   * deleting are one statement, so of concurrent confirmations exactly one gets the secret.
   */
  takeSettingsSecret(
    tenantId: string,
    flowId: string,
    kind: SettingsSecretKind,
  ): Promise<SettingsSecret | null>;
}
