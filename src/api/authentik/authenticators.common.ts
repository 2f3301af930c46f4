import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import type { DeviceField } from "../../authenticators/store.js";
import type { ApiDeps } from "./deps.js";
import { userByPk } from "./devices.js";
import { first, ListParams, type RawQuery } from "./pagination.js";
import { ErrorResponses } from "./schemas.js";
import { partialUser } from "./serialize.js";

/** What the device routes of authenticators.totp.ts and authenticators.static.ts share. */

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
