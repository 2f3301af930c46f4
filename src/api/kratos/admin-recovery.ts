import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { auditOf, requestOrigin } from "../../http/context.js";
import {
  createAdminRecoveryCode,
  createAdminRecoveryLink,
  isReturnToAllowed,
} from "../../selfservice/admin.js";
import type { FlowType } from "../../selfservice/store.js";
import { tenantPublicURL } from "../../tenants/service.js";
import type { ApiDeps } from "../authentik/deps.js";
import { GoDecodeError, type GoStruct, decodeGoStruct, goQuote } from "./decode.js";
import { formatGoDuration, parseGoDuration } from "./duration.js";
import { KratosError } from "./errors.js";
import { formatKratosTime } from "./format.js";
import { sendJSON } from "./reply.js";

/** `POST /admin/recovery/code` and `/admin/recovery/link` (kratos.md §3.2, §3.3), in Kratos' order. */

const NIL_UUID = "00000000-0000-0000-0000-000000000000";
const ONE_HOUR_NS = 3_600_000_000_000n;

const CODE_BODY: GoStruct = {
  qualifiedName: "code.createRecoveryCodeForIdentityBody",
  name: "createRecoveryCodeForIdentityBody",
  fields: {
    identity_id: { kind: "uuid" },
    expires_in: { kind: "string", goType: "string" },
    flow_type: { kind: "string", goType: "flow.Type" },
  },
};

const LINK_BODY: GoStruct = {
  qualifiedName: "link.createRecoveryLinkForIdentityBody",
  name: "createRecoveryLinkForIdentityBody",
  fields: { identity_id: { kind: "uuid" }, expires_in: { kind: "string", goType: "string" } },
};

/** The media type of a Content-Type header, lower case, without parameters. */
function mediaType(header: string): string {
  return header.split(";")[0]!.trim().toLowerCase();
}

/**
 * ory/x decoderx's order (kratos.md §2.8): an empty body, then the media type, then the JSON, each
 * with its own text; unknown fields are ignored.
 */
export function decodeAdminBody(request: FastifyRequest, struct: GoStruct): Record<string, unknown> {
  const body = request.body as Buffer | undefined;
  if (body === undefined || body === null || body.length === 0) {
    throw KratosError.badRequest(
      'Unable to decode HTTP Request Body because its HTTP Header "Content-Length" is zero.',
    );
  }
  const contentType = request.headers["content-type"] ?? "";
  if (mediaType(contentType) !== "application/json") {
    throw KratosError.badRequest(
      `HTTP ${request.method} Request used unknown HTTP Header "Content-Type: ${contentType}", only [application/json] are supported.`,
    );
  }
  try {
    return decodeGoStruct(body.toString("utf8"), struct, { strict: false });
  } catch (error) {
    if (error instanceof GoDecodeError) {
      throw KratosError.badRequest(`Unable to decode JSON payload: ${error.message}`);
    }
    throw error;
  }
}

/** `expires_in` in nanoseconds: absent or empty is one hour; unparsable is the shared 400. */
function expiresIn(raw: unknown): bigint {
  if (typeof raw !== "string" || raw === "") {
    return ONE_HOUR_NS;
  }
  const nanos = parseGoDuration(raw);
  if (nanos === null) {
    throw KratosError.badRequest(
      `Unable to parse "expires_in" as a duration string (e.g. "1h", "1m30s", "500ms"): ${raw}`,
    );
  }
  return nanos;
}

function lifespanMs(nanos: bigint): number {
  return Number(nanos) / 1_000_000;
}

/** The `return_to` query value (first one, as Go's Query().Get); null when absent or empty. */
function returnToOf(request: FastifyRequest): string | null {
  const query = request.url.includes("?") ? request.url.slice(request.url.indexOf("?") + 1) : "";
  const value = new URLSearchParams(query).get("return_to");
  return value === null || value === "" ? null : value;
}

function checkReturnTo(deps: ApiDeps, publicURL: string, returnTo: string | null): void {
  if (returnTo !== null && !isReturnToAllowed(publicURL, deps.config.allowedReturnURLs, returnTo)) {
    throw new KratosError(400, {
      id: "self_service_flow_return_to_forbidden",
      reason: `Requested return_to URL ${goQuote(returnTo)} is not allowed.`,
    });
  }
}

function requestURL(request: FastifyRequest): string {
  return `${requestOrigin(request)}${request.url}`;
}

export function recoveryAdminRoutes(
  app: FastifyInstance,
  deps: ApiDeps,
  authenticate: onRequestAsyncHookHandler,
): void {
  app.post(
    "/recovery/code",
    { onRequest: authenticate },
    async function createRecoveryCodeForIdentity(request, reply) {
      const body = decodeAdminBody(request, CODE_BODY);
      const nanos = expiresIn(body["expires_in"]);
      if (nanos <= 0n) {
        throw KratosError.badRequest(
          `Value from "expires_in" must result to a future time: ${formatGoDuration(nanos)}`,
        );
      }
      const flowType = (body["flow_type"] as string | undefined) ?? "";
      if (flowType !== "" && flowType !== "api" && flowType !== "browser") {
        throw KratosError.badRequest(`Value from "flow_type" is not valid: ${goQuote(flowType)}`);
      }
      const publicURL = await tenantPublicURL(deps, request.tenant, requestOrigin(request));
      const returnTo = returnToOf(request);
      checkReturnTo(deps, publicURL, returnTo);
      const issued = await createAdminRecoveryCode(deps, auditOf(request, "rekey.kratos"), {
        tenantId: request.tenant.id,
        identityId: (body["identity_id"] as string | undefined) ?? NIL_UUID,
        lifespanMs: lifespanMs(nanos),
        returnTo,
        requestURL: requestURL(request),
        flowType: (flowType === "" ? "browser" : flowType) as FlowType,
      });
      if (issued === null) {
        throw new KratosError(404, {
          reason: "could not find identity",
          message: "Unable to locate the resource",
        });
      }
      return sendJSON(reply, 201, {
        recovery_link: `${publicURL}/ui/recovery?flow=${issued.flow.id}`,
        recovery_code: issued.code,
        expires_at: formatKratosTime(issued.flow.expiresAt),
      });
    },
  );

  app.post(
    "/recovery/link",
    { onRequest: authenticate },
    async function createRecoveryLinkForIdentity(request, reply) {
      const body = decodeAdminBody(request, LINK_BODY);
      const nanos = expiresIn(body["expires_in"]);
      if (nanos <= 0n) {
        // Kratos' own wording here ("must be result") and the raw value, unlike the code route (sic).
        throw KratosError.badRequest(
          `Value from "expires_in" must be result to a future time: ${body["expires_in"] as string}`,
        );
      }
      const publicURL = await tenantPublicURL(deps, request.tenant, requestOrigin(request));
      const returnTo = returnToOf(request);
      checkReturnTo(deps, publicURL, returnTo);
      const issued = await createAdminRecoveryLink(deps, auditOf(request, "rekey.kratos"), {
        tenantId: request.tenant.id,
        identityId: (body["identity_id"] as string | undefined) ?? NIL_UUID,
        lifespanMs: lifespanMs(nanos),
        returnTo,
        requestURL: requestURL(request),
      });
      if (issued === null) {
        throw KratosError.badRequest("The requested identity id does not exist.");
      }
      return sendJSON(reply, 200, {
        recovery_link: `${publicURL}/self-service/recovery?flow=${issued.flow.id}&token=${issued.token}`,
        expires_at: formatKratosTime(issued.flow.expiresAt),
      });
    },
  );
}
