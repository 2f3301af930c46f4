import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { auditOf } from "../../http/context.js";
import {
  changeMembership,
  createGroup,
  deleteGroup,
  findGroupOrThrow,
  GROUP_DEFAULTS,
  type GroupInput,
  updateGroup,
} from "../../users/service.js";
import type { Group, GroupField, User } from "../../users/store.js";
import { authenticateBearer, requireSuperuser } from "./auth.js";
import type { ApiDeps, TypedApp } from "./deps.js";
import {
  all,
  booleanParam,
  first,
  ListParams,
  PaginatedList,
  paginated,
  type RawQuery,
  readPageRequest,
} from "./pagination.js";
import { Attributes, ErrorResponses, Group as GroupSchema, requestBody, Uuid } from "./schemas.js";
import { serializeGroup } from "./serialize.js";
import { assertValidBody, uuidId } from "./steps.js";

const GroupFields = {
  name: Type.String({ minLength: 1 }),
  is_superuser: Type.Boolean(),
  users: Type.Array(Type.Integer()),
  attributes: Attributes,
  parents: Type.Array(Uuid),
  roles: Type.Array(Uuid),
};
const GroupRequest = requestBody(GroupFields, ["name"], "GroupRequest");
const PatchedGroupRequest = Type.Partial(Type.Object(GroupFields), { title: "PatchedGroupRequest" });
const UuidParams = Type.Object({ group_uuid: Type.String() });
const MemberRequest = Type.Object({ pk: Type.Integer() }, { title: "UserAccountRequest" });

type GroupBody = Partial<{
  name: string;
  is_superuser: boolean;
  users: number[];
  attributes: Record<string, unknown>;
  parents: string[];
  roles: string[];
}>;

function groupInput(body: GroupBody): Partial<GroupInput> {
  const input: Partial<GroupInput> = {};
  if (body.name !== undefined) input.name = body.name;
  if (body.is_superuser !== undefined) input.isSuperuser = body.is_superuser;
  if (body.users !== undefined) input.users = body.users;
  if (body.attributes !== undefined) input.attributes = body.attributes;
  if (body.parents !== undefined) input.parents = body.parents;
  if (body.roles !== undefined) input.roles = body.roles;
  return input;
}

export function groupRoutes(app: TypedApp, deps: ApiDeps): void {
  const superuserOnly = [authenticateBearer(deps), requireSuperuser];

  /**
   * Whether the answer lists member users (`include_users`, default true). A route that writes reads
   * it before the write: a parameter it refuses (a NUL) must leave the database unchanged.
   */
  function includeUsers(request: FastifyRequest): boolean {
    return booleanParam(request.query as RawQuery, "include_users") !== false;
  }

  /** Member users of these groups, read in one go (no N+1); null when they are not asked for. */
  async function membersOf(
    request: FastifyRequest,
    groups: Group[],
    included: boolean,
  ): Promise<Map<number, User> | null> {
    if (!included) {
      return null;
    }
    return deps.persistence.stores.users.findUsers(
      request.tenant.id,
      groups.flatMap((group) => group.userIds),
    );
  }

  async function render(request: FastifyRequest, group: Group, included: boolean) {
    return serializeGroup(deps.serialize, group, await membersOf(request, [group], included));
  }

  app.get(
    "/core/groups/",
    {
      schema: {
        tags: ["core"],
        querystring: Type.Object({
          ...ListParams,
          name: Type.Optional(Type.String()),
          is_superuser: Type.Optional(Type.String()),
          members_by_username: Type.Optional(Type.String()),
          include_users: Type.Optional(Type.String()),
        }),
        response: { 200: PaginatedList(GroupSchema, "Group"), ...ErrorResponses },
      },
      preHandler: superuserOnly,
    },
    async (request) => {
      const query = request.query as RawQuery;
      const page = readPageRequest<GroupField>(
        query,
        { name: "name", is_superuser: "is_superuser", pk: "pk" },
        ["name"],
      );
      const result = await deps.persistence.stores.groups.listGroups(
        request.tenant.id,
        {
          name: first(query, "name"),
          isSuperuser: booleanParam(query, "is_superuser"),
          membersByUsername: all(query, "members_by_username"),
        },
        page.list,
      );
      const members = await membersOf(request, result.rows, includeUsers(request));
      return paginated(page, result, (group) => serializeGroup(deps.serialize, group, members));
    },
  );

  app.post(
    "/core/groups/",
    {
      schema: { tags: ["core"], body: GroupRequest, response: { 201: GroupSchema, ...ErrorResponses } },
      preHandler: superuserOnly,
    },
    async (request, reply) => {
      assertValidBody(request);
      const included = includeUsers(request);
      const input = { ...GROUP_DEFAULTS, ...groupInput(request.body as GroupBody) } as GroupInput;
      const group = await createGroup(deps, auditOf(request, "rekey.api"), input);
      return reply.code(201).send(await render(request, group, included));
    },
  );

  app.get(
    "/core/groups/:group_uuid/",
    {
      schema: {
        tags: ["core"],
        params: UuidParams,
        querystring: Type.Object({ include_users: Type.Optional(Type.String()) }),
        response: { 200: GroupSchema, ...ErrorResponses },
      },
      preHandler: superuserOnly,
    },
    async (request) =>
      render(
        request,
        await findGroupOrThrow(deps.persistence.stores, request.tenant.id, uuidId(request.params.group_uuid)),
        includeUsers(request),
      ),
  );

  for (const method of ["put", "patch"] as const) {
    app[method](
      "/core/groups/:group_uuid/",
      {
        schema: {
          tags: ["core"],
          params: UuidParams,
          body: method === "put" ? GroupRequest : PatchedGroupRequest,
          response: { 200: GroupSchema, ...ErrorResponses },
        },
        preHandler: superuserOnly,
      },
      async (request) => {
        const uuid = uuidId(request.params.group_uuid);
        await findGroupOrThrow(deps.persistence.stores, request.tenant.id, uuid);
        assertValidBody(request);
        const included = includeUsers(request);
        return render(
          request,
          await updateGroup(deps, auditOf(request, "rekey.api"), uuid, groupInput(request.body as GroupBody)),
          included,
        );
      },
    );
  }

  app.delete(
    "/core/groups/:group_uuid/",
    {
      schema: { tags: ["core"], params: UuidParams, response: { 204: Type.Null(), ...ErrorResponses } },
      preHandler: superuserOnly,
    },
    async (request, reply) => {
      await deleteGroup(deps, auditOf(request, "rekey.api"), uuidId(request.params.group_uuid));
      return reply.code(204).send(null);
    },
  );

  for (const [action, change] of [
    ["add_user", "add"],
    ["remove_user", "remove"],
  ] as const) {
    app.post(
      `/core/groups/:group_uuid/${action}/`,
      {
        schema: {
          tags: ["core"],
          params: UuidParams,
          body: MemberRequest,
          response: { 204: Type.Null(), ...ErrorResponses },
        },
        preHandler: superuserOnly,
      },
      async (request, reply) => {
        const uuid = uuidId(request.params.group_uuid);
        await findGroupOrThrow(deps.persistence.stores, request.tenant.id, uuid);
        assertValidBody(request);
        await changeMembership(deps, auditOf(request, "rekey.api"), uuid, request.body.pk, change);
        return reply.code(204).send(null);
      },
    );
  }
}
