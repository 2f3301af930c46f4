import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../../app.js";
import { cookieOptions } from "../../pages/cookies.js";
import { csrfCookieMatches, csrfHash } from "../../selfservice/flows.js";
import { flowMessages, recoveryNodes } from "../../selfservice/nodes.js";
import type { Recovered, RecoveryOutcome } from "../../selfservice/redeem.js";
import { redeemRecoveryLink } from "../../selfservice/redeem.js";
import { initRecoveryFlow, submitRecoveryFlow } from "../../selfservice/recovery.js";
import type { SelfServiceRecoveryFlow } from "../../selfservice/store.js";
import { KratosError, kratosErrorOf } from "./errors.js";
import { CSRFViolation } from "../../errors.js";
import {
  type ContinueWith,
  type JSONObject,
  serializeRecoveryFlow,
  setSessionToken,
  showSettingsUI,
} from "./flows.js";
import { defaultReturnURL, expiredError } from "./flows.errors.js";
import {
  currentCSRFCookie,
  decodeSubmission,
  ensureCSRFCookie,
  flowIdParam,
  flowRequestOf,
  maskedCSRFToken,
  objectField,
  publicURLOf,
  queryParam,
  requireFlowParam,
  returnToParam,
  SESSION_COOKIE,
  setCSRFCookie,
  stringField,
  submittedFlowId,
} from "./flows.http.js";

/** The self-service recovery routes (kratos.md §3.4): init, read, submit, and the link method. */

async function recoveryJSON(
  deps: AppDeps,
  request: FastifyRequest,
  flow: SelfServiceRecoveryFlow,
  continueWith?: ContinueWith[],
): Promise<JSONObject> {
  const publicURL = await publicURLOf(deps, request);
  const csrf = flow.type === "api" ? "" : maskedCSRFToken(deps, request);
  const nodes = recoveryNodes(flow, csrf, deps.config.recoveryCodeLength);
  return serializeRecoveryFlow(publicURL, flow, nodes, flowMessages(flow.messages), continueWith);
}

/** Named preHandler step of the link method: answer as to a browser. */
async function answerAsBrowser(request: FastifyRequest): Promise<void> {
  request.selfService.json = false;
}

/** Sets the browser's session cookie for a newly issued session. */
export function setSessionCookie(deps: AppDeps, reply: FastifyReply, token: string): void {
  reply.setCookie(SESSION_COOKIE, token, cookieOptions(deps.config, deps.config.sessionLifetimeSeconds));
}

/** §3.4.7 step 8 (and step 6 with `skip_settings`): the answer for browser, SPA and API clients. */
async function sendRecovered(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  outcome: Recovered,
): Promise<FastifyReply> {
  const publicURL = await publicURLOf(deps, request);
  const { flow, issued, settingsFlow } = outcome;
  const api = flow.type === "api";
  if (!api) {
    setSessionCookie(deps, reply, issued.token);
    if (outcome.csrfCookie !== null) setCSRFCookie(deps, request, reply, outcome.csrfCookie);
  }
  if (!api && !request.selfService.json) {
    const location =
      settingsFlow !== null
        ? `${publicURL}/ui/settings?flow=${settingsFlow.id}`
        : (flow.returnTo ?? defaultReturnURL(publicURL));
    return reply.redirect(location, 303);
  }
  const continueWith: ContinueWith[] = [];
  if (api) continueWith.push(setSessionToken(issued.token));
  if (settingsFlow !== null) continueWith.push(showSettingsUI(publicURL, settingsFlow.id));
  return reply.code(200).send(await recoveryJSON(deps, request, flow, continueWith));
}

async function sendOutcome(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  outcome: RecoveryOutcome,
): Promise<FastifyReply> {
  if (outcome.kind === "recovered") {
    return sendRecovered(deps, request, reply, outcome);
  }
  if (outcome.flow.type === "api" || request.selfService.json) {
    return reply.code(outcome.status).send(await recoveryJSON(deps, request, outcome.flow));
  }
  return reply.redirect(`${await publicURLOf(deps, request)}/ui/recovery?flow=${outcome.flow.id}`, 303);
}

/** §3.4.3: 404, 403 (another browser's flow), 410 (expired), or the flow. */
async function readRecoveryFlow(deps: AppDeps, request: FastifyRequest): Promise<JSONObject> {
  const id = flowIdParam(request, "id");
  const flow =
    id === null
      ? null
      : await deps.persistence.stores.selfServiceRecovery.findRecoveryFlow(request.tenant.id, id);
  if (flow === null) {
    throw new KratosError(404, { message: "Unable to locate the resource" });
  }
  if (
    flow.type === "browser" &&
    flow.origin !== "admin" &&
    !csrfCookieMatches(flow.csrfHash, currentCSRFCookie(request))
  ) {
    throw kratosErrorOf(new CSRFViolation("The anti-CSRF cookie is missing or belongs to another flow."));
  }
  const publicURL = await publicURLOf(deps, request);
  const now = deps.clock.now();
  if (flow.expiresAt <= now) {
    if (flow.type === "api") {
      throw expiredError(flow.expiresAt, now, null, { api: `${publicURL}/self-service/recovery/api` });
    }
    const restart = `${publicURL}/self-service/recovery/browser${flow.returnTo === null ? "" : `?return_to=${encodeURIComponent(flow.returnTo)}`}`;
    throw new KratosError(410, {
      reason:
        "The recovery flow has expired. Redirect the user to the recovery flow init endpoint to initialize a new recovery flow.",
      details: { redirect_to: restart, return_to: flow.returnTo ?? "" },
    });
  }
  return recoveryJSON(deps, request, flow);
}

export function recoveryRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get("/self-service/recovery/browser", async function initBrowserRecovery(request, reply) {
    const context = await flowRequestOf(deps, request);
    const returnTo = returnToParam(deps, request, context.publicURL);
    const cookie = ensureCSRFCookie(deps, request, reply);
    const flow = await initRecoveryFlow(deps, context, {
      type: "browser",
      returnTo,
      csrfHash: csrfHash(cookie),
    });
    if (request.selfService.json) {
      return reply.code(200).send(await recoveryJSON(deps, request, flow));
    }
    return reply.redirect(`${context.publicURL}/ui/recovery?flow=${flow.id}`, 303);
  });

  app.get(
    "/self-service/recovery/api",
    { config: { json: true } },
    async function initAPIRecovery(request, reply) {
      const context = await flowRequestOf(deps, request);
      const returnTo = returnToParam(deps, request, context.publicURL);
      const flow = await initRecoveryFlow(deps, context, { type: "api", returnTo, csrfHash: null });
      return reply.code(200).send(await recoveryJSON(deps, request, flow));
    },
  );

  app.get(
    "/self-service/recovery/flows",
    { config: { json: true } },
    async function getRecoveryFlow(request, reply) {
      return reply.code(200).send(await readRecoveryFlow(deps, request));
    },
  );

  app.post(
    "/self-service/recovery",
    { preHandler: [requireFlowParam, decodeSubmission] },
    async function updateRecoveryFlow(request, reply) {
      const flowId = submittedFlowId(request);
      const body = request.selfService.fields;
      const context = await flowRequestOf(deps, request);
      const token =
        queryParam(request, "token") !== "" ? queryParam(request, "token") : stringField(body, "token");
      if (token !== "") {
        request.selfService.json = false; // the link method is always a browser flow (§3.4.7)
        return sendRecovered(deps, request, reply, await redeemRecoveryLink(deps, context, flowId, token));
      }
      const outcome = await submitRecoveryFlow(deps, context, flowId, {
        method: stringField(body, "method"),
        email: stringField(body, "email"),
        code: stringField(body, "code"),
        csrfToken: stringField(body, "csrf_token"),
        transientPayload: objectField(body, "transient_payload"),
      });
      return sendOutcome(deps, request, reply, outcome);
    },
  );

  // The link method is always a browser flow (§3.4.7): its answers are redirects, whatever was negotiated.
  app.get(
    "/self-service/recovery",
    { preHandler: [answerAsBrowser, requireFlowParam] },
    async function useRecoveryLink(request, reply) {
      const context = await flowRequestOf(deps, request);
      return sendRecovered(
        deps,
        request,
        reply,
        await redeemRecoveryLink(deps, context, submittedFlowId(request), queryParam(request, "token")),
      );
    },
  );
}
