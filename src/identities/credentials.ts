import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import type { Audit } from "../events/service.js";
import type { User } from "../users/store.js";
import { resetSecondFactors } from "../authenticators/service.js";

/** Credential types an identity can show (kratos.md §3.1.1). */
export type CredentialType = "password" | "totp" | "lookup_secret";

export const CREDENTIAL_TYPES: readonly CredentialType[] = ["password", "totp", "lookup_secret"];

/** One credential as the admin API shows it: never its secret or hash. */
export interface IdentityCredential {
  identifiers: string[];
  createdAt: Date;
  updatedAt: Date;
}

/** The credentials an identity has, by type; a missing key means the identity lacks that type. */
export type IdentityCredentials = Partial<Record<CredentialType, IdentityCredential>>;

export type SecondFactorType = "totp" | "lookup_secret";

/**
 * Where second factors come from. The identities service asks it which users have which second
 * factor and has it remove them; the authenticators work provides the stored one below, and
 * `noSecondFactors` stands in wherever none exist.
 */
export interface SecondFactorSource {
  /** The second-factor credentials of each of `users` (only users that have one appear). */
  credentialsOf(stores: Stores, tenantId: string, users: User[]): Promise<Map<number, IdentityCredentials>>;
  /**
   * Removes every credential of `type` of the user, recording `model_deleted` per device, inside
   * the caller's transaction.
   */
  remove(deps: CoreDeps, stores: Stores, audit: Audit, user: User, type: SecondFactorType): Promise<void>;
}

export const noSecondFactors: SecondFactorSource = {
  async credentialsOf() {
    return new Map();
  },
  async remove() {},
};

/**
 * Second factors from the authenticator stores: `totp` when the user has a confirmed TOTP device,
 * `lookup_secret` when they have unused backup codes (kratos.md §3.1.1).
 */
export const storedSecondFactors: SecondFactorSource = {
  async credentialsOf(stores, tenantId, users) {
    const found = new Map<number, IdentityCredentials>();
    for (const user of users) {
      const credentials: IdentityCredentials = {};
      // The device rows' creation time is not part of the device type; the user's last change stands in.
      const dates = { createdAt: user.lastUpdated, updatedAt: user.lastUpdated };
      if ((await stores.totpDevices.userTOTPDevices(tenantId, user.id)).length > 0) {
        credentials.totp = { identifiers: [user.uuid], ...dates };
      }
      const staticDevices = await stores.staticDevices.userStaticDevices(tenantId, user.id);
      if (staticDevices.some((device) => device.unusedCount > 0)) {
        credentials.lookup_secret = { identifiers: [user.uuid], ...dates };
      }
      if (Object.keys(credentials).length > 0) {
        found.set(user.id, credentials);
      }
    }
    return found;
  },
  async remove(deps, stores, audit, user, type) {
    await resetSecondFactors(deps, stores, audit, user, { kinds: [type] });
  },
};

/** Every credential of each of `users`: the password (identifier: the email) and second factors. */
export async function credentialsOfUsers(
  stores: Stores,
  secondFactors: SecondFactorSource,
  tenantId: string,
  users: User[],
): Promise<Map<number, IdentityCredentials>> {
  const passwords = await stores.users.passwordDates(
    tenantId,
    users.map((user) => user.id),
  );
  const others = await secondFactors.credentialsOf(stores, tenantId, users);
  const all = new Map<number, IdentityCredentials>();
  for (const user of users) {
    const credentials: IdentityCredentials = { ...others.get(user.id) };
    const changed = passwords.get(user.id);
    if (changed !== undefined) {
      const identifier = user.email === "" ? user.username : user.email.toLowerCase();
      credentials.password = { identifiers: [identifier], createdAt: changed, updatedAt: changed };
    }
    all.set(user.id, credentials);
  }
  return all;
}
