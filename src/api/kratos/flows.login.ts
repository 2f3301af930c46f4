import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../../app.js";
import { CSRFViolation } from "../../errors.js";
import { csrfCookieMatches, csrfHash, type FlowRequest } from "../../selfservice/flows.js";
import { initLoginFlow, type LoginOutcome, submitLoginFlow } from "../../selfservice/login.js";
import { flowMessages, loginNodes, type SecondFactors } from "../../selfservice/nodes.js";
import { secondFactorsOf } from "../../selfservice/sessions.js";
import type { AssuranceLevel } from "../../sessions/store.js";
import type { LoginFlow } from "../../selfservice/store.js";
import { KratosError, kratosErrorOf } from "./errors.js";
import { type JSONObject, redirectBrowserTo, serializeLoginFlow } from "./flows.js";
import { defaultReturnURL } from "./flows.errors.js";
import {
  currentCSRFCookie,
  decodeSubmission,
  ensureCSRFCookie,
  flowIdParam,
  flowRequestOf,
  maskedCSRFToken,
  presentedSessionToken,
  publicURLOf,
  queryParam,
  requireFlowParam,
  returnToParam,
  setCSRFCookie,
  stringField,
  submittedFlowId,
} from "./flows.http.js";
import { setSessionCookie } from "./flows.recovery.js";
import { serializeSession } from "./session.js";

/** The login routes (kratos.md §3.6.5) with the password method. */

const NO_FACTORS: SecondFactors = { totp: false, lookupSecret: false };

async function loginJSON(
  deps: AppDeps,
  request: FastifyRequest,
  context: FlowRequest | null,
  flow: LoginFlow,
): Promise<JSONObject> {
  const publicURL = await publicURLOf(deps, request);
  const session = context?.session ?? null;
  const factors =
    flow.requestedAAL === "aal2" && session !== null && session.session.id === flow.sessionId
      ? await secondFactorsOf(deps.persistence.stores, request.tenant.id, session.user.id)
      : NO_FACTORS;
  const nodes = loginNodes(flow, flow.type === "api" ? "" : maskedCSRFToken(deps, request), factors);
  return serializeLoginFlow(publicURL, flow, nodes, flowMessages(flow.messages));
}

function assuranceLevelParam(request: FastifyRequest): AssuranceLevel {
  const value = queryParam(request, "aal");
  if (value === "" || value === "aal1") return "aal1";
  if (value === "aal2") return "aal2";
  throw KratosError.badRequest(
    `Unable to parse AuthenticationMethod Assurance Level (AAL): expected one of [aal1, aal2] but got ${value}`,
  );
}

async function initFlow(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  type: "browser" | "api",
): Promise<{ flow: LoginFlow; context: FlowRequest }> {
  const context = await flowRequestOf(deps, request);
  const returnTo = returnToParam(deps, request, context.publicURL);
  const aal = assuranceLevelParam(request);
  const cookie = type === "browser" ? ensureCSRFCookie(deps, request, reply) : null;
  const flow = await initLoginFlow(deps, context, {
    type,
    refresh: queryParam(request, "refresh") === "true",
    aal,
    returnTo,
    csrfHash: cookie === null ? null : csrfHash(cookie),
  });
  return { flow, context };
}

function expiredLogin(publicURL: string, flow: LoginFlow): KratosError {
  if (flow.type === "api") {
    return new KratosError(410, {
      reason:
        "The login flow has expired. Call the login flow init API endpoint to initialize a new login flow.",
      details: { api: `${publicURL}/self-service/login/api` },
    });
  }
  return new KratosError(410, {
    reason:
      "The login flow has expired. Redirect the user to the login flow init endpoint to initialize a new login flow.",
    details: { redirect_to: `${publicURL}/self-service/login/browser`, return_to: flow.returnTo ?? "" },
  });
}

async function sendLoginOutcome(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  context: FlowRequest,
  outcome: LoginOutcome,
): Promise<FastifyReply> {
  const publicURL = context.publicURL;
  const api = outcome.flow.type === "api";
  if (outcome.kind === "flow") {
    if (api || request.selfService.json) {
      return reply.code(outcome.status).send(await loginJSON(deps, request, context, outcome.flow));
    }
    return reply.redirect(`${publicURL}/ui/login?flow=${outcome.flow.id}`, 303);
  }
  const session = serializeSession(publicURL, outcome.session, outcome.user);
  if (api) {
    return reply.code(200).send({ session_token: outcome.token ?? presentedSessionToken(request), session });
  }
  if (outcome.token !== null) {
    setSessionCookie(deps, reply, outcome.token);
  }
  // A signed-in browser gets an anti-CSRF secret no one saw before.
  setCSRFCookie(deps, request, reply, deps.random.bytes(32).toString("base64url"));
  const next = outcome.flow.returnTo ?? defaultReturnURL(publicURL);
  if (request.selfService.json) {
    return reply.code(200).send({ session, continue_with: [redirectBrowserTo(next)] });
  }
  return reply.redirect(next, 303);
}

export function loginRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get("/self-service/login/browser", async function initBrowserLogin(request, reply) {
    const { flow, context } = await initFlow(deps, request, reply, "browser");
    if (request.selfService.json) {
      return reply.code(200).send(await loginJSON(deps, request, context, flow));
    }
    return reply.redirect(`${context.publicURL}/ui/login?flow=${flow.id}`, 303);
  });

  app.get("/self-service/login/api", { config: { json: true } }, async function initAPILogin(request, reply) {
    const { flow, context } = await initFlow(deps, request, reply, "api");
    return reply.code(200).send(await loginJSON(deps, request, context, flow));
  });

  app.get(
    "/self-service/login/flows",
    { config: { json: true } },
    async function getLoginFlow(request, reply) {
      const id = flowIdParam(request, "id");
      const flow =
        id === null ? null : await deps.persistence.stores.loginFlows.findLoginFlow(request.tenant.id, id);
      if (flow === null) {
        throw new KratosError(404, { message: "Unable to locate the resource" });
      }
      if (flow.type === "browser" && !csrfCookieMatches(flow.csrfHash, currentCSRFCookie(request))) {
        throw kratosErrorOf(new CSRFViolation("The anti-CSRF cookie is missing or belongs to another flow."));
      }
      const context = await flowRequestOf(deps, request);
      if (flow.expiresAt <= deps.clock.now()) {
        throw expiredLogin(context.publicURL, flow);
      }
      return reply.code(200).send(await loginJSON(deps, request, context, flow));
    },
  );

  app.post(
    "/self-service/login",
    { preHandler: [requireFlowParam, decodeSubmission] },
    async function updateLoginFlow(request, reply) {
      const flowId = submittedFlowId(request);
      const body = request.selfService.fields;
      const context = await flowRequestOf(deps, request);
      const outcome = await submitLoginFlow(deps, context, flowId, {
        method: stringField(body, "method"),
        identifier: stringField(body, "identifier"),
        password: stringField(body, "password"),
        totpCode: stringField(body, "totp_code"),
        lookupSecret: stringField(body, "lookup_secret"),
        csrfToken: stringField(body, "csrf_token"),
      });
      return sendLoginOutcome(deps, request, reply, context, outcome);
    },
  );
}
