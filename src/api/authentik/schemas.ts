import { type Static, type TProperties, type TSchema, Type } from "@sinclair/typebox";

/** A nullable field: OpenAPI's `nullable`, which Ajv understands, typed as `T | null`. */
export function Nullable<T extends TSchema>(schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, nullable: true });
}

/** A flat request object: the named fields required, every other one optional. */
export function requestBody<P extends TProperties, K extends keyof P & string>(
  fields: P,
  required: K[],
  title: string,
) {
  return Type.Composite(
    [Type.Pick(Type.Object(fields), required), Type.Partial(Type.Omit(Type.Object(fields), required))],
    {
      title,
    },
  );
}

export const DateTime = Type.String({ format: "date-time" });
export const Attributes = Type.Record(Type.String(), Type.Unknown());
export const Uuid = Type.String({ format: "uuid" });

export const PartialGroup = Type.Object(
  {
    pk: Type.String({ format: "uuid" }),
    num_pk: Type.Integer(),
    name: Type.String(),
    is_superuser: Type.Boolean(),
    attributes: Attributes,
  },
  { title: "PartialGroup" },
);

export const PartialUser = Type.Object(
  {
    pk: Type.Integer(),
    username: Type.String(),
    name: Type.String(),
    is_active: Type.Boolean(),
    last_login: Nullable(DateTime),
    email: Type.String(),
    attributes: Attributes,
    uid: Type.String(),
  },
  { title: "PartialUser" },
);

export const UserType = Type.Union(
  [
    Type.Literal("internal"),
    Type.Literal("external"),
    Type.Literal("service_account"),
    Type.Literal("internal_service_account"),
  ],
  { title: "UserTypeEnum" },
);

export const User = Type.Object(
  {
    pk: Type.Integer(),
    username: Type.String(),
    name: Type.String(),
    is_active: Type.Boolean(),
    last_login: Nullable(DateTime),
    date_joined: DateTime,
    is_superuser: Type.Boolean(),
    groups: Type.Array(Uuid),
    groups_obj: Nullable(Type.Array(PartialGroup)),
    roles: Type.Array(Uuid),
    roles_obj: Nullable(Type.Array(Type.Object({}))),
    email: Type.String(),
    avatar: Type.String(),
    attributes: Attributes,
    uid: Type.String(),
    path: Type.String(),
    type: Type.String(),
    uuid: Uuid,
    password_change_date: DateTime,
    last_updated: DateTime,
  },
  { title: "User" },
);

export const UserSelf = Type.Object(
  {
    pk: Type.Integer(),
    username: Type.String(),
    name: Type.String(),
    is_active: Type.Boolean(),
    is_superuser: Type.Boolean(),
    is_current: Type.Boolean(),
    groups: Type.Array(Type.Object({ pk: Type.String(), name: Type.String() })),
    roles: Type.Array(Type.Object({})),
    email: Type.String(),
    avatar: Type.String(),
    uid: Type.String(),
    settings: Type.Object({}),
    type: Type.String(),
    system_permissions: Type.Array(Type.String()),
  },
  { title: "UserSelf" },
);

export const SessionUser = Type.Object(
  { user: UserSelf, users: Type.Array(UserSelf) },
  { title: "SessionUser" },
);

export const Group = Type.Object(
  {
    pk: Uuid,
    num_pk: Type.Integer(),
    name: Type.String(),
    is_superuser: Type.Boolean(),
    parents: Type.Array(Uuid),
    parents_obj: Type.Array(Type.Object({})),
    users: Type.Array(Type.Integer()),
    users_obj: Nullable(Type.Array(PartialUser)),
    attributes: Attributes,
    roles: Type.Array(Uuid),
    roles_obj: Type.Array(Type.Object({})),
    inherited_roles_obj: Type.Array(Type.Object({})),
    children: Type.Array(Uuid),
    children_obj: Type.Array(Type.Object({})),
  },
  { title: "Group" },
);

export const TokenIntent = Type.Union(
  [Type.Literal("verification"), Type.Literal("api"), Type.Literal("recovery"), Type.Literal("app_password")],
  { title: "IntentEnum" },
);

export const Token = Type.Object(
  {
    pk: Uuid,
    managed: Nullable(Type.String()),
    identifier: Type.String(),
    intent: Type.String(),
    user: Type.Integer(),
    user_obj: User,
    description: Type.String(),
    expires: Nullable(DateTime),
    expiring: Type.Boolean(),
  },
  { title: "Token" },
);

export const Tenant = Type.Object(
  { tenant_uuid: Uuid, schema_name: Type.String(), name: Type.String(), ready: Type.Boolean() },
  { title: "Tenant" },
);

export const Domain = Type.Object(
  { id: Type.Integer(), domain: Type.String(), is_primary: Type.Boolean(), tenant: Uuid },
  { title: "Domain" },
);

export const Event = Type.Object(
  {
    pk: Uuid,
    user: Type.Record(Type.String(), Type.Unknown()),
    action: Type.String(),
    app: Type.String(),
    context: Type.Record(Type.String(), Type.Unknown()),
    client_ip: Nullable(Type.String()),
    created: DateTime,
    expires: DateTime,
    brand: Type.Record(Type.String(), Type.Unknown()),
  },
  { title: "Event" },
);

/** authentik's error bodies, for the OpenAPI document. */
export const GenericError = Type.Object({ detail: Type.String() }, { title: "GenericError" });
export const ValidationError = Type.Record(Type.String(), Type.Unknown(), { title: "ValidationError" });
export const ErrorResponses = { 400: ValidationError, 403: GenericError, 404: GenericError };
