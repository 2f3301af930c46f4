import { userUid as uidOf } from "../../users/uid.js";
import type { AuditEvent } from "../../events/store.js";
import type { Domain, Tenant } from "../../tenants/store.js";
import type { Token } from "../../tokens/store.js";
import { type Group, type GroupSummary, isSuperuser, type User } from "../../users/store.js";
import { formatDateTime, formatNullableDateTime } from "./format.js";

/**
 * The only file that knows authentik's response field names: domain values in, wire shapes out.
 * Key order follows authentik's serializers.
 */
export interface SerializeContext {
  /** Per-installation id: the default tenant's uuid, stable for the life of the database. */
  installationId: string;
}

/** authentik's `uid`: hex SHA-256 of `"<pk>-<installation id>"`. */
export function userUid(context: SerializeContext, user: Pick<User, "id">): string {
  return uidOf(context.installationId, user);
}

function initials(user: Pick<User, "name" | "username">): string {
  const source = user.name.trim() === "" ? user.username : user.name;
  const words = source.split(/\s+/).filter((word) => word !== "");
  return words
    .slice(0, 2)
    .map((word) => [...word][0]!.toUpperCase())
    .join("");
}

/** A local initials avatar: no e-mail hash ever leaves for a third-party service (A15). */
export function avatar(user: Pick<User, "name" | "username">): string {
  const text = initials(user).replace(/[<>&"']/g, "");
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="#3b5b7a"/>` +
    `<text x="32" y="40" font-size="24" text-anchor="middle" fill="#fff" font-family="sans-serif">${text}</text></svg>`;
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString("base64")}`;
}

export function partialGroup(group: GroupSummary) {
  return {
    pk: group.uuid,
    num_pk: group.id,
    name: group.name,
    is_superuser: group.isSuperuser,
    attributes: group.attributes,
  };
}

export function partialUser(context: SerializeContext, user: User) {
  return {
    pk: user.id,
    username: user.username,
    name: user.name,
    is_active: user.isActive,
    last_login: formatNullableDateTime(user.lastLogin),
    email: user.email,
    attributes: user.attributes,
    uid: userUid(context, user),
  };
}

export function serializeUser(
  context: SerializeContext,
  user: User,
  options?: { includeGroups?: boolean; includeRoles?: boolean },
) {
  return {
    pk: user.id,
    username: user.username,
    name: user.name,
    is_active: user.isActive,
    last_login: formatNullableDateTime(user.lastLogin),
    date_joined: formatDateTime(user.dateJoined),
    is_superuser: isSuperuser(user),
    groups: user.groups.map((group) => group.uuid),
    groups_obj: options?.includeGroups === false ? null : user.groups.map(partialGroup),
    roles: [],
    roles_obj: options?.includeRoles === false ? null : [],
    email: user.email,
    avatar: avatar(user),
    attributes: user.attributes,
    uid: userUid(context, user),
    path: user.path,
    type: user.type,
    uuid: user.uuid,
    password_change_date: formatDateTime(user.passwordChangeDate),
    last_updated: formatDateTime(user.lastUpdated),
  };
}

export function userSelf(context: SerializeContext, user: User) {
  return {
    pk: user.id,
    username: user.username,
    name: user.name,
    is_active: user.isActive,
    is_superuser: isSuperuser(user),
    is_current: false,
    groups: user.groups.map((group) => ({ pk: group.uuid, name: group.name })),
    roles: [],
    email: user.email,
    avatar: avatar(user),
    uid: userUid(context, user),
    settings: {},
    type: user.type,
    system_permissions: [],
  };
}

export function serializeGroup(context: SerializeContext, group: Group, members: Map<number, User> | null) {
  return {
    pk: group.uuid,
    num_pk: group.id,
    name: group.name,
    is_superuser: group.isSuperuser,
    parents: [],
    parents_obj: [],
    users: group.userIds,
    users_obj:
      members === null
        ? null
        : group.userIds.flatMap((id) => {
            const user = members.get(id);
            return user === undefined ? [] : [partialUser(context, user)];
          }),
    attributes: group.attributes,
    roles: [],
    roles_obj: [],
    inherited_roles_obj: [],
    children: [],
    children_obj: [],
  };
}

/**
 * `user_obj` of tokens by owner value: a caller creating token after token is one User object in the
 * credential cache until a change empties it, so its avatar, uid and dates are worked out once.
 * Keyed by the User object itself, so a changed user (a new object) is never served stale.
 */
const ownerObjects = new WeakMap<SerializeContext, WeakMap<User, ReturnType<typeof serializeUser>>>();

function ownerObject(context: SerializeContext, owner: User): ReturnType<typeof serializeUser> {
  let byUser = ownerObjects.get(context);
  if (byUser === undefined) {
    byUser = new WeakMap();
    ownerObjects.set(context, byUser);
  }
  let serialized = byUser.get(owner);
  if (serialized === undefined) {
    serialized = serializeUser(context, owner);
    byUser.set(owner, serialized);
  }
  return serialized;
}

export function serializeToken(context: SerializeContext, token: Token, owner: User) {
  return {
    pk: token.id,
    managed: token.managed,
    identifier: token.identifier,
    intent: token.intent,
    user: token.userId,
    user_obj: ownerObject(context, owner),
    description: token.description,
    expires: formatNullableDateTime(token.expires),
    expiring: token.expiring,
  };
}

export function serializeTenant(tenant: Tenant) {
  return { tenant_uuid: tenant.id, schema_name: tenant.schemaName, name: tenant.name, ready: true };
}

export function serializeDomain(domain: Domain) {
  return { id: domain.id, domain: domain.domain, is_primary: domain.isPrimary, tenant: domain.tenantId };
}

export function serializeEvent(event: AuditEvent) {
  return {
    pk: event.id,
    user: { ...event.actor },
    action: event.action,
    app: event.app,
    context: event.context,
    client_ip: event.clientIP,
    created: formatDateTime(event.created),
    expires: formatDateTime(event.expires),
    brand: {},
  };
}
