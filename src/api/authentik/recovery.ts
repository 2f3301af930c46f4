import { Type } from "@sinclair/typebox";
import { durationFormatMessage, parseDurationString } from "../../durations.js";
import { ValidationFailed } from "../../errors.js";
import { auditOf, requestOrigin } from "../../http/context.js";
import { createAdminGroup, createRecoveryKey } from "../../recovery/keys.js";
import { sendRecoveryEmail } from "../../recovery/emails.js";
import { createRecoveryLink } from "../../recovery/links.js";
import { findTenantOrThrow } from "../../tenants/service.js";
import { authenticateBearer, requireSuperuser } from "./auth.js";
import type { ApiDeps, TypedApp } from "./deps.js";
import { formatDateTime } from "./format.js";
import { ErrorResponses } from "./schemas.js";
import { assertValidBody, integerId, uuidId } from "./steps.js";
import { tenantsAPIGate } from "./tenants.js";

/** `token_duration` is validated as a field: malformed or non-positive is a 400, not a 500 (A4). */
export function tokenDurationMs(text: string | undefined): number | null {
  if (text === undefined) {
    return null;
  }
  const ms = parseDurationString(text);
  if (ms === null) {
    throw ValidationFailed.field("token_duration", durationFormatMessage(text));
  }
  if (ms <= 0) {
    throw ValidationFailed.field("token_duration", "Ensure the duration is positive.");
  }
  return ms;
}

const Link = Type.Object({ link: Type.String() }, { title: "Link" });
const UserRecoveryLinkRequest = Type.Object(
  {
    token_duration: Type.Optional(Type.String({ minLength: 1 })),
    allow_mfa_reset: Type.Optional(
      Type.Boolean({ description: "Rekey extension: the recovery session may reset second factors" }),
    ),
  },
  { title: "UserRecoveryLinkRequest" },
);
const RecoveryKeyRequest = Type.Object(
  { user: Type.String({ minLength: 1 }), duration_days: Type.Integer({ minimum: 1, maximum: 3650 }) },
  { title: "TenantRecoveryKeyRequestRequest" },
);
const RecoveryKeyResponse = Type.Object(
  { expiry: Type.String({ format: "date-time" }), url: Type.String() },
  { title: "TenantRecoveryKeyResponse" },
);
const AdminGroupRequest = Type.Object(
  { user: Type.String({ minLength: 1 }) },
  { title: "TenantAdminGroupRequestRequest" },
);
const TenantParams = Type.Object({ tenant_uuid: Type.String() });

export function recoveryRoutes(app: TypedApp, deps: ApiDeps): void {
  const superuserOnly = [authenticateBearer(deps), requireSuperuser];

  app.post(
    "/core/users/:id/recovery/",
    {
      schema: {
        tags: ["core"],
        params: Type.Object({ id: Type.String() }),
        body: Type.Optional(UserRecoveryLinkRequest),
        response: { 200: Link, ...ErrorResponses },
      },
      preHandler: superuserOnly,
    },
    async (request) => {
      const userId = integerId(request.params.id);
      assertValidBody(request);
      const body = (request.body ?? {}) as { token_duration?: string; allow_mfa_reset?: boolean };
      const link = await createRecoveryLink(deps, auditOf(request, "rekey.api"), {
        tenant: request.tenant,
        userId,
        durationMs: tokenDurationMs(body.token_duration),
        allowMFAReset: body.allow_mfa_reset ?? false,
        requestOrigin: requestOrigin(request),
      });
      return { link: link.url };
    },
  );

  const gate = [tenantsAPIGate(deps)];

  app.post(
    "/tenants/tenants/:tenant_uuid/create_recovery_key/",
    {
      schema: {
        tags: ["tenants"],
        params: TenantParams,
        body: RecoveryKeyRequest,
        response: { 200: RecoveryKeyResponse, ...ErrorResponses },
      },
      onRequest: gate,
    },
    async (request) => {
      const tenant = await findTenantOrThrow(deps.persistence.stores, uuidId(request.params.tenant_uuid));
      assertValidBody(request);
      const domain = await deps.persistence.stores.tenants.primaryDomain(tenant.id);
      const key = await createRecoveryKey(deps, auditOf(request, "rekey.api", tenant), {
        tenant,
        username: request.body.user,
        days: request.body.duration_days,
        source: "tenants_api",
        baseURL: `${request.protocol}://${domain ?? request.host}`,
      });
      return { expiry: formatDateTime(key.expires), url: key.url };
    },
  );

  app.post(
    "/tenants/tenants/:tenant_uuid/create_admin_group/",
    {
      schema: {
        tags: ["tenants"],
        params: TenantParams,
        body: AdminGroupRequest,
        response: { 200: Type.Null(), ...ErrorResponses },
      },
      onRequest: gate,
    },
    async (request, reply) => {
      const tenant = await findTenantOrThrow(deps.persistence.stores, uuidId(request.params.tenant_uuid));
      assertValidBody(request);
      await createAdminGroup(deps, auditOf(request, "rekey.api", tenant), {
        tenant,
        username: request.body.user,
      });
      // authentik answers 200 with an empty body here (A1), not the `null` the schema would serialise.
      return reply.code(200).send(undefined as unknown as null);
    },
  );
}

const UserRecoveryEmailRequest = Type.Object(
  {
    email_stage: Type.String({ format: "uuid" }),
    token_duration: Type.Optional(Type.String({ minLength: 1 })),
  },
  { title: "UserRecoveryEmailRequest" },
);

/** `POST /core/users/{id}/recovery_email/` in its legacy (query) and current (body) forms. */
export function recoveryEmailRoutes(app: TypedApp, deps: ApiDeps): void {
  app.post(
    "/core/users/:id/recovery_email/",
    {
      schema: {
        tags: ["core"],
        params: Type.Object({ id: Type.String() }),
        querystring: Type.Object({ email_stage: Type.Optional(Type.String()) }),
        body: Type.Optional(UserRecoveryEmailRequest),
        response: { 204: Type.Null(), ...ErrorResponses },
      },
      preHandler: [authenticateBearer(deps), requireSuperuser],
    },
    async (request, reply) => {
      const userId = integerId(request.params.id);
      const queryStage = (request.query as { email_stage?: string | string[] }).email_stage;
      const legacy = queryStage !== undefined || request.bodyAbsent;
      let stageId = Array.isArray(queryStage) ? (queryStage[0] ?? "") : (queryStage ?? "");
      let durationMs: number | null = null;
      if (!legacy) {
        assertValidBody(request); // the legacy form ignores the body altogether
        const body = request.body as { email_stage: string; token_duration?: string };
        stageId = body.email_stage;
        durationMs = tokenDurationMs(body.token_duration);
      }
      await sendRecoveryEmail(deps, auditOf(request, "rekey.api"), {
        tenant: request.tenant,
        userId,
        stageId,
        durationMs,
        form: legacy ? "legacy" : "current",
        requestOrigin: requestOrigin(request),
      });
      return reply.code(204).send(null);
    },
  );
}
