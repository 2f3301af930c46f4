import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../../app.js";
import { FlowNotFound } from "../../selfservice/errors.js";
import { csrfHash, type FlowRequest } from "../../selfservice/flows.js";
import { flowMessages, settingsNodes } from "../../selfservice/nodes.js";
import {
  initSettingsFlow,
  readSettingsFlow,
  type SettingsOutcome,
  submitSettingsFlow,
} from "../../selfservice/settings.js";
import type { SettingsFlow } from "../../selfservice/store.js";
import type { User } from "../../users/store.js";
import { KratosError } from "./errors.js";
import { type ContinueWith, type JSONObject, redirectBrowserTo, serializeSettingsFlow } from "./flows.js";
import {
  decodeSubmission,
  ensureCSRFCookie,
  flowIdParam,
  flowRequestOf,
  maskedCSRFToken,
  publicURLOf,
  requireFlowParam,
  returnToParam,
  stringField,
  submittedFlowId,
} from "./flows.http.js";
import { serializeIdentity } from "./identity.js";

/** The settings routes (kratos.md §3.6.1–§3.6.2): a signed-in identity sets a new password. */

export async function settingsJSON(
  deps: AppDeps,
  request: FastifyRequest,
  flow: SettingsFlow,
  user: User,
  continueWith?: ContinueWith[],
): Promise<JSONObject> {
  const publicURL = await publicURLOf(deps, request);
  const nodes = settingsNodes(flow.messages, flow.type === "api" ? "" : maskedCSRFToken(deps, request));
  const identity = serializeIdentity(publicURL, user, { admin: false });
  return serializeSettingsFlow(publicURL, flow, nodes, flowMessages(flow.messages), identity, continueWith);
}

/** The 410 of `GET …/flows` for an expired flow (§3.6.1). */
function expiredSettings(publicURL: string, flow: SettingsFlow): KratosError {
  if (flow.type === "api") {
    return new KratosError(410, {
      reason:
        "The settings flow has expired. Call the settings flow init API endpoint to initialize a new settings flow.",
      details: { api: `${publicURL}/self-service/settings/api` },
    });
  }
  const query = flow.returnTo === null ? "" : `?return_to=${encodeURIComponent(flow.returnTo)}`;
  return new KratosError(410, {
    reason:
      "The settings flow has expired. Redirect the user to the settings flow init endpoint to initialize a new settings flow.",
    details: {
      redirect_to: `${publicURL}/self-service/settings/browser${query}`,
      return_to: flow.returnTo ?? "",
    },
  });
}

async function sendSettingsOutcome(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  context: FlowRequest,
  outcome: SettingsOutcome,
): Promise<FastifyReply> {
  const publicURL = context.publicURL;
  const { flow } = outcome;
  const api = flow.type === "api";
  const next = flow.returnTo ?? `${publicURL}/ui/settings?flow=${flow.id}`;
  if (!api && !request.selfService.json) {
    return reply.redirect(outcome.status === 200 ? next : `${publicURL}/ui/settings?flow=${flow.id}`, 303);
  }
  const continueWith = !api && outcome.status === 200 ? [redirectBrowserTo(next)] : undefined;
  return reply.code(outcome.status).send(await settingsJSON(deps, request, flow, outcome.user, continueWith));
}

export function settingsRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get("/self-service/settings/browser", async function initBrowserSettings(request, reply) {
    const context = await flowRequestOf(deps, request);
    const returnTo = returnToParam(deps, request, context.publicURL);
    const cookie = ensureCSRFCookie(deps, request, reply);
    const { flow, user } = await initSettingsFlow(deps, context, {
      type: "browser",
      returnTo,
      csrfHash: csrfHash(cookie),
    });
    if (request.selfService.json) {
      return reply.code(200).send(await settingsJSON(deps, request, flow, user));
    }
    return reply.redirect(`${context.publicURL}/ui/settings?flow=${flow.id}`, 303);
  });

  app.get(
    "/self-service/settings/api",
    { config: { json: true } },
    async function initAPISettings(request, reply) {
      const context = await flowRequestOf(deps, request);
      const { flow, user } = await initSettingsFlow(deps, context, {
        type: "api",
        returnTo: null,
        csrfHash: null,
      });
      return reply.code(200).send(await settingsJSON(deps, request, flow, user));
    },
  );

  app.get(
    "/self-service/settings/flows",
    { config: { json: true } },
    async function getSettingsFlow(request, reply) {
      const id = flowIdParam(request, "id");
      if (id === null) {
        throw new KratosError(404, { message: "Unable to locate the resource" });
      }
      const context = await flowRequestOf(deps, request);
      let read: { flow: SettingsFlow; user: User };
      try {
        read = await readSettingsFlow(deps, context, id);
      } catch (error) {
        if (error instanceof FlowNotFound)
          throw new KratosError(404, { message: "Unable to locate the resource" });
        throw error;
      }
      if (read.flow.expiresAt <= deps.clock.now()) {
        throw expiredSettings(context.publicURL, read.flow);
      }
      return reply.code(200).send(await settingsJSON(deps, request, read.flow, read.user));
    },
  );

  app.post(
    "/self-service/settings",
    { preHandler: [requireFlowParam, decodeSubmission] },
    async function updateSettingsFlow(request, reply) {
      const flowId = submittedFlowId(request);
      const body = request.selfService.fields;
      const context = await flowRequestOf(deps, request);
      const outcome = await submitSettingsFlow(deps, context, flowId, {
        method: stringField(body, "method"),
        password: stringField(body, "password"),
        csrfToken: stringField(body, "csrf_token"),
      });
      return sendSettingsOutcome(deps, request, reply, context, outcome);
    },
  );
}
