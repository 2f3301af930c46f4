import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { createTOTPDevice } from "../../authenticators/service.js";
import type { TOTPAlgorithm, TOTPDevice } from "../../authenticators/store.js";
import { decodeBase32Secret } from "../../authenticators/totp.js";
import { ObjectNotFound, ValidationFailed } from "../../errors.js";
import { auditOf, authenticatedUser } from "../../http/context.js";
import type { User } from "../../users/store.js";
import {
  DEVICE_ORDERING,
  DeviceName,
  DeviceParams,
  deviceListQuery,
  NoContent,
  ownersOf,
  UsedByList,
  userFilter,
} from "./authenticators.common.js";
import { authenticateBearer, requireSuperuser } from "./auth.js";
import type { ApiDeps, TypedApp } from "./deps.js";
import { deleteDevice, renameTOTPDevice, userByPk } from "./devices.js";
import { first, PaginatedList, paginated, type RawQuery, readPageRequest } from "./pagination.js";
import { ErrorResponses, PartialUser } from "./schemas.js";
import { partialUser } from "./serialize.js";
import { assertValidBody, integerId } from "./steps.js";

/**
 * TOTP devices (authentik-v3.md §3.5): the admin viewset `/authenticators/admin/totp/` over every
 * user's devices, with Rekey's create (A11), and the user viewset `/authenticators/totp/` over the
 * caller's confirmed devices (upstream `TOTPDeviceViewSet`, queryset `confirmed=True`, OwnerFilter).
 * No response names the secret, digits, period or algorithm; `config_url` is in the create answer only.
 */

/** `TOTPDevice`: the allowlist of what any TOTP response may carry (style.md, practice 3). */
export const TOTPDeviceSchema = Type.Object(
  { name: Type.String(), pk: Type.Integer(), user: PartialUser },
  { title: "TOTPDevice" },
);

const CreatedTOTPDevice = Type.Object(
  {
    name: Type.String(),
    pk: Type.Integer(),
    user: PartialUser,
    config_url: Type.String({
      description: "otpauth:// URI with the secret: returned by this response only, never again.",
    }),
  },
  { title: "TOTPDeviceCreated" },
);

const TOTPAlgorithmSchema = Type.Union([
  Type.Literal("sha1"),
  Type.Literal("sha256"),
  Type.Literal("sha512"),
]);

const TOTPDeviceCreateRequest = Type.Object(
  {
    name: DeviceName,
    user: Type.Optional(
      Type.Integer({ description: "Rekey extension: the owner (pk); the caller when absent." }),
    ),
    digits: Type.Optional(
      Type.Union([Type.Literal(6), Type.Literal(8)], { description: "Rekey extension; 6 when absent." }),
    ),
    period: Type.Optional(
      Type.Integer({
        minimum: 10,
        maximum: 300,
        description: "Rekey extension: seconds per step; 30 when absent.",
      }),
    ),
    algorithm: Type.Optional(TOTPAlgorithmSchema),
    secret: Type.Optional(
      Type.String({
        description: "Rekey extension: import this base32 secret (10–64 bytes); 20 random bytes when absent.",
      }),
    ),
  },
  { title: "TOTPDeviceRequest" },
);
type CreateBody = {
  name: string;
  user?: number;
  digits?: 6 | 8;
  period?: number;
  algorithm?: TOTPAlgorithm;
  secret?: string;
};

/** Updates change `name` only; any other field is ignored (authentik-v3.md §3.5). */
const TOTPDeviceRequest = Type.Object({ name: DeviceName }, { title: "TOTPDeviceRequest" });
const PatchedTOTPDeviceRequest = Type.Object(
  { name: Type.Optional(DeviceName) },
  { title: "PatchedTOTPDeviceRequest" },
);

function serializeTOTPDevice(device: TOTPDevice, owner: ReturnType<typeof partialUser>) {
  return { name: device.name, pk: device.id, user: owner };
}

/** The create body's owner and secret, checked together so one answer names every bad field, as DRF does. */
async function ownerAndSecret(
  deps: ApiDeps,
  request: FastifyRequest,
  body: CreateBody,
): Promise<{ owner: User; secret: Uint8Array | null }> {
  const errors: Record<string, string[]> = {};
  let owner: User = authenticatedUser(request);
  if (body.user !== undefined) {
    try {
      owner = await userByPk(deps, request.tenant.id, "user", body.user);
    } catch (error) {
      if (!(error instanceof ValidationFailed)) throw error;
      Object.assign(errors, error.fields);
    }
  }
  const secret = body.secret === undefined ? null : decodeBase32Secret(body.secret);
  if (body.secret !== undefined && secret === null) {
    errors["secret"] = ["Invalid base32 secret."];
  }
  if (Object.keys(errors).length > 0) {
    throw new ValidationFailed(errors);
  }
  return { owner, secret };
}

/** A device by path id, within `scope`: any device of the tenant (admin) or the caller's confirmed ones. */
async function findTOTPDevice(
  deps: ApiDeps,
  request: FastifyRequest,
  id: string,
  scope: "admin" | "own",
): Promise<TOTPDevice> {
  const device = await deps.persistence.stores.totpDevices.findTOTPDevice(request.tenant.id, integerId(id));
  const visible =
    device !== null &&
    (scope === "admin" || (device.userId === authenticatedUser(request).id && device.confirmed));
  if (!visible) {
    throw new ObjectNotFound("TOTPDevice");
  }
  return device;
}

export function totpDeviceRoutes(app: TypedApp, deps: ApiDeps): void {
  const authenticate = authenticateBearer(deps);
  const scopes = [
    {
      scope: "admin" as const,
      base: "/authenticators/admin/totp/",
      preHandler: [authenticate, requireSuperuser],
    },
    { scope: "own" as const, base: "/authenticators/totp/", preHandler: [authenticate] },
  ];

  for (const { scope, base, preHandler } of scopes) {
    app.get(
      base,
      {
        schema: {
          tags: ["authenticators"],
          querystring: deviceListQuery({ userFilter: scope === "admin" }),
          response: { 200: PaginatedList(TOTPDeviceSchema, "TOTPDevice"), ...ErrorResponses },
        },
        preHandler,
      },
      async (request) => {
        const query = request.query as RawQuery;
        const page = readPageRequest(query, DEVICE_ORDERING, ["name"]);
        const filters =
          scope === "admin"
            ? { name: first(query, "name"), userId: await userFilter(deps, request) }
            : { name: first(query, "name"), userId: authenticatedUser(request).id, confirmed: true };
        const result = await deps.persistence.stores.totpDevices.listTOTPDevices(
          request.tenant.id,
          filters,
          page.list,
        );
        const ownerOf = await ownersOf(
          deps,
          request,
          result.rows.map((device) => device.userId),
        );
        return paginated(page, result, (device) => serializeTOTPDevice(device, ownerOf(device.userId)));
      },
    );

    app.get(
      `${base}:id/`,
      {
        schema: {
          tags: ["authenticators"],
          params: DeviceParams,
          response: { 200: TOTPDeviceSchema, ...ErrorResponses },
        },
        preHandler,
      },
      async (request) => {
        const device = await findTOTPDevice(deps, request, request.params.id, scope);
        const ownerOf = await ownersOf(deps, request, [device.userId]);
        return serializeTOTPDevice(device, ownerOf(device.userId));
      },
    );

    for (const method of ["put", "patch"] as const) {
      app[method](
        `${base}:id/`,
        {
          schema: {
            tags: ["authenticators"],
            params: DeviceParams,
            body: method === "put" ? TOTPDeviceRequest : PatchedTOTPDeviceRequest,
            response: { 200: TOTPDeviceSchema, ...ErrorResponses },
          },
          preHandler,
        },
        async (request) => {
          const device = await findTOTPDevice(deps, request, request.params.id, scope);
          assertValidBody(request);
          const name = (request.body as { name?: string }).name ?? device.name;
          const renamed = await renameTOTPDevice(deps, auditOf(request, "rekey.api"), device, name);
          const ownerOf = await ownersOf(deps, request, [device.userId]);
          return serializeTOTPDevice(renamed, ownerOf(device.userId));
        },
      );
    }

    app.delete(
      `${base}:id/`,
      { schema: { tags: ["authenticators"], params: DeviceParams, response: NoContent }, preHandler },
      async (request, reply) => {
        const device = await findTOTPDevice(deps, request, request.params.id, scope);
        // An admin deleting a device is how MFA is reset: the owner's sessions end with it.
        await deleteDevice(
          deps,
          auditOf(request, "rekey.api"),
          { kind: "totp", device },
          { revokeSessions: scope === "admin" },
        );
        return reply.code(204).send(null);
      },
    );
  }

  app.get(
    "/authenticators/totp/:id/used_by/",
    {
      schema: {
        tags: ["authenticators"],
        params: DeviceParams,
        response: { 200: UsedByList, ...ErrorResponses },
      },
      preHandler: [authenticate],
    },
    async (request) => {
      await findTOTPDevice(deps, request, request.params.id, "own");
      return [];
    },
  );

  app.post(
    "/authenticators/admin/totp/",
    {
      schema: {
        tags: ["authenticators"],
        description:
          "Creates a confirmed TOTP device (Rekey extension of upstream's create, which always fails): `user` defaults to " +
          "the caller; `digits`, `period`, `algorithm` and an imported `secret` are optional. The answer's `config_url` " +
          "carries the secret and is never shown again.",
        body: TOTPDeviceCreateRequest,
        response: { 201: CreatedTOTPDevice, ...ErrorResponses },
      },
      preHandler: [authenticate, requireSuperuser],
    },
    async (request, reply) => {
      assertValidBody(request);
      const body = request.body as CreateBody;
      const { owner, secret } = await ownerAndSecret(deps, request, body);
      const { device, configURL } = await createTOTPDevice(deps, auditOf(request, "rekey.api"), {
        user: owner,
        name: body.name,
        digits: body.digits ?? 6,
        period: body.period ?? 30,
        algorithm: body.algorithm ?? "sha1",
        secret,
        confirmed: true,
      });
      // The secret is in this answer: no cache may keep it.
      reply.header("cache-control", "no-store");
      return reply
        .code(201)
        .send({ ...serializeTOTPDevice(device, partialUser(deps.serialize, owner)), config_url: configURL });
    },
  );
}
