import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { PermissionDenied } from "../../errors.js";
import { auditOf, authenticatedUser } from "../../http/context.js";
import {
  createToken,
  deleteToken,
  findVisibleToken,
  setTokenKey,
  type TokenInput,
  updateToken,
  viewTokenKey,
} from "../../tokens/service.js";
import type { Token, TokenField } from "../../tokens/store.js";
import { isSuperuser } from "../../users/store.js";
import { authenticateBearer } from "./auth.js";
import type { ApiDeps, TypedApp } from "./deps.js";
import { parseDateTime } from "./format.js";
import {
  booleanParam,
  dateTimeParam,
  first,
  ListParams,
  PaginatedList,
  paginated,
  type RawQuery,
  readPageRequest,
} from "./pagination.js";
import {
  DateTime,
  ErrorResponses,
  Nullable,
  requestBody,
  Token as TokenSchema,
  TokenIntent,
} from "./schemas.js";
import { serializeToken } from "./serialize.js";
import { assertValidBody } from "./steps.js";

const TokenFields = {
  identifier: Type.String({ minLength: 1, maxLength: 255 }),
  intent: TokenIntent,
  user: Type.Integer(),
  description: Type.String(),
  expires: Nullable(DateTime),
  expiring: Type.Boolean(),
  managed: Nullable(Type.String({ minLength: 1 })),
};
const TokenRequest = requestBody(TokenFields, ["identifier"], "TokenRequest");
const PatchedTokenRequest = Type.Partial(Type.Object(TokenFields), { title: "PatchedTokenRequest" });
const IdentifierParams = Type.Object({ identifier: Type.String() });

type TokenBody = Partial<{
  identifier: string;
  intent: string;
  user: number;
  description: string;
  expires: string | null;
  expiring: boolean;
  managed: string | null;
}>;

function tokenInput(body: TokenBody): Partial<TokenInput> {
  const input: Partial<TokenInput> = {};
  if (body.identifier !== undefined) input.identifier = body.identifier;
  if (body.intent !== undefined) input.intent = body.intent;
  if (body.user !== undefined) input.userId = body.user;
  if (body.description !== undefined) input.description = body.description;
  if (body.expires !== undefined) input.expires = body.expires === null ? null : parseDateTime(body.expires);
  if (body.expiring !== undefined) input.expiring = body.expiring;
  if (body.managed !== undefined) input.managed = body.managed;
  return input;
}

const ORDERING: Record<string, TokenField> = {
  identifier: "identifier",
  expires: "expires",
  intent: "intent",
  description: "description",
  user: "user",
  expiring: "expiring",
  managed: "managed",
};

export function tokenRoutes(app: TypedApp, deps: ApiDeps): void {
  const authenticate = authenticateBearer(deps);

  async function render(request: FastifyRequest, token: Token) {
    const owners = await deps.persistence.stores.users.findUsers(request.tenant.id, [token.userId]);
    return serializeToken(deps.serialize, token, owners.get(token.userId)!);
  }

  app.get(
    "/core/tokens/",
    {
      schema: {
        tags: ["core"],
        querystring: Type.Object({
          ...ListParams,
          identifier: Type.Optional(Type.String()),
          intent: Type.Optional(Type.String()),
          user__username: Type.Optional(Type.String()),
          description: Type.Optional(Type.String()),
          expires: Type.Optional(Type.String()),
          expiring: Type.Optional(Type.String()),
          managed: Type.Optional(Type.String()),
        }),
        response: { 200: PaginatedList(TokenSchema, "Token"), ...ErrorResponses },
      },
      preHandler: [authenticate],
    },
    async (request) => {
      const caller = authenticatedUser(request);
      const query = request.query as RawQuery;
      const page = readPageRequest(query, ORDERING, ["identifier", "expires"]);
      const result = await deps.persistence.stores.tokens.listTokens(
        request.tenant.id,
        {
          identifier: first(query, "identifier"),
          intent: first(query, "intent"),
          username: first(query, "user__username"),
          description: first(query, "description"),
          expires: dateTimeParam(query, "expires"),
          expiring: booleanParam(query, "expiring"),
          managed: first(query, "managed"),
          userId: isSuperuser(caller) ? undefined : caller.id,
        },
        page.list,
      );
      const owners = await deps.persistence.stores.users.findUsers(
        request.tenant.id,
        result.rows.map((token) => token.userId),
      );
      return paginated(page, result, (token) =>
        serializeToken(deps.serialize, token, owners.get(token.userId)!),
      );
    },
  );

  app.post(
    "/core/tokens/",
    {
      schema: { tags: ["core"], body: TokenRequest, response: { 201: TokenSchema, ...ErrorResponses } },
      preHandler: [authenticate],
    },
    async (request, reply) => {
      assertValidBody(request);
      const input = tokenInput(request.body as TokenBody) as TokenInput;
      const created = await createToken(
        deps,
        auditOf(request, "rekey.api"),
        authenticatedUser(request),
        input,
      );
      return reply.code(201).send(serializeToken(deps.serialize, created.token, created.owner));
    },
  );

  app.get(
    "/core/tokens/:identifier/",
    {
      schema: { tags: ["core"], params: IdentifierParams, response: { 200: TokenSchema, ...ErrorResponses } },
      preHandler: [authenticate],
    },
    async (request) => {
      const token = await findVisibleToken(
        deps.persistence.stores,
        request.tenant.id,
        authenticatedUser(request),
        request.params.identifier,
      );
      return render(request, token);
    },
  );

  for (const method of ["put", "patch"] as const) {
    app[method](
      "/core/tokens/:identifier/",
      {
        schema: {
          tags: ["core"],
          params: IdentifierParams,
          body: method === "put" ? TokenRequest : PatchedTokenRequest,
          response: { 200: TokenSchema, ...ErrorResponses },
        },
        preHandler: [authenticate],
      },
      async (request) => {
        const caller = authenticatedUser(request);
        await findVisibleToken(deps.persistence.stores, request.tenant.id, caller, request.params.identifier);
        assertValidBody(request);
        const token = await updateToken(
          deps,
          auditOf(request, "rekey.api"),
          caller,
          request.params.identifier,
          tokenInput(request.body as TokenBody),
        );
        return render(request, token);
      },
    );
  }

  app.delete(
    "/core/tokens/:identifier/",
    {
      schema: { tags: ["core"], params: IdentifierParams, response: { 204: Type.Null(), ...ErrorResponses } },
      preHandler: [authenticate],
    },
    async (request, reply) => {
      await deleteToken(
        deps,
        auditOf(request, "rekey.api"),
        authenticatedUser(request),
        request.params.identifier,
      );
      return reply.code(204).send(null);
    },
  );

  app.get(
    "/core/tokens/:identifier/view_key/",
    {
      schema: {
        tags: ["core"],
        params: IdentifierParams,
        response: { 200: Type.Object({ key: Type.String() }, { title: "TokenView" }), ...ErrorResponses },
      },
      preHandler: [authenticate],
    },
    async (request, reply) => {
      const key = await viewTokenKey(
        deps,
        auditOf(request, "rekey.api"),
        authenticatedUser(request),
        request.params.identifier,
      );
      // A key is a credential: no cache may keep the answer.
      return reply.header("cache-control", "no-store").send({ key });
    },
  );

  app.post(
    "/core/tokens/:identifier/set_key/",
    {
      schema: {
        tags: ["core"],
        params: IdentifierParams,
        body: Type.Object({ key: Type.String({ minLength: 1 }) }, { title: "TokenSetKeyRequest" }),
        response: { 204: Type.Null(), ...ErrorResponses },
      },
      preHandler: [authenticate],
    },
    async (request, reply) => {
      const caller = authenticatedUser(request);
      if (!isSuperuser(caller)) {
        throw new PermissionDenied();
      }
      await findVisibleToken(deps.persistence.stores, request.tenant.id, caller, request.params.identifier);
      assertValidBody(request);
      await setTokenKey(
        deps,
        auditOf(request, "rekey.api"),
        caller,
        request.params.identifier,
        request.body.key,
      );
      return reply.code(204).send(null);
    },
  );

  app.get(
    "/core/tokens/:identifier/used_by/",
    {
      schema: {
        tags: ["core"],
        params: IdentifierParams,
        response: {
          200: Type.Array(
            Type.Object({
              app: Type.String(),
              model_name: Type.String(),
              pk: Type.String(),
              name: Type.String(),
              action: Type.String(),
            }),
            { title: "UsedByList" },
          ),
          ...ErrorResponses,
        },
      },
      preHandler: [authenticate],
    },
    async (request) => {
      await findVisibleToken(
        deps.persistence.stores,
        request.tenant.id,
        authenticatedUser(request),
        request.params.identifier,
      );
      return [];
    },
  );
}
