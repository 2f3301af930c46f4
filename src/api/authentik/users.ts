import { Type } from "@sinclair/typebox";
import type { FastifyReply } from "fastify";
import { auditOf, authenticatedUser } from "../../http/context.js";
import {
  createUser,
  deleteUser,
  findUserOrThrow,
  setPassword,
  updateUser,
  USER_DEFAULTS,
  type UserInput,
} from "../../users/service.js";
import type { UserField, UserType, User as UserValue } from "../../users/store.js";
import { authenticateBearer, requireSuperuser } from "./auth.js";
import type { ApiDeps, TypedApp } from "./deps.js";
import { parseDateTime } from "./format.js";
import {
  all,
  booleanParam,
  ListParams,
  PaginatedList,
  paginated,
  type RawQuery,
  readPageRequest,
} from "./pagination.js";
import {
  Attributes,
  DateTime,
  ErrorResponses,
  Nullable,
  requestBody,
  SessionUser,
  User,
  Uuid,
} from "./schemas.js";
import { serializeUser, userSelf } from "./serialize.js";
import { assertValidBody, integerId } from "./steps.js";

const UserFields = {
  username: Type.String({ minLength: 1, maxLength: 150 }),
  name: Type.String(),
  is_active: Type.Boolean(),
  last_login: Nullable(DateTime),
  groups: Type.Array(Uuid),
  roles: Type.Array(Uuid),
  email: Type.String({ maxLength: 254 }),
  attributes: Attributes,
  path: Type.String(),
  type: Type.Union([
    Type.Literal("internal"),
    Type.Literal("external"),
    Type.Literal("service_account"),
    Type.Literal("internal_service_account"),
  ]),
};
const UserRequest = requestBody(UserFields, ["username", "name"], "UserRequest");
const PatchedUserRequest = Type.Partial(Type.Object(UserFields), { title: "PatchedUserRequest" });
const IdParams = Type.Object({ id: Type.String() });

const ORDERING: Record<string, UserField> = {
  username: "username",
  name: "name",
  email: "email",
  is_active: "is_active",
  date_joined: "date_joined",
  last_login: "last_login",
  pk: "pk",
  path: "path",
  type: "type",
};

type UserBody = Partial<{
  username: string;
  name: string;
  is_active: boolean;
  last_login: string | null;
  groups: string[];
  roles: string[];
  email: string;
  attributes: Record<string, unknown>;
  path: string;
  type: string;
}>;

/** Wire body → domain input; only given fields are set, so PATCH leaves the rest alone. */
function userInput(body: UserBody): Partial<UserInput> {
  const input: Partial<UserInput> = {};
  if (body.username !== undefined) input.username = body.username;
  if (body.name !== undefined) input.name = body.name;
  if (body.is_active !== undefined) input.isActive = body.is_active;
  if (body.last_login !== undefined)
    input.lastLogin = body.last_login === null ? null : parseDateTime(body.last_login);
  if (body.groups !== undefined) input.groups = body.groups.map((uuid) => uuid.toLowerCase());
  if (body.roles !== undefined) input.roles = body.roles;
  if (body.email !== undefined) input.email = body.email;
  if (body.attributes !== undefined) input.attributes = body.attributes;
  if (body.path !== undefined) input.path = body.path;
  if (body.type !== undefined) input.type = body.type as UserType;
  return input;
}

/** What Fastify itself sends with a serialized object, so a pre-serialized body looks the same. */
const JSON_UTF8 = "application/json; charset=utf-8";

export function userRoutes(app: TypedApp, deps: ApiDeps): void {
  const authenticate = authenticateBearer(deps);
  // `/core/users/me/` bodies by user value. The credential cache hands out one User object per token
  // until a change to tokens, users or groups empties it (ChangeFeed), and a re-read makes a new
  // object, so a body can never outlive the user it was built from; a WeakMap lets old ones go.
  const selfBodies = new WeakMap<UserValue, string>();
  const superuserOnly = [authenticate, requireSuperuser];

  app.get(
    "/core/users/",
    {
      schema: {
        tags: ["core"],
        querystring: Type.Object({
          ...ListParams,
          username: Type.Optional(Type.String()),
          email: Type.Optional(Type.String()),
          name: Type.Optional(Type.String()),
          uuid: Type.Optional(Type.String()),
          is_active: Type.Optional(Type.String()),
          is_superuser: Type.Optional(Type.String()),
          path: Type.Optional(Type.String()),
          type: Type.Optional(Type.String()),
          include_groups: Type.Optional(Type.String()),
          include_roles: Type.Optional(Type.String()),
        }),
        response: { 200: PaginatedList(User, "User"), ...ErrorResponses },
      },
      preHandler: superuserOnly,
    },
    async (request) => {
      const query = request.query as RawQuery;
      const page = readPageRequest(query, ORDERING, ["username"]);
      const result = await deps.persistence.stores.users.listUsers(
        request.tenant.id,
        {
          username: all(query, "username"),
          email: all(query, "email"),
          name: all(query, "name"),
          uuid: all(query, "uuid"),
          path: all(query, "path"),
          type: all(query, "type"),
          isActive: booleanParam(query, "is_active"),
          isSuperuser: booleanParam(query, "is_superuser"),
        },
        page.list,
      );
      const options = {
        includeGroups: booleanParam(query, "include_groups") ?? true,
        includeRoles: booleanParam(query, "include_roles") ?? true,
      };
      return paginated(page, result, (user) => serializeUser(deps.serialize, user, options));
    },
  );

  app.post(
    "/core/users/",
    {
      schema: { tags: ["core"], body: UserRequest, response: { 201: User, ...ErrorResponses } },
      preHandler: superuserOnly,
    },
    async (request, reply) => {
      assertValidBody(request);
      const input = { ...USER_DEFAULTS, ...userInput(request.body as UserBody) } as UserInput;
      const user = await createUser(deps, auditOf(request, "rekey.api"), input);
      return reply.code(201).send(serializeUser(deps.serialize, user));
    },
  );

  app.get(
    "/core/users/me/",
    {
      schema: { tags: ["core"], response: { 200: SessionUser, 403: ErrorResponses[403] } },
      preHandler: [authenticate],
    },
    async (request, reply) => {
      const user = authenticatedUser(request);
      let body = selfBodies.get(user);
      if (body === undefined) {
        const self = userSelf(deps.serialize, user);
        body = reply.serialize({ user: self, users: [self] }) as string; // the route's own serializer
        selfBodies.set(user, body);
      }
      // A string with a JSON type is sent as is: the typed reply only knows objects, hence the cast.
      return (reply as FastifyReply).type(JSON_UTF8).send(body);
    },
  );

  app.get(
    "/core/users/:id/",
    {
      schema: { tags: ["core"], params: IdParams, response: { 200: User, ...ErrorResponses } },
      preHandler: superuserOnly,
    },
    async (request) => {
      const user = await findUserOrThrow(
        deps.persistence.stores,
        request.tenant.id,
        integerId(request.params.id),
      );
      return serializeUser(deps.serialize, user);
    },
  );

  for (const method of ["put", "patch"] as const) {
    app[method](
      "/core/users/:id/",
      {
        schema: {
          tags: ["core"],
          params: IdParams,
          body: method === "put" ? UserRequest : PatchedUserRequest,
          response: { 200: User, ...ErrorResponses },
        },
        preHandler: superuserOnly,
      },
      async (request) => {
        const id = integerId(request.params.id);
        await findUserOrThrow(deps.persistence.stores, request.tenant.id, id);
        assertValidBody(request);
        const user = await updateUser(
          deps,
          auditOf(request, "rekey.api"),
          id,
          userInput(request.body as UserBody),
        );
        return serializeUser(deps.serialize, user);
      },
    );
  }

  app.delete(
    "/core/users/:id/",
    {
      schema: { tags: ["core"], params: IdParams, response: { 204: Type.Null(), ...ErrorResponses } },
      preHandler: superuserOnly,
    },
    async (request, reply) => {
      await deleteUser(deps, auditOf(request, "rekey.api"), integerId(request.params.id));
      return reply.code(204).send(null);
    },
  );

  app.post(
    "/core/users/:id/set_password/",
    {
      schema: {
        tags: ["core"],
        params: IdParams,
        body: Type.Object({ password: Type.String({ minLength: 1 }) }, { title: "UserPasswordSetRequest" }),
        response: { 204: Type.Null(), ...ErrorResponses },
      },
      preHandler: superuserOnly,
    },
    async (request, reply) => {
      const id = integerId(request.params.id);
      await findUserOrThrow(deps.persistence.stores, request.tenant.id, id);
      assertValidBody(request);
      await setPassword(deps, auditOf(request, "rekey.api"), id, request.body.password, "admin");
      return reply.code(204).send(null);
    },
  );
}
