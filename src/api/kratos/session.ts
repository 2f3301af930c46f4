import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../../app.js";
import { clearCookie } from "../../pages/cookies.js";
import { SessionRequired } from "../../selfservice/errors.js";
import { resolveReturnTo } from "../../selfservice/flows.js";
import { endSession, signedInBy, whoamiBy } from "../../selfservice/sessions.js";
import { SecondFactorRequired } from "../../selfservice/errors.js";
import type { Session } from "../../sessions/store.js";
import type { UserProfile } from "../../users/store.js";
import { KratosError } from "./errors.js";
import type { JSONObject } from "./flows.js";
import {
  decodeBody,
  flowRequestOf,
  presentedSessionToken,
  publicURLOf,
  queryParam,
  SESSION_COOKIE,
  stringField,
} from "./flows.http.js";
import { formatKratosTime } from "./format.js";
import { serializeIdentity } from "./identity.js";

/** Sessions on the public side (kratos.md §3.6.3, §3.6.5): whoami and logout. */

const SECOND_FACTOR_METHODS = new Set(["totp", "lookup_secret"]);

/**
 * Kratos' `SessionDevice` (kratos.md §3.6.3): Rekey does no geolocation, so `location` is null; an
 * unknown address or User-Agent is null too, as Kratos' nullable fields are.
 */
function serializeDevices(session: Session): JSONObject[] {
  if (session.device === null) {
    return [];
  }
  return [
    {
      id: session.device.id,
      ip_address: session.device.ipAddress,
      user_agent: session.device.userAgent,
      location: null,
    },
  ];
}

/**
 * `session` in Kratos' key order. Each method completed when the session was issued, the last one
 * when it last authenticated. Sessions issued before devices were recorded show none.
 */
export function serializeSession(publicURL: string, session: Session, user: UserProfile): JSONObject {
  const last = session.authMethods.length - 1;
  return {
    id: session.id,
    active: true,
    expires_at: formatKratosTime(session.expiresAt),
    authenticated_at: formatKratosTime(session.authenticatedAt),
    authenticator_assurance_level: session.aal,
    authentication_methods: session.authMethods.map((method, index) => ({
      method,
      aal: SECOND_FACTOR_METHODS.has(method) ? "aal2" : "aal1",
      completed_at: formatKratosTime(index === last ? session.authenticatedAt : session.issuedAt),
    })),
    issued_at: formatKratosTime(session.issuedAt),
    identity: serializeIdentity(publicURL, user, { admin: false }),
    devices: serializeDevices(session),
  };
}

const NO_CREDENTIALS = "No valid session credentials found in the request.";

/** The logout token of a browser session: an HMAC of its id under the server secret, so it needs no column. */
function logoutToken(deps: AppDeps, sessionId: string): string {
  return `ory_lo_${deps.codeHMAC.digest(`logout\u0000${sessionId}`)}`;
}

function logoutTokenMatches(deps: AppDeps, sessionId: string, token: string): boolean {
  return (
    token.startsWith("ory_lo_") &&
    deps.codeHMAC.matches(`logout\u0000${sessionId}`, token.slice("ory_lo_".length))
  );
}

export function sessionRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get("/sessions/whoami", { config: { json: true } }, async function whoami(request, reply) {
    if (queryParam(request, "tokenize_as") !== "") {
      throw KratosError.badRequest("tokenize_as is not supported by this server.");
    }
    const token = presentedSessionToken(request);
    const signedIn = token === null ? null : await whoamiBy(deps, request.tenant.id, token);
    if (signedIn === null) {
      throw new KratosError(401, { reason: NO_CREDENTIALS });
    }
    if (signedIn.needsSecondFactor) {
      throw new SecondFactorRequired();
    }
    const publicURL = await publicURLOf(deps, request);
    return reply
      .code(200)
      .header("x-kratos-authenticated-identity-id", signedIn.user.uuid)
      .send(serializeSession(publicURL, signedIn.session, signedIn.user));
  });

  app.delete(
    "/self-service/logout/api",
    { config: { json: true } },
    async function logoutAPI(request, reply) {
      const body = decodeBody(request.body);
      const token = stringField(body, "session_token");
      const signedIn = token === "" ? null : await signedInBy(deps, request.tenant.id, token);
      if (signedIn === null) {
        throw new KratosError(403, { reason: "Unable to parse or find the session token." });
      }
      const context = await flowRequestOf(deps, request);
      await endSession(deps, context.audit, signedIn);
      return reply.code(204).send();
    },
  );

  app.get(
    "/self-service/logout/browser",
    { config: { json: true } },
    async function createLogoutURL(request, reply) {
      const cookie = request.cookies[SESSION_COOKIE];
      const signedIn = cookie === undefined ? null : await signedInBy(deps, request.tenant.id, cookie);
      if (signedIn === null) {
        throw new SessionRequired();
      }
      const publicURL = await publicURLOf(deps, request);
      const returnTo = queryParam(request, "return_to");
      if (returnTo !== "" && resolveReturnTo(publicURL, deps.config.allowedReturnURLs, returnTo) === null) {
        throw new KratosError(400, {
          id: "self_service_flow_return_to_forbidden",
          reason: `Requested return_to URL "${returnTo}" is not allowed.`,
        });
      }
      const token = logoutToken(deps, signedIn.session.id);
      const query = returnTo === "" ? "" : `&return_to=${encodeURIComponent(returnTo)}`;
      return reply
        .code(200)
        .send({ logout_url: `${publicURL}/self-service/logout?token=${token}${query}`, logout_token: token });
    },
  );

  app.get("/self-service/logout", async function logoutBrowser(request, reply) {
    const cookie = request.cookies[SESSION_COOKIE];
    const signedIn = cookie === undefined ? null : await signedInBy(deps, request.tenant.id, cookie);
    if (signedIn === null) {
      throw new SessionRequired();
    }
    if (!logoutTokenMatches(deps, signedIn.session.id, queryParam(request, "token"))) {
      throw new KratosError(403, {
        reason:
          "Unable to log out because the logout token in the URL query does not match the session cookie.",
      });
    }
    const context = await flowRequestOf(deps, request);
    await endSession(deps, context.audit, signedIn);
    clearCookie(reply, deps.config, SESSION_COOKIE);
    if (request.selfService.json) {
      return reply.code(204).send();
    }
    const returnTo = resolveReturnTo(
      context.publicURL,
      deps.config.allowedReturnURLs,
      queryParam(request, "return_to"),
    );
    return reply.redirect(returnTo ?? `${context.publicURL}/ui/login`, 303);
  });
}
