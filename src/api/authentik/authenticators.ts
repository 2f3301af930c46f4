import { Type } from "@sinclair/typebox";
import type { StaticDevice, TOTPDevice } from "../../authenticators/store.js";
import { authenticatedUser } from "../../http/context.js";
import { userFilter } from "./authenticators.common.js";
import { staticDeviceRoutes } from "./authenticators.static.js";
import { totpDeviceRoutes } from "./authenticators.totp.js";
import { authenticateBearer, requireSuperuser } from "./auth.js";
import type { ApiDeps, TypedApp } from "./deps.js";
import { everyRow } from "./devices.js";
import { formatDateTime, formatNullableDateTime } from "./format.js";
import { DateTime, ErrorResponses, Nullable } from "./schemas.js";

/**
 * Second-factor devices on /api/v3: TOTP (authenticators.totp.ts), backup codes
 * (authenticators.static.ts) and here the lists of every kind, upstream's `Device` shape
 * (authentik/core/api/devices.py): `/authenticators/all/` for the caller's confirmed devices
 * (`devices_for_user`) and `/authenticators/admin/all/` for every device, or one user's with `?user=`.
 */

export const DeviceSchema = Type.Object(
  {
    verbose_name: Type.String(),
    verbose_name_plural: Type.String(),
    meta_model_name: Type.String(),
    pk: Type.String(),
    name: Type.String(),
    type: Type.String(),
    confirmed: Type.Boolean(),
    created: DateTime,
    last_updated: DateTime,
    last_used: Nullable(DateTime),
    extra_description: Nullable(Type.String()),
    external_id: Nullable(Type.String()),
  },
  { title: "Device" },
);

/** Django's `_meta` of each model, as upstream's MetaNameSerializer and `get_type` read it. */
const TOTP_META = {
  verbose_name: "TOTP Device",
  verbose_name_plural: "TOTP Devices",
  meta_model_name: "authentik_stages_authenticator_totp.totpdevice",
  type: "authentik_stages_authenticator_totp.TOTPDevice",
};
const STATIC_META = {
  verbose_name: "Static Device",
  verbose_name_plural: "Static Devices",
  meta_model_name: "authentik_stages_authenticator_static.staticdevice",
  type: "authentik_stages_authenticator_static.StaticDevice",
};

function serializeDevice(
  meta: typeof TOTP_META,
  device: { id: number; name: string; confirmed: boolean; createdAt: Date },
  lastUsed: Date | null,
) {
  return {
    verbose_name: meta.verbose_name,
    verbose_name_plural: meta.verbose_name_plural,
    meta_model_name: meta.meta_model_name,
    pk: String(device.id), // upstream's DeviceSerializer declares `pk = CharField()`
    name: device.name,
    type: meta.type,
    confirmed: device.confirmed,
    created: formatDateTime(device.createdAt),
    // Rekey keeps no modification time; a device's only later change is its name.
    last_updated: formatDateTime(device.createdAt),
    last_used: formatNullableDateTime(lastUsed),
    extra_description: null,
    external_id: null,
  };
}

/**
 * When a TOTP device was last used, to the step: the start of the last accepted code's time step.
 * Backup-code sets report null (the store does not expose when a code was used).
 */
function totpLastUsed(device: TOTPDevice): Date | null {
  return device.lastStep === null ? null : new Date(device.lastStep * device.period * 1000);
}

/** Static devices first, then TOTP, each by pk: upstream walks its device models in app order. */
function serializeDevices(staticDevices: StaticDevice[], totpDevices: TOTPDevice[]) {
  return [
    ...staticDevices.map((device) => serializeDevice(STATIC_META, device, null)),
    ...totpDevices.map((device) => serializeDevice(TOTP_META, device, totpLastUsed(device))),
  ];
}

const DeviceList = Type.Array(DeviceSchema, { title: "DeviceList" });

export function authenticatorRoutes(app: TypedApp, deps: ApiDeps): void {
  totpDeviceRoutes(app, deps);
  staticDeviceRoutes(app, deps);
  const authenticate = authenticateBearer(deps);
  const stores = deps.persistence.stores;

  app.get(
    "/authenticators/all/",
    {
      schema: { tags: ["authenticators"], response: { 200: DeviceList, ...ErrorResponses } },
      preHandler: [authenticate],
    },
    async (request) => {
      const caller = authenticatedUser(request);
      const staticDevices = (
        await stores.staticDevices.userStaticDevices(request.tenant.id, caller.id)
      ).filter((device) => device.confirmed);
      return serializeDevices(
        staticDevices,
        await stores.totpDevices.userTOTPDevices(request.tenant.id, caller.id),
      );
    },
  );

  app.get(
    "/authenticators/admin/all/",
    {
      schema: {
        tags: ["authenticators"],
        querystring: Type.Object({
          user: Type.Optional(Type.String({ description: "Only the devices of this user (pk)." })),
        }),
        response: { 200: DeviceList, ...ErrorResponses },
      },
      preHandler: [authenticate, requireSuperuser],
    },
    async (request) => {
      const tenantId = request.tenant.id;
      // As upstream's ParamUserSerializer: no `user` means every user's devices.
      const userId = await userFilter(deps, request);
      const byPk = [{ field: "pk" as const, descending: false }];
      const staticDevices = await everyRow((offset, limit) =>
        stores.staticDevices.listStaticDevices(
          tenantId,
          { userId },
          { search: [], ordering: byPk, offset, limit },
        ),
      );
      const totpDevices = await everyRow((offset, limit) =>
        stores.totpDevices.listTOTPDevices(
          tenantId,
          { userId },
          { search: [], ordering: byPk, offset, limit },
        ),
      );
      return serializeDevices(staticDevices, totpDevices);
    },
  );
}
