import { Type } from "@sinclair/typebox";
import { regenerateBackupCodes } from "../../authenticators/service.js";
import type { StaticDevice } from "../../authenticators/store.js";
import { auditOf, authenticatedUser } from "../../http/context.js";
import { DeviceName, type DeviceKind, deviceRoutes } from "./authenticators.common.js";
import { authenticateBearer } from "./auth.js";
import type { ApiDeps, TypedApp } from "./deps.js";
import { deleteDevice, renameStaticDevice, STATIC_DEVICE } from "./devices.js";
import { ErrorResponses, PartialUser } from "./schemas.js";
import { partialUser } from "./serialize.js";
import { assertValidBody } from "./steps.js";

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

/** Static devices for the shared device routes (authenticators.common.ts). */
const STATIC_KIND: DeviceKind<StaticDevice, ReturnType<typeof serializeStaticDevice>> = {
  adminBase: "/authenticators/admin/static/",
  ownBase: "/authenticators/static/",
  model: STATIC_DEVICE,
  schema: StaticDeviceSchema,
  listTitle: "StaticDevice",
  putBody: StaticDeviceRequest,
  patchBody: PatchedStaticDeviceRequest,
  find: (deps, tenantId, id) => deps.persistence.stores.staticDevices.findStaticDevice(tenantId, id),
  list: (deps, tenantId, filters, query) =>
    deps.persistence.stores.staticDevices.listStaticDevices(tenantId, filters, query),
  serialize: (device, owner) => serializeStaticDevice(device, owner),
  rename: renameStaticDevice,
  // As for TOTP devices: an admin removing backup codes resets MFA and ends the owner's sessions.
  remove: (deps, audit, device, options) => deleteDevice(deps, audit, { kind: "static", device }, options),
};

export function staticDeviceRoutes(app: TypedApp, deps: ApiDeps): void {
  const authenticate = authenticateBearer(deps);
  deviceRoutes(app, deps, STATIC_KIND);

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
