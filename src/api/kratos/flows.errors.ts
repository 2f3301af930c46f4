import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../../app.js";
import { AppError, type AnyAppError, CSRFViolation, RateLimited } from "../../errors.js";
import {
  APIFlowFromBrowser,
  AssuranceLevelReached,
  FirstFactorRequired,
  FlowExpired,
  FlowNotFound,
  IdentityMismatch,
  RecoveryRetry,
  SecondFactorRequired,
  SessionAlreadyAvailable,
  SessionRefreshRequired,
  SessionRequired,
} from "../../selfservice/errors.js";
import { resolveReturnTo } from "../../selfservice/flows.js";
import { formatMinutes } from "../../selfservice/messages.js";
import { KratosError, kratosErrorHandler, kratosErrorOf } from "./errors.js";
import { formatKratosTime } from "./format.js";
import { showRecoveryUI, showSettingsUI } from "./flows.js";
import { publicURLOf, queryParam, setCSRFCookie } from "./flows.http.js";
import { errorKey, sendErrorPage } from "../../ui/errors.js";

/**
 * How the public routes answer the self-service outcomes: errorGeneric JSON for API and SPA
 * clients, a redirect (or an error page) for browsers (kratos.md §2.6, §3.4.6, §3.4.8).
 */

/** The step-up page for a session that lacks its second factor (§3.6.1). */
export function stepUpURL(publicURL: string, returnTo: string): string {
  return `${publicURL}/ui/login?aal=aal2&return_to=${encodeURIComponent(returnTo)}`;
}

/** Where a browser goes when there is nothing to do (kratos.md §2.1). */
export function defaultReturnURL(publicURL: string): string {
  return `${publicURL}/ui/settings`;
}

const SESSION_ALREADY_REASON = {
  recovery: "A valid session was detected and thus recovery is not possible.",
  login:
    "A valid session was detected and thus login is not possible. Did you forget to set `?refresh=true`?",
};

/** The ExpiredError of §2.4: 410 with `expired_at`, `since` and `use_flow_id` beside `error`. */
export function expiredError(
  expiredAt: Date,
  now: Date,
  useFlowId: string | null,
  details: Record<string, unknown>,
): KratosError {
  const ago = now.getTime() - expiredAt.getTime();
  return new KratosError(
    410,
    {
      id: "self_service_flow_expired",
      reason: `The self-service flow expired ${formatMinutes(ago)} minutes ago, initialize a new one.`,
      details,
      message: "self-service flow expired",
    },
    {
      extra: {
        expired_at: formatKratosTime(expiredAt),
        since: Math.round(ago * 1e6),
        use_flow_id: useFlowId ?? "00000000-0000-0000-0000-000000000000",
      },
    },
  );
}

function retryError(error: RecoveryRetry): KratosError {
  const continueWith = [showRecoveryUI(error.replacement.flow.id)];
  if (error.why === "csrf") {
    const csrf = kratosErrorOf(new CSRFViolation(error.message));
    return new KratosError(403, {
      ...csrf.body,
      details: { ...csrf.body.details, continue_with: continueWith },
    });
  }
  if (error.why === "identity_disabled") {
    return new KratosError(400, {
      id: "identity_disabled",
      reason: error.message,
      details: { continue_with: continueWith },
      message: "identity is disabled",
    });
  }
  return new KratosError(400, { reason: error.message, details: { continue_with: continueWith } });
}

/** The self-service outcomes in the Kratos dialect; null for anything else. */
export function kratosErrorOfFlow(error: unknown, publicURL: string, now: Date): KratosError | null {
  if (error instanceof KratosError) return error;
  if (error instanceof RecoveryRetry) return retryError(error);
  if (error instanceof FlowExpired) {
    const flowId = error.replacement.flow.id;
    const details =
      error.kind === "recovery"
        ? { continue_with: [showRecoveryUI(flowId)] }
        : error.kind === "settings"
          ? { continue_with: [showSettingsUI(publicURL, flowId)] }
          : {};
    return expiredError(error.expiredAt, now, flowId, details);
  }
  if (error instanceof FlowNotFound) return new KratosError(404, { reason: error.message });
  if (error instanceof SessionAlreadyAvailable) {
    return new KratosError(400, {
      id: "session_already_available",
      reason: SESSION_ALREADY_REASON[error.kind],
    });
  }
  if (error instanceof SessionRequired) {
    return new KratosError(401, {
      id: "session_inactive",
      reason: error.message,
      message: "request does not have a valid authentication session",
    });
  }
  if (error instanceof SecondFactorRequired) {
    const redirect = stepUpURL(publicURL, defaultReturnURL(publicURL));
    return new KratosError(
      403,
      {
        id: "session_aal2_required",
        reason:
          "An active session was found but it does not fulfill the requested Authenticator Assurance Level. Please verify yourself with a second factor to resolve this issue.",
        details: { redirect_browser_to: redirect },
        message: "Session does not fulfill the requested Authenticator Assurance Level",
      },
      { extra: { redirect_browser_to: redirect } },
    );
  }
  if (error instanceof FirstFactorRequired)
    return new KratosError(401, { id: "session_aal1_required", reason: error.message });
  if (error instanceof AssuranceLevelReached) {
    return new KratosError(401, {
      id: "session_aal_already_fulfilled",
      reason: error.message,
      message: "session has the requested authenticator assurance level already",
    });
  }
  if (error instanceof SessionRefreshRequired) {
    return new KratosError(
      403,
      { id: "session_refresh_required", reason: error.message },
      { extra: { redirect_browser_to: `${publicURL}/ui/recovery` } },
    );
  }
  if (error instanceof IdentityMismatch)
    return new KratosError(403, { id: "security_identity_mismatch", reason: error.message });
  if (error instanceof APIFlowFromBrowser) return KratosError.badRequest(error.message);
  if (error instanceof AppError && error.expose) {
    // Not every exposed error is in AnyAppError (the self-service ones above are not): kratosErrorOf
    // gives those outside it their own 4xx status, and a 500 only to what can only be a bug.
    return kratosErrorOf(error as AnyAppError);
  }
  return null;
}

/** Where a browser is sent instead of an error body; null to show an error page. */
function browserLocation(error: unknown, publicURL: string, returnTo: string | null): string | null {
  if (error instanceof RecoveryRetry) return `${publicURL}/ui/recovery?flow=${error.replacement.flow.id}`;
  if (error instanceof FlowExpired) return `${publicURL}/ui/${error.kind}?flow=${error.replacement.flow.id}`;
  // Nothing to do for a signed-in browser: on to where it was going (kratos.md §3.4.2, §3.6.5).
  if (error instanceof SessionAlreadyAvailable || error instanceof AssuranceLevelReached)
    return returnTo ?? defaultReturnURL(publicURL);
  if (error instanceof SecondFactorRequired) return stepUpURL(publicURL, defaultReturnURL(publicURL));
  if (error instanceof SessionRequired || error instanceof SessionRefreshRequired)
    return `${publicURL}/ui/recovery`;
  return null;
}

/** The replacement flow's cookie travels with any answer about it. */
function replacementCookie(error: unknown): string | null {
  if (error instanceof RecoveryRetry || error instanceof FlowExpired) return error.replacement.csrfCookie;
  return null;
}

/** An API flow's answers are JSON whatever the request negotiated. */
function answersJSON(request: FastifyRequest, error: unknown): boolean {
  if (error instanceof RecoveryRetry || error instanceof FlowExpired) {
    return request.selfService.json || error.replacement.flow.type === "api";
  }
  return request.selfService.json || error instanceof APIFlowFromBrowser;
}

/** Fastify's own refusals (body too large, bad media type) as Kratos errors; null for anything else. */
function otherClientError(error: FastifyError): KratosError | null {
  const status = error instanceof AppError ? undefined : error.statusCode;
  return status !== undefined && status >= 400 && status < 500
    ? new KratosError(status, { reason: error.message })
    : null;
}

/** The error handler of the public routes. */
export function publicErrorHandler(deps: AppDeps) {
  return async function publicErrorHandler(
    error: FastifyError,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply> {
    const publicURL = await publicURLOf(deps, request);
    const cookie = replacementCookie(error);
    if (cookie !== null) {
      setCSRFCookie(deps, request, reply, cookie);
    }
    const json = answersJSON(request, error);
    // An SPA learns of its expired recovery flow by being sent to the new one (§3.4.8).
    if (
      json &&
      error instanceof FlowExpired &&
      error.kind === "recovery" &&
      error.replacement.flow.type === "browser"
    ) {
      return reply.redirect(`${publicURL}/self-service/recovery/flows?id=${error.replacement.flow.id}`, 303);
    }
    const returnTo = resolveReturnTo(
      publicURL,
      deps.config.allowedReturnURLs,
      queryParam(request, "return_to"),
    );
    const location = json ? null : browserLocation(error, publicURL, returnTo);
    if (location !== null) {
      return reply.redirect(location, 303);
    }
    let kratos = kratosErrorOfFlow(error, publicURL, deps.clock.now()) ?? otherClientError(error);
    if (kratos === null) {
      kratos = new KratosError(500, {}, { cause: error });
    }
    if (!json) {
      // Browsers see the error on Rekey's error page; a rate limit or a failure is shown at once.
      if (kratos.status >= 500) {
        request.log.error({ err: kratos.cause ?? error }, "unhandled error");
        return sendErrorPage(deps, reply, "server_error", { status: 500 });
      }
      if (error instanceof RateLimited) {
        return sendErrorPage(deps, reply, errorKey(kratos), {
          status: 429,
          retryAfterSeconds: error.retryAfterSeconds,
        });
      }
      return reply.redirect(`${publicURL}/ui/error?id=${encodeURIComponent(errorKey(kratos))}`, 303);
    }
    return kratosErrorHandler(kratos as unknown as FastifyError, request, reply);
  };
}
