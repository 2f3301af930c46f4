import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../app.js";
import { CSRFViolation, RateLimited } from "../errors.js";
import { KratosError } from "../api/kratos/errors.js";
import { setSecurityHeaders, sendPage } from "../pages/steps.js";
import { csrfCookieMatches } from "../selfservice/flows.js";
import { flowMessages, loginNodes, recoveryNodes } from "../selfservice/nodes.js";
import { settingsFormNodes } from "../api/kratos/flows.settings.js";
import { secondFactorsOf } from "../selfservice/sessions.js";
import {
  FlowNotFound,
  IdentityMismatch,
  SecondFactorRequired,
  SessionRequired,
} from "../selfservice/errors.js";
import { readSettingsFlow } from "../selfservice/settings.js";
import {
  currentCSRFCookie,
  flowIdParam,
  flowRequestOf,
  maskedCSRFToken,
  publicURLOf,
  queryParam,
} from "../api/kratos/flows.http.js";
import { stepUpURL } from "../api/kratos/flows.errors.js";
import { errorKey, errorPage, sendErrorPage } from "./errors.js";
import { stepUpPages } from "./stepup.js";
import { signedInAs } from "../pages/text.js";
import { flowPage, UI_LABELS } from "./views.js";

/**
 * Rekey's pages for the self-service flows (kratos.md §2.1): `/ui/recovery`, `/ui/settings`,
 * `/ui/login` and `/ui/error`. Each fetches its flow as a client would and renders its nodes as a
 * form that posts to the flow's `ui.action`; a missing, unknown or expired flow starts a new one.
 * Every answer carries the pages' security headers (CSP with no script, no referrer).
 */

function restart(reply: FastifyReply, url: string): FastifyReply {
  return reply.redirect(url, 303);
}

/** A browser flow bound to another browser's anti-CSRF cookie: refused, with a way to start again. */
function refused(deps: AppDeps, reply: FastifyReply, publicURL: string): FastifyReply {
  return sendPage(reply, 403, errorPage(deps, publicURL, "security_csrf_violation"));
}

async function recoveryPage(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const publicURL = await publicURLOf(deps, request);
  const init = `${publicURL}/self-service/recovery/browser`;
  const id = flowIdParam(request, "flow");
  const flow =
    id === null
      ? null
      : await deps.persistence.stores.selfServiceRecovery.findRecoveryFlow(request.tenant.id, id);
  if (flow === null || flow.expiresAt <= deps.clock.now()) {
    return restart(reply, flow?.returnTo ? `${init}?return_to=${encodeURIComponent(flow.returnTo)}` : init);
  }
  if (
    flow.type === "browser" &&
    flow.origin !== "admin" &&
    !csrfCookieMatches(flow.csrfHash, currentCSRFCookie(request))
  ) {
    return refused(deps, reply, publicURL);
  }
  const nodes = recoveryNodes(
    flow,
    flow.type === "api" ? "" : maskedCSRFToken(deps, request),
    deps.config.recoveryCodeLength,
  );
  return sendPage(
    reply,
    200,
    flowPage({
      brand: deps.config.brandTitle,
      title: UI_LABELS.recoverTitle,
      action: `${publicURL}/self-service/recovery?flow=${flow.id}`,
      nodes,
      messages: flowMessages(flow.messages),
      links: [{ href: `${publicURL}/self-service/login/browser`, label: UI_LABELS.backToSignIn }],
    }),
  );
}

async function settingsPage(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const context = await flowRequestOf(deps, request);
  const publicURL = context.publicURL;
  const id = flowIdParam(request, "flow");
  if (id === null) {
    return restart(reply, `${publicURL}/self-service/settings/browser`);
  }
  try {
    const { flow, user } = await readSettingsFlow(deps, context, id);
    if (flow.expiresAt <= deps.clock.now()) {
      return restart(reply, `${publicURL}/self-service/settings/browser`);
    }
    const nodes = await settingsFormNodes(deps, request, flow, user);
    return sendPage(
      reply,
      200,
      flowPage({
        brand: deps.config.brandTitle,
        title: UI_LABELS.settingsTitle,
        action: `${publicURL}/self-service/settings?flow=${flow.id}`,
        nodes: [],
        groupedNodes: nodes,
        messages: flowMessages(flow.messages),
        intro: signedInAs(user.email !== "" ? user.email : user.username),
      }),
    );
  } catch (error) {
    if (error instanceof FlowNotFound) return restart(reply, `${publicURL}/self-service/settings/browser`);
    if (error instanceof SessionRequired) return restart(reply, `${publicURL}/ui/recovery`);
    if (error instanceof SecondFactorRequired)
      return restart(reply, stepUpURL(publicURL, `${publicURL}/ui/settings?flow=${id}`));
    if (error instanceof IdentityMismatch || error instanceof CSRFViolation)
      return refused(deps, reply, publicURL);
    throw error;
  }
}

async function loginPage(deps: AppDeps, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const context = await flowRequestOf(deps, request);
  const publicURL = context.publicURL;
  const id = flowIdParam(request, "flow");
  const flow =
    id === null ? null : await deps.persistence.stores.loginFlows.findLoginFlow(request.tenant.id, id);
  if (flow === null || flow.expiresAt <= deps.clock.now()) {
    const query = new URLSearchParams();
    for (const name of ["refresh", "return_to"]) {
      if (queryParam(request, name) !== "") query.set(name, queryParam(request, name));
    }
    const search = query.size > 0 ? `?${query.toString()}` : "";
    return restart(reply, `${publicURL}/self-service/login/browser${search}`);
  }
  if (flow.type === "browser" && !csrfCookieMatches(flow.csrfHash, currentCSRFCookie(request))) {
    return refused(deps, reply, publicURL);
  }
  const session = context.session;
  const factors =
    flow.requestedAAL === "aal2" && session !== null
      ? await secondFactorsOf(deps.persistence.stores, request.tenant.id, session.user.id)
      : { totp: false, lookupSecret: false };
  const nodes = loginNodes(flow, flow.type === "api" ? "" : maskedCSRFToken(deps, request), factors);
  return sendPage(
    reply,
    200,
    flowPage({
      brand: deps.config.brandTitle,
      title: UI_LABELS.signIn,
      action: `${publicURL}/self-service/login?flow=${flow.id}`,
      nodes,
      messages: flowMessages(flow.messages),
      links: [{ href: `${publicURL}/self-service/recovery/browser`, label: UI_LABELS.forgotPassword }],
    }),
  );
}

/** The pages, registered in their own scope so only they carry the pages' headers and error page. */
export function uiPages(deps: AppDeps) {
  return async function uiPages(app: FastifyInstance): Promise<void> {
    app.addHook("onSend", setSecurityHeaders);
    app.setErrorHandler(async function uiErrorHandler(error: FastifyError, request, reply) {
      if (error instanceof CSRFViolation) {
        return sendErrorPage(deps, reply, "security_csrf_violation", { status: 403 });
      }
      if (error instanceof RateLimited) {
        return sendErrorPage(deps, reply, "too_many_requests", {
          status: 429,
          retryAfterSeconds: error.retryAfterSeconds,
        });
      }
      if (error instanceof KratosError && error.status < 500) {
        return sendErrorPage(deps, reply, errorKey(error), { status: error.status });
      }
      if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
        return sendErrorPage(deps, reply, "bad_request", { status: error.statusCode });
      }
      request.log.error({ err: error }, "error on a self-service page");
      return sendErrorPage(deps, reply, "server_error", { status: 500 });
    });

    app.get("/ui/recovery", async (request, reply) => recoveryPage(deps, request, reply));
    app.get("/ui/settings", async (request, reply) => settingsPage(deps, request, reply));
    app.get("/ui/login", async (request, reply) => {
      if (queryParam(request, "aal") === "aal2" && flowIdParam(request, "flow") === null) {
        return stepUpPages.show(deps, request, reply);
      }
      return loginPage(deps, request, reply);
    });
    app.post("/ui/login", async (request, reply) => stepUpPages.submit(deps, request, reply));
    app.get("/ui/error", async (request, reply) => {
      const publicURL = await publicURLOf(deps, request);
      return sendPage(reply, 200, errorPage(deps, publicURL, queryParam(request, "id")));
    });
  };
}
