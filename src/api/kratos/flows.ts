import type { UINode } from "../../selfservice/nodes.js";
import type {
  FlowMessage,
  LoginFlow,
  SelfServiceRecoveryFlow,
  SettingsFlow,
} from "../../selfservice/store.js";
import { formatKratosTime } from "./format.js";

/**
 * The self-service flows in Kratos' wire shapes (kratos.md §2.5, §3.4.1, §3.6.1, §3.6.5): the only
 * file that knows these field names and their order. Every object is built key by key, so what is
 * not named here cannot leak.
 */

export type JSONObject = Record<string, unknown>;

/** `uiText`: `{id, text, type, context?}`. */
export function serializeMessage(message: FlowMessage): JSONObject {
  const out: JSONObject = { id: message.id, text: message.text, type: message.type };
  if (message.context !== undefined) out["context"] = message.context;
  return out;
}

/** An input node: attributes in Kratos' order, empty optional ones left out, `disabled` always false. */
export function serializeNode(node: UINode): JSONObject {
  const attributes: JSONObject = { name: node.attributes.name, type: node.attributes.type };
  const a = node.attributes;
  if (a.value !== undefined && a.value !== "") attributes["value"] = a.value;
  if (a.required === true) attributes["required"] = true;
  if (a.autocomplete !== undefined) attributes["autocomplete"] = a.autocomplete;
  if (a.pattern !== undefined) attributes["pattern"] = a.pattern;
  attributes["disabled"] = false;
  if (a.maxlength !== undefined) attributes["maxlength"] = a.maxlength;
  attributes["node_type"] = "input";
  return {
    type: "input",
    group: node.group,
    attributes,
    messages: node.messages.map(serializeMessage),
    meta: node.label === null ? {} : { label: serializeMessage(node.label) },
  };
}

/** `ui`: `{action, method, nodes, messages?}`; `messages` only when there are some. */
export function serializeUI(action: string, nodes: UINode[], messages: readonly FlowMessage[]): JSONObject {
  const ui: JSONObject = { action, method: "POST", nodes: nodes.map(serializeNode) };
  if (messages.length > 0) ui["messages"] = messages.map(serializeMessage);
  return ui;
}

/** `continue_with` items (Kratos' `continueWith`). */
export type ContinueWith =
  | { action: "show_recovery_ui"; flow: { id: string } }
  | { action: "show_settings_ui"; flow: { id: string; url: string } }
  | { action: "set_ory_session_token"; ory_session_token: string }
  | { action: "redirect_browser_to"; redirect_browser_to: string };

export function showRecoveryUI(flowId: string): ContinueWith {
  return { action: "show_recovery_ui", flow: { id: flowId } };
}

export function showSettingsUI(publicURL: string, flowId: string): ContinueWith {
  return { action: "show_settings_ui", flow: { id: flowId, url: `${publicURL}/ui/settings?flow=${flowId}` } };
}

export function setSessionToken(token: string): ContinueWith {
  return { action: "set_ory_session_token", ory_session_token: token };
}

export function redirectBrowserTo(url: string): ContinueWith {
  return { action: "redirect_browser_to", redirect_browser_to: url };
}

function flowHead(flow: {
  id: string;
  type: string;
  expiresAt: Date;
  issuedAt: Date;
  requestURL: string;
  returnTo: string | null;
}): JSONObject {
  const out: JSONObject = {
    id: flow.id,
    type: flow.type,
    expires_at: formatKratosTime(flow.expiresAt),
    issued_at: formatKratosTime(flow.issuedAt),
    request_url: flow.requestURL,
  };
  if (flow.returnTo !== null && flow.returnTo !== "") out["return_to"] = flow.returnTo;
  return out;
}

/** `recoveryFlow` (§3.4.1). */
export function serializeRecoveryFlow(
  publicURL: string,
  flow: SelfServiceRecoveryFlow,
  nodes: UINode[],
  messages: readonly FlowMessage[],
  continueWith?: ContinueWith[],
): JSONObject {
  const out = flowHead(flow);
  if (flow.active !== null) out["active"] = flow.active;
  out["ui"] = serializeUI(`${publicURL}/self-service/recovery?flow=${flow.id}`, nodes, messages);
  out["state"] = flow.state;
  if (continueWith !== undefined && continueWith.length > 0) out["continue_with"] = continueWith;
  if (flow.transientPayload !== null) out["transient_payload"] = flow.transientPayload;
  return out;
}

/** `settingsFlow` (§3.6.1); `identity` is already serialised (no credentials). */
export function serializeSettingsFlow(
  publicURL: string,
  flow: SettingsFlow,
  nodes: UINode[],
  messages: readonly FlowMessage[],
  identity: JSONObject,
  continueWith?: ContinueWith[],
): JSONObject {
  const out = flowHead(flow);
  if (flow.state === "success") out["active"] = "password";
  out["ui"] = serializeUI(`${publicURL}/self-service/settings?flow=${flow.id}`, nodes, messages);
  out["identity"] = identity;
  out["state"] = flow.state;
  if (continueWith !== undefined && continueWith.length > 0) out["continue_with"] = continueWith;
  return out;
}

/** `loginFlow` (§3.6.5). */
export function serializeLoginFlow(
  publicURL: string,
  flow: LoginFlow,
  nodes: UINode[],
  messages: readonly FlowMessage[],
): JSONObject {
  const out = flowHead(flow);
  out["refresh"] = flow.refresh;
  out["requested_aal"] = flow.requestedAAL;
  out["state"] = flow.state;
  out["ui"] = serializeUI(`${publicURL}/self-service/login?flow=${flow.id}`, nodes, messages);
  out["created_at"] = formatKratosTime(flow.issuedAt);
  out["updated_at"] = formatKratosTime(flow.updatedAt);
  return out;
}
