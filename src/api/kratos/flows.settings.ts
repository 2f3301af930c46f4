import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../../app.js";
import { FlowNotFound } from "../../selfservice/errors.js";
import { csrfHash, type FlowRequest } from "../../selfservice/flows.js";
import { flowMessages, settingsNodes } from "../../selfservice/nodes.js";
import {
  initSettingsFlow,
  readSettingsFlow,
  type SettingsBody,
  type SettingsOutcome,
  submitSettingsFlow,
} from "../../selfservice/settings.js";
import type { SettingsFlow } from "../../selfservice/store.js";
import type { User } from "../../users/store.js";
import { mfaSettingsView } from "../../authenticators/settings.js";
import { isInputNode, mfaSettingsNodes, type SettingsNode } from "../../authenticators/settings.nodes.js";
import { KratosError } from "./errors.js";
import {
  type ContinueWith,
  type JSONObject,
  redirectBrowserTo,
  serializeMessage,
  serializeNode,
  serializeSettingsFlow,
} from "./flows.js";
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

/**
 * The settings routes (kratos.md §3.6.1–§3.6.2): a signed-in identity sets a new password, enrols or
 * unlinks an authenticator app (`totp`) and manages backup codes (`lookup_secret`).
 */

/** Every node of the settings form: the password nodes, then the second-factor ones. */
export async function settingsFormNodes(
  deps: AppDeps,
  request: FastifyRequest,
  flow: SettingsFlow,
  user: User,
): Promise<SettingsNode[]> {
  const csrf = flow.type === "api" ? "" : maskedCSRFToken(deps, request);
  const view = await mfaSettingsView(deps, flow, user);
  return [...settingsNodes(flow.messages, csrf), ...(await mfaSettingsNodes(view, flow.messages))];
}

/** An image or text node in Kratos' shape (attributes `src, id, width, height` / `text, id`). */
function serializeAnyNode(node: SettingsNode): JSONObject {
  if (isInputNode(node)) {
    return serializeNode(node);
  }
  const attributes: JSONObject =
    node.nodeType === "img"
      ? { src: node.src, id: node.id, width: node.width, height: node.height, node_type: "img" }
      : { text: serializeMessage(node.text), id: node.id, node_type: "text" };
  return {
    type: node.nodeType,
    group: node.group,
    attributes,
    messages: [],
    meta: { label: serializeMessage(node.label) },
  };
}

export async function settingsJSON(
  deps: AppDeps,
  request: FastifyRequest,
  flow: SettingsFlow,
  user: User,
  continueWith?: ContinueWith[],
  active?: string,
): Promise<JSONObject> {
  const publicURL = await publicURLOf(deps, request);
  const nodes = await settingsFormNodes(deps, request, flow, user);
  const identity = serializeIdentity(publicURL, user, { admin: false });
  const out = serializeSettingsFlow(publicURL, flow, [], flowMessages(flow.messages), identity, continueWith);
  // The shared serialiser knows input nodes only; the ui keeps its place, with every node.
  (out["ui"] as JSONObject)["nodes"] = nodes.map(serializeAnyNode);
  if (active !== undefined && out["active"] !== undefined) out["active"] = active;
  return out;
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
  // Only a saved change leaves the form; refused input and freshly shown codes stay on it.
  const saved = outcome.active !== undefined;
  if (!api && !request.selfService.json) {
    return reply.redirect(saved ? next : `${publicURL}/ui/settings?flow=${flow.id}`, 303);
  }
  const continueWith = !api && saved ? [redirectBrowserTo(next)] : undefined;
  return noStore(reply)
    .code(outcome.status)
    .send(await settingsJSON(deps, request, flow, outcome.user, continueWith, outcome.active));
}

/** A settings flow may carry a TOTP secret or fresh backup codes: no cache may keep it. */
function noStore(reply: FastifyReply): FastifyReply {
  return reply.header("cache-control", "no-store");
}

/** `true` or `"true"` (a form's button); anything else is false. */
function flagField(body: Record<string, unknown>, name: string): boolean {
  return body[name] === true || body[name] === "true";
}

/**
 * The submitted fields. A browser form sends only the button pressed, so a `totp_unlink` or
 * `lookup_secret_*` button without `method` names its method, as upstream's UI forms rely on.
 */
function settingsBody(body: Record<string, unknown>): SettingsBody {
  const lookup = {
    regenerate: flagField(body, "lookup_secret_regenerate"),
    reveal: flagField(body, "lookup_secret_reveal"),
    confirm: flagField(body, "lookup_secret_confirm"),
    disable: flagField(body, "lookup_secret_disable"),
  };
  const totpUnlink = flagField(body, "totp_unlink");
  let method = stringField(body, "method");
  if (method === "" && totpUnlink) method = "totp";
  if (method === "" && Object.values(lookup).some(Boolean)) method = "lookup_secret";
  return {
    method,
    password: stringField(body, "password"),
    csrfToken: stringField(body, "csrf_token"),
    totpCode: stringField(body, "totp_code"),
    totpUnlink,
    lookup,
  };
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
      return noStore(reply)
        .code(200)
        .send(await settingsJSON(deps, request, flow, user));
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
      return noStore(reply)
        .code(200)
        .send(await settingsJSON(deps, request, flow, user));
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
      return noStore(reply)
        .code(200)
        .send(await settingsJSON(deps, request, read.flow, read.user));
    },
  );

  app.post(
    "/self-service/settings",
    { preHandler: [requireFlowParam, decodeSubmission] },
    async function updateSettingsFlow(request, reply) {
      const flowId = submittedFlowId(request);
      const body = request.selfService.fields;
      const context = await flowRequestOf(deps, request);
      const outcome = await submitSettingsFlow(deps, context, flowId, settingsBody(body));
      return sendSettingsOutcome(deps, request, reply, context, outcome);
    },
  );
}
