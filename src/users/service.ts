import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import { ObjectNotFound, ValidationFailed } from "../errors.js";
import { type Audit, groupRef, recordEvent, userRef } from "../events/service.js";
import { checkPasswordPolicy, hashPassword } from "./passwords.js";
import type { Attributes, Group, User, UserType } from "./store.js";

export interface UserInput {
  username: string;
  name: string;
  email: string;
  isActive: boolean;
  lastLogin: Date | null;
  /** Group uuids. */
  groups: string[];
  roles: string[];
  attributes: Attributes;
  path: string;
  type: UserType;
}

export const USER_DEFAULTS: Omit<UserInput, "username" | "name"> = {
  email: "",
  isActive: true,
  lastLogin: null,
  groups: [],
  roles: [],
  attributes: {},
  path: "users",
  type: "internal",
};

// Django's UnicodeUsernameValidator: letters, digits and @ . + - _ in any script.
const USERNAME = /^[\p{L}\p{N}_.@+-]+$/u;
// Close to Django's EmailValidator: a dotted domain (or localhost) and no spaces.
const EMAIL = /^[^\s@]+@([^\s@.]+\.)+[^\s@.]{2,}$|^[^\s@]+@localhost$/;

const USERNAME_TAKEN = "This field must be unique.";

export function isValidEmail(email: string): boolean {
  return EMAIL.test(email) && email.length <= 254;
}

/**
 * Checks every field rule, uniqueness included (checked before writing: on PostgreSQL a failed
 * insert aborts the whole transaction). Returns the integer ids of the named groups.
 */
async function validateUser(
  stores: Stores,
  tenantId: string,
  input: Partial<UserInput>,
  currentId: number | null,
): Promise<number[] | undefined> {
  const errors: Record<string, string[]> = {};
  if (input.username !== undefined) {
    if (!USERNAME.test(input.username)) {
      errors["username"] = [
        "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
      ];
    } else {
      const holder = await stores.users.findUserByUsername(tenantId, input.username);
      if (holder !== null && holder.id !== currentId) {
        errors["username"] = [USERNAME_TAKEN];
      }
    }
  }
  if (input.email !== undefined && input.email !== "" && !isValidEmail(input.email)) {
    errors["email"] = ["Enter a valid email address."];
  }
  if (input.path !== undefined) {
    if (input.path.startsWith("/") || input.path.endsWith("/")) {
      errors["path"] = ["No leading or trailing slashes allowed."];
    } else if (input.path.split("/").some((segment) => segment === "")) {
      errors["path"] = ["No empty segments in user path allowed."];
    }
  }
  if (input.type === "internal_service_account") {
    errors["type"] = ["Setting a user to internal service account is not allowed."];
  }
  if (input.roles !== undefined && input.roles.length > 0) {
    errors["roles"] = [`Invalid pk "${input.roles[0]}" - object does not exist.`];
  }
  let groupIds: number[] | undefined;
  if (input.groups !== undefined) {
    const found = await stores.groups.existingGroups(tenantId, input.groups);
    const missing = input.groups.find((uuid) => !found.some((group) => group.uuid === uuid));
    if (missing !== undefined) {
      errors["groups"] = [`Invalid pk "${missing}" - object does not exist.`];
    }
    groupIds = found.map((group) => group.id);
  }
  if (Object.keys(errors).length > 0) {
    throw new ValidationFailed(errors);
  }
  return groupIds;
}

/**
 * Runs a change that may take superuser rights away, and undoes it when the tenant had a superuser
 * before and none after: no tenant can lock itself out (authentik-v3.md §3.2, Groups).
 */
export async function keepingASuperuser<T>(
  stores: Stores,
  tenantId: string,
  change: () => Promise<T>,
): Promise<T> {
  const before = await stores.users.countSuperusers(tenantId);
  const result = await change();
  if (before > 0 && (await stores.users.countSuperusers(tenantId)) === 0) {
    throw ValidationFailed.field("non_field_errors", "Cannot remove the last superuser.");
  }
  return result;
}

export async function findUserOrThrow(stores: Stores, tenantId: string, id: number): Promise<User> {
  const user = await stores.users.findUser(tenantId, id);
  if (user === null) {
    throw new ObjectNotFound("User");
  }
  return user;
}

export async function createUser(deps: CoreDeps, audit: Audit, input: UserInput): Promise<User> {
  return deps.persistence.transaction(async (stores) => {
    const groupIds = (await validateUser(stores, audit.tenantId, input, null)) ?? [];
    const { groups: _groups, roles: _roles, ...fields } = input;
    const user = await stores.users.createUser(
      audit.tenantId,
      { ...fields, uuid: deps.random.uuid(), groupIds },
      deps.clock.now(),
    );
    if (user === null) {
      throw ValidationFailed.field("username", USERNAME_TAKEN);
    }
    await recordEvent(deps, stores.events, audit, "model_created", { model: userRef(user) });
    return user;
  });
}

export async function updateUser(
  deps: CoreDeps,
  audit: Audit,
  id: number,
  input: Partial<UserInput>,
): Promise<User> {
  return deps.persistence.transaction(async (stores) => {
    await findUserOrThrow(stores, audit.tenantId, id);
    const groupIds = await validateUser(stores, audit.tenantId, input, id);
    const { groups: _groups, roles: _roles, ...fields } = input;
    const user = await keepingASuperuser(stores, audit.tenantId, () =>
      stores.users.updateUser(audit.tenantId, id, { ...fields, groupIds }, deps.clock.now()),
    );
    if (user === null) {
      throw ValidationFailed.field("username", USERNAME_TAKEN);
    }
    await recordEvent(deps, stores.events, audit, "model_updated", { model: userRef(user) });
    return user;
  });
}

export async function deleteUser(deps: CoreDeps, audit: Audit, id: number): Promise<void> {
  await deps.persistence.transaction(async (stores) => {
    const user = await findUserOrThrow(stores, audit.tenantId, id);
    await keepingASuperuser(stores, audit.tenantId, () => stores.users.deleteUser(audit.tenantId, id));
    await recordEvent(deps, stores.events, audit, "model_deleted", { model: userRef(user) });
  });
}

/** Sets a password under the policy of kratos.md §3.6.2; `via` says which path changed it. */
export async function setPassword(
  deps: CoreDeps,
  audit: Audit,
  id: number,
  password: string,
  via: "settings" | "recovery_session" | "identity_import" | "admin",
): Promise<void> {
  const user = await findUserOrThrow(deps.persistence.stores, audit.tenantId, id);
  const violation = checkPasswordPolicy(password, user.email);
  if (violation !== null) {
    throw ValidationFailed.field("password", violation.text);
  }
  // Hash outside the transaction: argon2 takes tens of milliseconds and must not hold a connection.
  const hash = await hashPassword(password);
  await deps.persistence.transaction(async (stores) => {
    await stores.users.setPasswordHash(audit.tenantId, id, hash, deps.clock.now());
    await recordEvent(deps, stores.events, audit, "password_set", { via, target: userRef(user) });
  });
}

const GROUP_NAME_TAKEN = "Group with this name already exists.";

export interface GroupInput {
  name: string;
  isSuperuser: boolean;
  users: number[];
  attributes: Attributes;
  parents: string[];
  roles: string[];
}

export const GROUP_DEFAULTS: Omit<GroupInput, "name"> = {
  isSuperuser: false,
  users: [],
  attributes: {},
  parents: [],
  roles: [],
};

async function validateGroup(
  stores: Stores,
  tenantId: string,
  input: Partial<GroupInput>,
  currentId: number | null,
): Promise<void> {
  const errors: Record<string, string[]> = {};
  if (input.name !== undefined) {
    const holder = await stores.groups.findGroupByName(tenantId, input.name);
    if (holder !== null && holder.id !== currentId) {
      errors["name"] = [GROUP_NAME_TAKEN];
    }
  }
  if (input.parents !== undefined && input.parents.length > 0) {
    errors["parents"] = [`Invalid pk "${input.parents[0]}" - object does not exist.`];
  }
  if (input.roles !== undefined && input.roles.length > 0) {
    errors["roles"] = [`Invalid pk "${input.roles[0]}" - object does not exist.`];
  }
  if (input.users !== undefined) {
    const found = await stores.groups.existingUserIds(tenantId, input.users);
    const missing = input.users.find((id) => !found.includes(id));
    if (missing !== undefined) {
      errors["users"] = [`Invalid pk "${missing}" - object does not exist.`];
    }
  }
  if (Object.keys(errors).length > 0) {
    throw new ValidationFailed(errors);
  }
}

export async function findGroupOrThrow(stores: Stores, tenantId: string, uuid: string): Promise<Group> {
  const group = await stores.groups.findGroup(tenantId, uuid);
  if (group === null) {
    throw new ObjectNotFound("Group");
  }
  return group;
}

export async function createGroup(deps: CoreDeps, audit: Audit, input: GroupInput): Promise<Group> {
  return deps.persistence.transaction(async (stores) => {
    await validateGroup(stores, audit.tenantId, input, null);
    const group = await stores.groups.createGroup(audit.tenantId, {
      uuid: deps.random.uuid(),
      name: input.name,
      isSuperuser: input.isSuperuser,
      attributes: input.attributes,
      userIds: [...new Set(input.users)],
    });
    if (group === null) {
      throw ValidationFailed.field("name", GROUP_NAME_TAKEN);
    }
    await recordEvent(deps, stores.events, audit, "model_created", { model: groupRef(group) });
    return group;
  });
}

export async function updateGroup(
  deps: CoreDeps,
  audit: Audit,
  uuid: string,
  input: Partial<GroupInput>,
): Promise<Group> {
  return deps.persistence.transaction(async (stores) => {
    const current = await findGroupOrThrow(stores, audit.tenantId, uuid);
    await validateGroup(stores, audit.tenantId, input, current.id);
    const group = await keepingASuperuser(stores, audit.tenantId, () =>
      stores.groups.updateGroup(audit.tenantId, uuid, {
        name: input.name,
        isSuperuser: input.isSuperuser,
        attributes: input.attributes,
        userIds: input.users === undefined ? undefined : [...new Set(input.users)],
      }),
    );
    if (group === null) {
      throw ValidationFailed.field("name", GROUP_NAME_TAKEN);
    }
    await recordEvent(deps, stores.events, audit, "model_updated", { model: groupRef(group) });
    return group;
  });
}

export async function deleteGroup(deps: CoreDeps, audit: Audit, uuid: string): Promise<void> {
  await deps.persistence.transaction(async (stores) => {
    const group = await findGroupOrThrow(stores, audit.tenantId, uuid);
    await keepingASuperuser(stores, audit.tenantId, () => stores.groups.deleteGroup(audit.tenantId, uuid));
    await recordEvent(deps, stores.events, audit, "model_deleted", { model: groupRef(group) });
  });
}

/** Adds or removes one member; an unknown user is a field error on `pk`, as upstream. */
export async function changeMembership(
  deps: CoreDeps,
  audit: Audit,
  uuid: string,
  userId: number,
  change: "add" | "remove",
): Promise<void> {
  await deps.persistence.transaction(async (stores) => {
    const group = await findGroupOrThrow(stores, audit.tenantId, uuid);
    if ((await stores.groups.existingUserIds(audit.tenantId, [userId])).length === 0) {
      throw ValidationFailed.field("pk", `Invalid pk "${userId}" - object does not exist.`);
    }
    if (change === "add") {
      await stores.groups.addMember(group.id, userId);
    } else {
      await keepingASuperuser(stores, audit.tenantId, () => stores.groups.removeMember(group.id, userId));
    }
    await recordEvent(deps, stores.events, audit, "model_updated", { model: groupRef(group) });
  });
}
