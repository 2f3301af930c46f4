import type { ListQuery, Page } from "../db/listing.js";

export type UserType = "internal" | "external" | "service_account" | "internal_service_account";
export type Attributes = Record<string, unknown>;

export interface GroupSummary {
  id: number;
  uuid: string;
  name: string;
  isSuperuser: boolean;
  attributes: Attributes;
}

export interface User {
  id: number;
  tenantId: string;
  uuid: string;
  username: string;
  name: string;
  email: string;
  emailVerified: boolean;
  isActive: boolean;
  lastLogin: Date | null;
  dateJoined: Date;
  passwordChangeDate: Date;
  lastUpdated: Date;
  attributes: Attributes;
  path: string;
  type: UserType;
  /** The user's groups, ordered by name. */
  groups: GroupSummary[];
  /** Kratos identity fields (kratos.md §3.1.1). When `state` last changed; null: never (use `dateJoined`). */
  stateChangedAt: Date | null;
  /** When the email was verified; null when unverified or unknown. */
  emailVerifiedAt: Date | null;
  /** Kratos' `metadata_public` / `metadata_admin`: any JSON, stored verbatim; null when unset. */
  metadataPublic: unknown;
  metadataAdmin: unknown;
}

/** A user without its groups: what callers that only need who the user is read, in one query. */
export type UserProfile = Omit<User, "groups">;

export interface SignInUser {
  user: UserProfile;
  passwordHash: string | null;
}

/** A user is a superuser when any of their groups is (authentik-v3.md §2.3). */
export function isSuperuser(user: Pick<User, "groups">): boolean {
  return user.groups.some((group) => group.isSuperuser);
}

export interface NewUser {
  uuid: string;
  username: string;
  name: string;
  email: string;
  isActive: boolean;
  lastLogin: Date | null;
  attributes: Attributes;
  path: string;
  type: UserType;
  groupIds: number[];
  /** Kratos identity metadata (any JSON); absent or null: unset. */
  metadataPublic?: unknown;
  metadataAdmin?: unknown;
}

/**
 * Changes to a user; undefined leaves a field alone. The Kratos-only fields take `null` to clear
 * them (metadata `null` means unset).
 */
export type UserChanges = Partial<Omit<NewUser, "uuid">> & {
  emailVerified?: boolean;
  stateChangedAt?: Date | null;
  emailVerifiedAt?: Date | null;
};

export type UserField =
  | "username"
  | "name"
  | "email"
  | "is_active"
  | "date_joined"
  | "last_login"
  | "pk"
  | "path"
  | "type";

export interface UserFilters {
  username?: string[];
  email?: string[];
  name?: string[];
  uuid?: string[];
  path?: string[];
  type?: string[];
  isActive?: boolean;
  isSuperuser?: boolean;
}

export interface UserStore {
  findUser(tenantId: string, id: number): Promise<User | null>;
  /** Like findUser without reading groups (one query): whoami, recovery mail. */
  findUserProfile(tenantId: string, id: number): Promise<UserProfile | null>;
  findUserByUsername(tenantId: string, username: string): Promise<User | null>;
  /** Users of the tenant whose email equals `email` ignoring case (at most a few; emails are not unique). */
  findUsersByEmail(tenantId: string, email: string): Promise<User[]>;
  /** Like findUsersByEmail without reading groups (one query). */
  findUserProfilesByEmail(tenantId: string, email: string): Promise<UserProfile[]>;
  /**
   * The user a sign-in names, with the stored password hash, in one read: the exact username, else
   * (for an identifier with "@") the one user whose email matches case-insensitively; an address
   * shared by several users names nobody. The hash is null when the password is unusable.
   */
  findSignInUser(tenantId: string, identifier: string): Promise<SignInUser | null>;
  /** The user of the tenant with this uuid (a Kratos identity id); null when none. */
  findUserByUUID(tenantId: string, uuid: string): Promise<User | null>;
  /** Users of the tenant whose username or email equals `identifier` ignoring case, by id. */
  findUsersByIdentifier(tenantId: string, identifier: string): Promise<User[]>;
  /**
   * Users of the tenant ordered by uuid: those with a uuid after `after`, at most `limit` (keyset
   * pages of the Kratos identity list); with `uuids`, only those among them.
   */
  listUsersByUUID(
    tenantId: string,
    options: { after: string; limit: number; uuids?: string[] },
  ): Promise<User[]>;
  /**
   * Inside a transaction, waits for and holds until its end a lock on `identifier` (ignoring case)
   * in the tenant, so "is this email taken?" and the write that follows are not raced by another
   * writer of the same value. A PostgreSQL advisory lock; SQLite serialises writers anyway.
   */
  lockIdentifier(tenantId: string, identifier: string): Promise<void>;
  /** Which of `ids` (users of the tenant) have a usable password, with its last change. */
  passwordDates(tenantId: string, ids: number[]): Promise<Map<number, Date>>;
  /** The users of the tenant among `ids`, keyed by id, in two queries whatever their number. */
  findUsers(tenantId: string, ids: number[]): Promise<Map<number, User>>;
  listUsers(tenantId: string, filters: UserFilters, query: ListQuery<UserField>): Promise<Page<User>>;
  /** Null when the username is taken in the tenant. */
  createUser(tenantId: string, user: NewUser, now: Date): Promise<User | null>;
  /** Null when the new username is taken. */
  updateUser(tenantId: string, id: number, changes: UserChanges, now: Date): Promise<User | null>;
  /**
   * Stamps `last_login` and nothing else (not `last_updated`: a sign-in is not an edit, upstream
   * alike). One statement, no read back: every sign-in runs it.
   */
  recordLogin(tenantId: string, id: number, at: Date): Promise<void>;
  /** Deletes the user and, by cascade, their tokens, memberships and everything else they own. */
  deleteUser(tenantId: string, id: number): Promise<void>;
  /** The argon2id hash of the user's password; null when unusable or the user is unknown. */
  passwordHash(tenantId: string, id: number): Promise<string | null>;
  setPasswordHash(tenantId: string, id: number, hash: string, now: Date): Promise<void>;
  /** How many active users of the tenant are in a superuser group, leaving out `exceptUserId` if given. */
  countSuperusers(
    tenantId: string,
    options?: { exceptUserId?: number; exceptGroupId?: number },
  ): Promise<number>;
}

export interface Group {
  id: number;
  uuid: string;
  tenantId: string;
  name: string;
  isSuperuser: boolean;
  attributes: Attributes;
  /** Member user ids, ascending. */
  userIds: number[];
}

export type GroupField = "name" | "is_superuser" | "pk";

export interface GroupFilters {
  name?: string;
  isSuperuser?: boolean;
  membersByUsername?: string[];
}

export interface NewGroup {
  uuid: string;
  name: string;
  isSuperuser: boolean;
  attributes: Attributes;
  userIds: number[];
}

export interface GroupStore {
  findGroup(tenantId: string, uuid: string): Promise<Group | null>;
  findGroupByName(tenantId: string, name: string): Promise<Group | null>;
  listGroups(tenantId: string, filters: GroupFilters, query: ListQuery<GroupField>): Promise<Page<Group>>;
  /** Null when the name is taken. */
  createGroup(tenantId: string, group: NewGroup): Promise<Group | null>;
  /** Null when the new name is taken. */
  updateGroup(
    tenantId: string,
    uuid: string,
    changes: Partial<Omit<NewGroup, "uuid">>,
  ): Promise<Group | null>;
  deleteGroup(tenantId: string, uuid: string): Promise<void>;
  addMember(groupId: number, userId: number): Promise<void>;
  removeMember(groupId: number, userId: number): Promise<void>;
  /** Users (of the tenant) that exist among `ids`. */
  existingUserIds(tenantId: string, ids: number[]): Promise<number[]>;
  /** Groups (of the tenant) that exist among `uuids`, with their integer ids. */
  existingGroups(tenantId: string, uuids: string[]): Promise<{ id: number; uuid: string }[]>;
}
