import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import { type Audit, recordEvent, userRef } from "../events/service.js";
import { hashPassword } from "../users/passwords.js";
import { deleteUser, keepingASuperuser } from "../users/service.js";
import type { User, UserChanges, UserProfile } from "../users/store.js";
import { credentialsOfUsers, type IdentityCredentials, type SecondFactorSource } from "./credentials.js";
import { CredentialNotFound, IdentityConflict, LastFirstFactor } from "./errors.js";

/**
 * Kratos identities are Rekey users (kratos.md §2.2): identity id = user uuid, traits = email and
 * name, state = is_active. These rules hold whichever API changes a user; wire texts stay at the edge.
 */

/**
 * An identity's traits as Kratos shows them (kratos.md §2.2): the user's email and name, each only
 * when set. The one mapping from a Rekey user to traits, for the API and the mail template data alike.
 */
export function traitsOf(user: Pick<UserProfile, "email" | "name">): { email?: string; name?: string } {
  const traits: { email?: string; name?: string } = {};
  if (user.email !== "") traits.email = user.email;
  if (user.name !== "") traits.name = user.name;
  return traits;
}

export interface NewIdentity {
  /** Already validated against the `default` schema. */
  email: string;
  name: string;
  isActive: boolean;
  /** A plain password to hash (no policy check: an import keeps what it is given). */
  password: string | null;
  metadataPublic: unknown;
  metadataAdmin: unknown;
}

/** What a PATCH may change; undefined leaves a field alone. */
export interface IdentityChanges {
  email?: string;
  name?: string;
  isActive?: boolean;
  /** The verification flag of the (only) verifiable address. */
  verified?: boolean;
  metadataPublic?: unknown;
  metadataAdmin?: unknown;
}

export type IdentityListQuery =
  | { kind: "page"; after: string; limit: number }
  | { kind: "ids"; uuids: string[] }
  | { kind: "identifier"; identifier: string };

/** True when a user other than `exceptId` has `value` as email or username, ignoring case. */
async function isTaken(
  stores: Stores,
  tenantId: string,
  value: string,
  exceptId: number | null,
): Promise<boolean> {
  const holders = await stores.users.findUsersByIdentifier(tenantId, value);
  return holders.some((holder) => holder.id !== exceptId);
}

export function findIdentity(stores: Stores, tenantId: string, uuid: string): Promise<User | null> {
  return stores.users.findUserByUUID(tenantId, uuid);
}

/** Creates the user (username = email, type internal, path users); events `model_created`, `password_set`. */
export async function createIdentity(deps: CoreDeps, audit: Audit, input: NewIdentity): Promise<User> {
  // Hash outside the transaction: argon2 takes tens of milliseconds and must not hold a connection.
  const hash = input.password === null ? null : await hashPassword(input.password);
  return deps.persistence.transaction(async (stores) => {
    // Checked before writing (on PostgreSQL a failed insert would abort the whole transaction),
    // under a lock on the address so that two requests for one email cannot both pass the check.
    await stores.users.lockIdentifier(audit.tenantId, input.email);
    if (await isTaken(stores, audit.tenantId, input.email, null)) {
      throw new IdentityConflict("create");
    }
    const now = deps.clock.now();
    const user = await stores.users.createUser(
      audit.tenantId,
      {
        uuid: deps.random.uuid(),
        username: input.email,
        name: input.name,
        email: input.email,
        isActive: input.isActive,
        lastLogin: null,
        attributes: {},
        path: "users",
        type: "internal",
        groupIds: [],
        metadataPublic: input.metadataPublic,
        metadataAdmin: input.metadataAdmin,
      },
      now,
    );
    if (user === null) {
      throw new IdentityConflict("create"); // the username was taken between the check and the insert
    }
    await recordEvent(deps, stores.events, audit, "model_created", { model: userRef(user) });
    if (hash === null) {
      return user;
    }
    await stores.users.setPasswordHash(audit.tenantId, user.id, hash, now);
    await recordEvent(deps, stores.events, audit, "password_set", {
      via: "identity_import",
      target: userRef(user),
    });
    return (await stores.users.findUser(audit.tenantId, user.id)) ?? user;
  });
}

/** One page of identities, ordered by uuid; `hasMore` when a next page exists. */
export async function listIdentities(
  deps: CoreDeps,
  tenantId: string,
  query: IdentityListQuery,
): Promise<{ users: User[]; hasMore: boolean }> {
  const users = deps.persistence.stores.users;
  switch (query.kind) {
    case "page": {
      const rows = await users.listUsersByUUID(tenantId, { after: query.after, limit: query.limit + 1 });
      return { users: rows.slice(0, query.limit), hasMore: rows.length > query.limit };
    }
    case "ids":
      return {
        users: await users.listUsersByUUID(tenantId, {
          after: "",
          limit: query.uuids.length,
          uuids: query.uuids,
        }),
        hasMore: false,
      };
    case "identifier": {
      // No address holds NUL (PostgreSQL text cannot), and asking PostgreSQL for one is an error.
      if (query.identifier.includes("\u0000")) return { users: [], hasMore: false };
      const lower = query.identifier.toLowerCase();
      const found = (await users.findUsersByEmail(tenantId, query.identifier)).filter(
        (user) => user.email.toLowerCase() === lower,
      );
      return { users: found.sort((a, b) => (a.uuid < b.uuid ? -1 : 1)), hasMore: false };
    }
  }
}

/** The credentials of each user (password and second factors), never their secrets. */
export function identityCredentials(
  deps: CoreDeps,
  secondFactors: SecondFactorSource,
  tenantId: string,
  users: User[],
): Promise<Map<number, IdentityCredentials>> {
  return credentialsOfUsers(deps.persistence.stores, secondFactors, tenantId, users);
}

/** The user changes that `changes` make to `user`, verification and state dates included. */
function userChangesOf(user: User, changes: IdentityChanges, now: Date): UserChanges {
  const out: UserChanges = {};
  if (changes.name !== undefined && changes.name !== user.name) out.name = changes.name;
  if (changes.metadataPublic !== undefined) out.metadataPublic = changes.metadataPublic;
  if (changes.metadataAdmin !== undefined) out.metadataAdmin = changes.metadataAdmin;
  if (changes.isActive !== undefined && changes.isActive !== user.isActive) {
    out.isActive = changes.isActive;
    out.stateChangedAt = now;
  }
  const emailChanged =
    changes.email !== undefined && changes.email.toLowerCase() !== user.email.toLowerCase();
  if (changes.email !== undefined && changes.email !== user.email) {
    out.email = changes.email;
    // The username follows the email while it is the email (identities created here).
    if (user.username.toLowerCase() === user.email.toLowerCase()) out.username = changes.email;
  }
  if (emailChanged) {
    out.emailVerified = false; // a new address starts pending, whatever the patch said about the old one
    out.emailVerifiedAt = null;
  } else if (changes.verified === true && !user.emailVerified) {
    out.emailVerified = true;
    out.emailVerifiedAt = now;
  } else if (changes.verified === false && user.emailVerified) {
    out.emailVerified = false;
    out.emailVerifiedAt = null;
  }
  return out;
}

/** Applies a PATCH's changes; event `model_updated`. The last active superuser cannot be deactivated. */
export async function updateIdentity(
  deps: CoreDeps,
  audit: Audit,
  user: User,
  changes: IdentityChanges,
): Promise<User> {
  return deps.persistence.transaction(async (stores) => {
    const set = userChangesOf(user, changes, deps.clock.now());
    for (const value of [set.email, set.username]) {
      if (value === undefined) continue;
      await stores.users.lockIdentifier(audit.tenantId, value);
      if (await isTaken(stores, audit.tenantId, value, user.id)) {
        throw new IdentityConflict("update");
      }
    }
    const updated = await keepingASuperuser(stores, audit.tenantId, () =>
      stores.users.updateUser(audit.tenantId, user.id, set, deps.clock.now()),
    );
    if (updated === null) {
      throw new IdentityConflict("update");
    }
    await recordEvent(deps, stores.events, audit, "model_updated", { model: userRef(updated) });
    return updated;
  });
}

/** Deletes the user with everything they own (cascade); event `model_deleted`. */
export async function deleteIdentity(deps: CoreDeps, audit: Audit, user: User): Promise<void> {
  await deleteUser(deps, audit, user.id);
}

/**
 * `DELETE /admin/identities/{id}/credentials/{type}` (kratos.md §3.1.6): second factors are removed;
 * the password, the only first factor in Rekey, never is (with or without one); any other type the
 * identity lacks, unknown types included, is CredentialNotFound.
 */
export async function removeCredential(
  deps: CoreDeps,
  secondFactors: SecondFactorSource,
  audit: Audit,
  user: User,
  type: string,
): Promise<void> {
  if (type === "password") {
    throw new LastFirstFactor();
  }
  await deps.persistence.transaction(async (stores) => {
    const credentials =
      (await credentialsOfUsers(stores, secondFactors, audit.tenantId, [user])).get(user.id) ?? {};
    if (!Object.hasOwn(credentials, type)) {
      throw new CredentialNotFound(type);
    }
    await secondFactors.remove(deps, stores, audit, user, type as "totp" | "lookup_secret");
  });
}
