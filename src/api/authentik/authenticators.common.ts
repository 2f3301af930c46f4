import { type TSchema, Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import type { DeviceField, DeviceFilters } from "../../authenticators/store.js";
import type { ListQuery, Page } from "../../db/listing.js";
import { type ModelName, ObjectNotFound } from "../../errors.js";
import type { Audit } from "../../events/service.js";
import { auditOf, authenticatedUser } from "../../http/context.js";
import { authenticateBearer, requireSuperuser } from "./auth.js";
import type { ApiDeps, TypedApp } from "./deps.js";
import { type DeleteDeviceOptions, userByPk } from "./devices.js";
import { first, ListParams, PaginatedList, paginated, type RawQuery, readPageRequest } from "./pagination.js";
import { ErrorResponses } from "./schemas.js";
import { partialUser } from "./serialize.js";
import { assertValidBody, integerId } from "./steps.js";

/** What the device routes of authenticators.totp.ts and authenticators.static.ts share: schemas, lookups and the routes themselves. */

export const DeviceParams = Type.Object({ id: Type.String() });

/** A device's only writable field (upstream's TOTPDeviceRequest and StaticDeviceRequest). */
export const DeviceName = Type.String({
  minLength: 1,
  maxLength: 64,
  description: "The human-readable name of this device.",
});

export function deviceListQuery(options?: { userFilter?: boolean }) {
  const user = Type.Optional(
    Type.String({ description: "Rekey extension: only the devices of this user (pk)." }),
  );
  return Type.Object({
    ...ListParams,
    name: Type.Optional(Type.String()),
    ...(options?.userFilter === true ? { user } : {}),
  });
}

/** Ordering names (upstream orders by `name` by default; `pk` is the tie-breaker). */
export const DEVICE_ORDERING: Record<string, DeviceField> = { name: "name", pk: "pk" };

export const NoContent = { 204: Type.Null(), ...ErrorResponses };

/** upstream's `UsedBy` list (UsedByMixin): nothing in Rekey refers to a device, so it is always empty. */
export const UsedByList = Type.Array(
  Type.Object({
    app: Type.String(),
    model_name: Type.String(),
    pk: Type.String(),
    name: Type.String(),
    action: Type.String(),
  }),
  { title: "UsedByList" },
);

/** The `?user=` filter as a user pk: missing or empty means no filter; anything else must name a user. */
export async function userFilter(deps: ApiDeps, request: FastifyRequest): Promise<number | undefined> {
  const text = first(request.query as RawQuery, "user");
  if (text === undefined || text === "") {
    return undefined;
  }
  return (await userByPk(deps, request.tenant.id, "user", text)).id;
}

/** The owners of some devices, as the PartialUser each device embeds. */
export async function ownersOf(
  deps: ApiDeps,
  request: FastifyRequest,
  userIds: number[],
): Promise<(userId: number) => ReturnType<typeof partialUser>> {
  const users = await deps.persistence.stores.users.findUsers(request.tenant.id, [...new Set(userIds)]);
  return function ownerOf(userId: number) {
    const user = users.get(userId);
    if (user === undefined) {
      // Devices are deleted with their user (ON DELETE CASCADE), so a device without one is a bug.
      throw new Error(`device owner ${userId} not found`);
    }
    return partialUser(deps.serialize, user);
  };
}

/** The fields every device kind has that the shared routes read. */
export interface AnyDevice {
  id: number;
  userId: number;
  name: string;
  confirmed: boolean;
}

/**
 * One device kind as the shared routes see it: where it lives, its wire schemas, and the few
 * operations that differ between TOTP and static devices.
 */
export interface DeviceKind<D extends AnyDevice, Wire> {
  adminBase: string;
  ownBase: string;
  /** The kind's `ObjectNotFound` model name. */
  model: ModelName;
  schema: TSchema;
  listTitle: string;
  putBody: TSchema;
  patchBody: TSchema;
  find(deps: ApiDeps, tenantId: string, id: number): Promise<D | null>;
  list(
    deps: ApiDeps,
    tenantId: string,
    filters: DeviceFilters,
    query: ListQuery<DeviceField>,
  ): Promise<Page<D>>;
  serialize(device: D, owner: ReturnType<typeof partialUser>): Wire;
  rename(deps: ApiDeps, audit: Audit, device: D, name: string): Promise<D>;
  remove(deps: ApiDeps, audit: Audit, device: D, options: DeleteDeviceOptions): Promise<void>;
}

/** A device by path id, within `scope`: any device of the tenant (admin) or the caller's confirmed ones. */
export async function findDevice<D extends AnyDevice, Wire>(
  deps: ApiDeps,
  kind: DeviceKind<D, Wire>,
  request: FastifyRequest,
  id: string,
  scope: "admin" | "own",
): Promise<D> {
  const device = await kind.find(deps, request.tenant.id, integerId(id));
  const visible =
    device !== null &&
    (scope === "admin" || (device.userId === authenticatedUser(request).id && device.confirmed));
  if (!visible) {
    throw new ObjectNotFound(kind.model);
  }
  return device;
}

/**
 * List, retrieve, update (name only) and delete, under the admin path (every user's devices,
 * `?user=` filter, superusers only) and the user path (the caller's confirmed devices, upstream's
 * OwnerFilter and `confirmed=True` queryset), plus the user path's `used_by`.
 */
export function deviceRoutes<D extends AnyDevice, Wire>(
  app: TypedApp,
  deps: ApiDeps,
  kind: DeviceKind<D, Wire>,
): void {
  const authenticate = authenticateBearer(deps);
  const scopes = [
    { scope: "admin" as const, base: kind.adminBase, preHandler: [authenticate, requireSuperuser] },
    { scope: "own" as const, base: kind.ownBase, preHandler: [authenticate] },
  ];
  const idOf = (request: FastifyRequest): string => (request.params as { id: string }).id;
  async function withOwner(request: FastifyRequest, device: D): Promise<Wire> {
    const ownerOf = await ownersOf(deps, request, [device.userId]);
    return kind.serialize(device, ownerOf(device.userId));
  }

  for (const { scope, base, preHandler } of scopes) {
    app.get(
      base,
      {
        schema: {
          tags: ["authenticators"],
          querystring: deviceListQuery({ userFilter: scope === "admin" }),
          response: { 200: PaginatedList(kind.schema, kind.listTitle), ...ErrorResponses },
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
        const result = await kind.list(deps, request.tenant.id, filters, page.list);
        const ownerOf = await ownersOf(
          deps,
          request,
          result.rows.map((device) => device.userId),
        );
        return paginated(page, result, (device) => kind.serialize(device, ownerOf(device.userId)));
      },
    );

    app.get(
      `${base}:id/`,
      {
        schema: {
          tags: ["authenticators"],
          params: DeviceParams,
          response: { 200: kind.schema, ...ErrorResponses },
        },
        preHandler,
      },
      async (request) => withOwner(request, await findDevice(deps, kind, request, idOf(request), scope)),
    );

    for (const method of ["put", "patch"] as const) {
      app[method](
        `${base}:id/`,
        {
          schema: {
            tags: ["authenticators"],
            params: DeviceParams,
            body: method === "put" ? kind.putBody : kind.patchBody,
            response: { 200: kind.schema, ...ErrorResponses },
          },
          preHandler,
        },
        async (request) => {
          const device = await findDevice(deps, kind, request, idOf(request), scope);
          assertValidBody(request);
          const name = (request.body as { name?: string }).name ?? device.name;
          return withOwner(request, await kind.rename(deps, auditOf(request, "rekey.api"), device, name));
        },
      );
    }

    app.delete(
      `${base}:id/`,
      { schema: { tags: ["authenticators"], params: DeviceParams, response: NoContent }, preHandler },
      async (request, reply) => {
        const device = await findDevice(deps, kind, request, idOf(request), scope);
        // An admin deleting a device is how MFA is reset: the owner's sessions end with it. A user
        // removing their own device is not.
        await kind.remove(deps, auditOf(request, "rekey.api"), device, { revokeSessions: scope === "admin" });
        return reply.code(204).send(null);
      },
    );
  }

  app.get(
    `${kind.ownBase}:id/used_by/`,
    {
      schema: {
        tags: ["authenticators"],
        params: DeviceParams,
        response: { 200: UsedByList, ...ErrorResponses },
      },
      preHandler: [authenticate],
    },
    async (request) => {
      await findDevice(deps, kind, request, idOf(request), "own");
      return [];
    },
  );
}
