import { LABELS } from "./messages.js";
import type { FlowMessage, LoginFlow, SelfServiceRecoveryFlow } from "./store.js";

/**
 * The form of a flow as a list of fields (Kratos' UI nodes), built from the flow's state. The same
 * list is serialised to JSON for clients (api/kratos/flows.ts) and rendered as HTML for browsers
 * (src/ui), so both always show the same form.
 */

export type NodeGroup = "default" | "code" | "link" | "password" | "totp" | "lookup_secret";

export interface NodeAttributes {
  name: string;
  type: "hidden" | "email" | "text" | "password" | "submit";
  /** Omitted from JSON when empty. */
  value?: string;
  required?: boolean;
  autocomplete?: string;
  pattern?: string;
  maxlength?: number;
}

export interface UINode {
  group: NodeGroup;
  attributes: NodeAttributes;
  /** Messages about this field (a missing or invalid value). */
  messages: FlowMessage[];
  /** `meta.label`; null for fields without one (hidden fields). */
  label: FlowMessage | null;
}

/** The masked anti-CSRF token of this render: a string for browser flows, "" for API flows, null for none at all. */
export type CSRFValue = string | null;

function node(group: NodeGroup, attributes: NodeAttributes, label: FlowMessage | null): UINode {
  return { group, attributes, messages: [], label };
}

function csrfNode(token: string): UINode {
  const attributes: NodeAttributes = { name: "csrf_token", type: "hidden", required: true };
  if (token !== "") attributes.value = token;
  return node("default", attributes, null);
}

function withCSRF(csrf: CSRFValue, nodes: UINode[]): UINode[] {
  return csrf === null ? nodes : [csrfNode(csrf), ...nodes];
}

/** Attaches each node message (`message.node`) to the first node of that name. */
function attachMessages(nodes: UINode[], messages: readonly FlowMessage[]): void {
  for (const message of messages) {
    if (message.node === undefined) continue;
    const target = nodes.find((candidate) => candidate.attributes.name === message.node);
    if (target !== undefined) {
      const plain: FlowMessage = { id: message.id, text: message.text, type: message.type };
      if (message.context !== undefined) plain.context = message.context;
      target.messages.push(plain);
    }
  }
}

/** The flow-wide messages (`ui.messages`), without the node messages. */
export function flowMessages(messages: readonly FlowMessage[]): FlowMessage[] {
  return messages.filter((message) => message.node === undefined);
}

function codeInput(codeLength: number): UINode {
  return node(
    "code",
    {
      name: "code",
      type: "text",
      required: true,
      autocomplete: "one-time-code",
      pattern: "[0-9]+",
      maxlength: codeLength,
    },
    LABELS.recoveryCode,
  );
}

function submit(group: NodeGroup, name: string, value: string, label: FlowMessage): UINode {
  return node(group, { name, type: "submit", value }, label);
}

function emailInput(group: NodeGroup, value: string | null): UINode {
  const attributes: NodeAttributes = { name: "email", type: "email", required: true };
  if (value !== null && value !== "") attributes.value = value;
  return node(group, attributes, LABELS.email);
}

/**
 * The recovery form (kratos.md §3.4.1): the address form while choosing, the code form once a code
 * was sent, unchanged after success. Flows made by the admin API show only the code and its button
 * (§3.2 step 5).
 */
export function recoveryNodes(flow: SelfServiceRecoveryFlow, csrf: CSRFValue, codeLength: number): UINode[] {
  const method = flow.active ?? "code";
  let nodes: UINode[];
  if (flow.origin === "admin" && method === "code") {
    nodes = [codeInput(codeLength), submit("code", "method", "code", LABELS.continue)];
  } else if (flow.state === "choose_method") {
    nodes = withCSRF(csrf, [emailInput(method, null), submit(method, "method", method, LABELS.continue)]);
  } else if (method === "link") {
    nodes = withCSRF(csrf, [
      emailInput("link", flow.submittedAddress),
      submit("link", "method", "link", LABELS.continue),
    ]);
  } else {
    nodes = withCSRF(csrf, [
      codeInput(codeLength),
      node("code", { name: "method", type: "hidden", value: "code" }, null),
      submit("code", "method", "code", LABELS.continue),
    ]);
    if (flow.submittedAddress !== null) {
      nodes.push(submit("code", "email", flow.submittedAddress, LABELS.resendCode));
    }
  }
  attachMessages(nodes, flow.messages);
  return nodes;
}

/** The settings form (kratos.md §3.6.1): a new password and Save. */
export function settingsNodes(messages: readonly FlowMessage[], csrf: CSRFValue): UINode[] {
  const nodes = withCSRF(csrf, [
    node(
      "password",
      { name: "password", type: "password", required: true, autocomplete: "new-password" },
      LABELS.password,
    ),
    submit("password", "method", "password", LABELS.save),
  ]);
  attachMessages(nodes, messages);
  return nodes;
}

/** The second factors an identity can use, for an aal2 login form. */
export interface SecondFactors {
  totp: boolean;
  lookupSecret: boolean;
}

/**
 * The login form (kratos.md §3.6.5): identifier and password at aal1; at aal2 only the identity's
 * second factors.
 */
export function loginNodes(flow: LoginFlow, csrf: CSRFValue, factors: SecondFactors): UINode[] {
  let nodes: UINode[];
  if (flow.requestedAAL === "aal1") {
    nodes = withCSRF(csrf, [
      node(
        "default",
        { name: "identifier", type: "text", required: true, autocomplete: "username" },
        LABELS.identifier,
      ),
      node(
        "password",
        { name: "password", type: "password", required: true, autocomplete: "current-password" },
        LABELS.password,
      ),
      submit("password", "method", "password", LABELS.signIn),
    ]);
  } else {
    nodes = withCSRF(csrf, []);
    if (factors.totp) {
      nodes.push(
        node(
          "totp",
          { name: "totp_code", type: "text", required: true, autocomplete: "one-time-code" },
          LABELS.authenticationCode,
        ),
      );
      nodes.push(submit("totp", "method", "totp", LABELS.continue));
    }
    if (factors.lookupSecret) {
      nodes.push(
        node(
          "lookup_secret",
          { name: "lookup_secret", type: "text", required: true, autocomplete: "off" },
          LABELS.backupCode,
        ),
      );
      nodes.push(submit("lookup_secret", "method", "lookup_secret", LABELS.continue));
    }
  }
  attachMessages(nodes, flow.messages);
  return nodes;
}
