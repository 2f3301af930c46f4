import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { createTOTPDevice } from "../../authenticators/service.js";
import type { TOTPAlgorithm, TOTPDevice } from "../../authenticators/store.js";
import { decodeBase32Secret } from "../../authenticators/totp.js";
import { ValidationFailed } from "../../errors.js";
import { auditOf, authenticatedUser } from "../../http/context.js";
import type { User } from "../../users/store.js";
import { DeviceName, type DeviceKind, deviceRoutes } from "./authenticators.common.js";
import { authenticateBearer, requireSuperuser } from "./auth.js";
import type { ApiDeps, TypedApp } from "./deps.js";
import { deleteDevice, renameTOTPDevice, userByPk } from "./devices.js";
import { ErrorResponses, PartialUser } from "./schemas.js";
import { partialUser } from "./serialize.js";
import { assertValidBody } from "./steps.js";

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

/** TOTP devices for the shared device routes (authenticators.common.ts). */
const TOTP_KIND: DeviceKind<TOTPDevice, ReturnType<typeof serializeTOTPDevice>> = {
  adminBase: "/authenticators/admin/totp/",
  ownBase: "/authenticators/totp/",
  model: "TOTPDevice",
  schema: TOTPDeviceSchema,
  listTitle: "TOTPDevice",
  putBody: TOTPDeviceRequest,
  patchBody: PatchedTOTPDeviceRequest,
  find: (deps, tenantId, id) => deps.persistence.stores.totpDevices.findTOTPDevice(tenantId, id),
  list: (deps, tenantId, filters, query) =>
    deps.persistence.stores.totpDevices.listTOTPDevices(tenantId, filters, query),
  serialize: serializeTOTPDevice,
  rename: renameTOTPDevice,
  remove: (deps, audit, device, options) => deleteDevice(deps, audit, { kind: "totp", device }, options),
};

export function totpDeviceRoutes(app: TypedApp, deps: ApiDeps): void {
  const authenticate = authenticateBearer(deps);
  deviceRoutes(app, deps, TOTP_KIND);

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
