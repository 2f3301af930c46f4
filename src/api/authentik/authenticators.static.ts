import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { regenerateBackupCodes } from "../../authenticators/service.js";
import type { StaticDevice } from "../../authenticators/store.js";
import { ObjectNotFound } from "../../errors.js";
import { auditOf, authenticatedUser } from "../../http/context.js";
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
import { deleteDevice, renameStaticDevice, STATIC_DEVICE } from "./devices.js";
import { first, PaginatedList, paginated, type RawQuery, readPageRequest } from "./pagination.js";
import { ErrorResponses, PartialUser } from "./schemas.js";
import { partialUser } from "./serialize.js";
import { assertValidBody, integerId } from "./steps.js";

/**
 * Backup codes as upstream's static devices: `/authenticators/static/` (the caller's) and
 * `/authenticators/admin/static/` (every user's, `?user=` filter), plus Rekey's `POST
 * /authenticators/static/`, which issues the caller a fresh set and is the only answer that ever
 * holds the codes themselves.
 *
 * Decision: upstream's `StaticDeviceToken` is `{token}`, the code in clear, on every read. Rekey
 * keeps only HMACs of the codes (they are passwords users keep for months), so it could not repeat
 * them even if it wanted to, and a code shown on every read would not be "shown once". `token_set`
 * therefore lists one entry per *unused* code with the token masked (upstream deletes a code when it
 * is used, so its `token_set` is the unused codes too: counting entries keeps working), and only the
 * regenerate answer carries the codes in clear, once.
 *
 * There is no admin create (upstream's `POST /authenticators/admin/static/` answers 405 here): an
 * admin must never hold a user's backup codes. The user generates them; the admin may delete them.
 */

/** What a stored code looks like on every read: as long as a real one, and no code at all. */
export const MASKED_TOKEN = "************";

const StaticDeviceToken = Type.Object({ token: Type.String() }, { title: "StaticDeviceToken" });
export const StaticDeviceSchema = Type.Object(
  { name: Type.String(), token_set: Type.Array(StaticDeviceToken), pk: Type.Integer(), user: PartialUser },
  { title: "StaticDevice" },
);
const StaticDeviceRequest = Type.Object({ name: DeviceName }, { title: "StaticDeviceRequest" });
const PatchedStaticDeviceRequest = Type.Object(
  { name: Type.Optional(DeviceName) },
  { title: "PatchedStaticDeviceRequest" },
);
const RegenerateRequest = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: "The new set's name; `Backup codes` when absent.",
      }),
    ),
  },
  { title: "StaticDeviceRegenerateRequest" },
);

/** `codes`: the clear codes, only right after they were generated; otherwise each unused code masked. */
function serializeStaticDevice(
  device: StaticDevice,
  owner: ReturnType<typeof partialUser>,
  codes?: string[],
) {
  const tokens = codes ?? Array.from({ length: device.unusedCount }, () => MASKED_TOKEN);
  return { name: device.name, token_set: tokens.map((token) => ({ token })), pk: device.id, user: owner };
}

async function findStaticDevice(
  deps: ApiDeps,
  request: FastifyRequest,
  id: string,
  scope: "admin" | "own",
): Promise<StaticDevice> {
  const device = await deps.persistence.stores.staticDevices.findStaticDevice(
    request.tenant.id,
    integerId(id),
  );
  const visible =
    device !== null &&
    (scope === "admin" || (device.userId === authenticatedUser(request).id && device.confirmed));
  if (!visible) {
    throw new ObjectNotFound(STATIC_DEVICE);
  }
  return device;
}

export function staticDeviceRoutes(app: TypedApp, deps: ApiDeps): void {
  const authenticate = authenticateBearer(deps);
  const scopes = [
    {
      scope: "admin" as const,
      base: "/authenticators/admin/static/",
      preHandler: [authenticate, requireSuperuser],
    },
    { scope: "own" as const, base: "/authenticators/static/", preHandler: [authenticate] },
  ];

  for (const { scope, base, preHandler } of scopes) {
    app.get(
      base,
      {
        schema: {
          tags: ["authenticators"],
          querystring: deviceListQuery({ userFilter: scope === "admin" }),
          response: { 200: PaginatedList(StaticDeviceSchema, "StaticDevice"), ...ErrorResponses },
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
        const result = await deps.persistence.stores.staticDevices.listStaticDevices(
          request.tenant.id,
          filters,
          page.list,
        );
        const ownerOf = await ownersOf(
          deps,
          request,
          result.rows.map((device) => device.userId),
        );
        return paginated(page, result, (device) => serializeStaticDevice(device, ownerOf(device.userId)));
      },
    );

    app.get(
      `${base}:id/`,
      {
        schema: {
          tags: ["authenticators"],
          params: DeviceParams,
          response: { 200: StaticDeviceSchema, ...ErrorResponses },
        },
        preHandler,
      },
      async (request) => {
        const device = await findStaticDevice(deps, request, request.params.id, scope);
        const ownerOf = await ownersOf(deps, request, [device.userId]);
        return serializeStaticDevice(device, ownerOf(device.userId));
      },
    );

    for (const method of ["put", "patch"] as const) {
      app[method](
        `${base}:id/`,
        {
          schema: {
            tags: ["authenticators"],
            params: DeviceParams,
            body: method === "put" ? StaticDeviceRequest : PatchedStaticDeviceRequest,
            response: { 200: StaticDeviceSchema, ...ErrorResponses },
          },
          preHandler,
        },
        async (request) => {
          const device = await findStaticDevice(deps, request, request.params.id, scope);
          assertValidBody(request);
          const name = (request.body as { name?: string }).name ?? device.name;
          const renamed = await renameStaticDevice(deps, auditOf(request, "rekey.api"), device, name);
          const ownerOf = await ownersOf(deps, request, [device.userId]);
          return serializeStaticDevice(renamed, ownerOf(device.userId));
        },
      );
    }

    app.delete(
      `${base}:id/`,
      { schema: { tags: ["authenticators"], params: DeviceParams, response: NoContent }, preHandler },
      async (request, reply) => {
        const device = await findStaticDevice(deps, request, request.params.id, scope);
        // As for TOTP devices: an admin removing backup codes resets MFA and ends the owner's sessions.
        await deleteDevice(
          deps,
          auditOf(request, "rekey.api"),
          { kind: "static", device },
          { revokeSessions: scope === "admin" },
        );
        return reply.code(204).send(null);
      },
    );
  }

  app.get(
    "/authenticators/static/:id/used_by/",
    {
      schema: {
        tags: ["authenticators"],
        params: DeviceParams,
        response: { 200: UsedByList, ...ErrorResponses },
      },
      preHandler: [authenticate],
    },
    async (request) => {
      await findStaticDevice(deps, request, request.params.id, "own");
      return [];
    },
  );

  // Why this path: POST on the collection of the caller's static devices is where a create belongs
  // (upstream's admin viewset creates there with the same body), so no new action name is invented
  // and the answer is upstream's StaticDevice shape, which generated clients can parse.
  app.post(
    "/authenticators/static/",
    {
      schema: {
        tags: ["authenticators"],
        description:
          "Rekey extension: issues the caller a new set of 10 backup codes, replacing any earlier set. The answer's " +
          "`token_set` holds the codes in clear; no other answer ever shows them (reads list each unused code masked).",
        body: RegenerateRequest,
        response: { 201: StaticDeviceSchema, ...ErrorResponses },
      },
      preHandler: [authenticate],
    },
    async (request, reply) => {
      assertValidBody(request);
      const caller = authenticatedUser(request);
      const name = (request.body as { name?: string }).name;
      const { device, codes } = await regenerateBackupCodes(
        deps,
        auditOf(request, "rekey.api"),
        caller,
        name === undefined ? undefined : { name },
      );
      reply.header("cache-control", "no-store");
      return reply.code(201).send(serializeStaticDevice(device, partialUser(deps.serialize, caller), codes));
    },
  );
}
