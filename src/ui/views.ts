import { type HTML, html } from "../pages/html.js";
import { layout, messageBlock } from "../pages/layout.js";
import { LABELS as PAGE_LABELS, type Message } from "../pages/text.js";
import { isInputNode, type SettingsNode } from "../authenticators/settings.nodes.js";
import type { UINode } from "../selfservice/nodes.js";
import type { FlowMessage } from "../selfservice/store.js";

/**
 * The self-service flows as HTML forms: each node of the flow becomes a field or a button, posting
 * to the flow's `ui.action` with no JavaScript. The same nodes are the flow's JSON, so the page and
 * API clients always see the same form. Every value goes through the escaping `html` template.
 */

function fieldMessages(node: UINode): HTML {
  return html`${node.messages.map((message) => messageBlock(message))}`;
}

function renderNode(node: UINode): HTML {
  const a = node.attributes;
  if (a.type === "hidden") {
    return html`<input type="hidden" name="${a.name}" value="${a.value ?? ""}">`;
  }
  const label = node.label?.text ?? a.name;
  if (a.type === "submit") {
    // "Resend code" must work while the required code field is empty.
    const noValidate = a.name !== "method";
    return html`${fieldMessages(node)}<p><button type="submit" name="${a.name}" value="${a.value ?? ""}"${noValidate && html` formnovalidate`}>${label}</button></p>`;
  }
  const id = `field-${a.name}`;
  return html`<div class="field">
<label for="${id}">${label}</label>
<input id="${id}" name="${a.name}" type="${a.type}"${a.value !== undefined && html` value="${a.value}"`}${a.required === true && html` required`}${a.autocomplete !== undefined && html` autocomplete="${a.autocomplete}"`}${a.pattern !== undefined && html` pattern="${a.pattern}" inputmode="numeric"`}${a.maxlength !== undefined && html` maxlength="${a.maxlength}"`}>
${fieldMessages(node)}
</div>`;
}

/** An image (the QR code) or a text node (a TOTP key, fresh backup codes), read-only parts of a form. */
function renderDisplayNode(node: Exclude<SettingsNode, UINode>): HTML {
  if (node.nodeType === "img") {
    return html`<p><img id="${node.id}" src="${node.src}" alt="${node.label.text}" width="${node.width}" height="${node.height}"></p>`;
  }
  const secrets = node.text.context?.["secrets"];
  if (Array.isArray(secrets)) {
    const codes = secrets.map(
      (secret: { text?: unknown }) => html`<li><code>${String(secret.text ?? "")}</code></li>`,
    );
    return html`<p>${node.label.text}</p><ol id="${node.id}" class="backup-codes">${codes}</ol>`;
  }
  return html`<p>${node.label.text}</p><p><code id="${node.id}">${node.text.text}</code></p>`;
}

/**
 * The settings page: one form per method group (password, totp, lookup_secret), each with the
 * anti-CSRF field, so a button of one method never needs the fields of another.
 */
export function groupedForms(action: string, nodes: readonly SettingsNode[]): HTML {
  const csrf = nodes.filter((node): node is UINode => isInputNode(node) && node.group === "default");
  const groups: SettingsNode[][] = [];
  for (const node of nodes) {
    if (isInputNode(node) && node.group === "default") continue;
    const last = groups.at(-1);
    if (last !== undefined && last[0]!.group === node.group) last.push(node);
    else groups.push([node]);
  }
  return html`${groups.map(
    (group) => html`<form method="post" action="${action}" class="group-${group[0]!.group}">
${csrf.map(renderNode)}
${group.map((node) => (isInputNode(node) ? renderNode(node) : renderDisplayNode(node)))}
</form>`,
  )}`;
}

/** The flow's form: its nodes in order, posted to `action`. */
export function flowForm(action: string, nodes: readonly UINode[]): HTML {
  return html`<form method="post" action="${action}">
${nodes.map(renderNode)}
</form>`;
}

export interface FlowPageView {
  brand: string;
  title: Message;
  action: string;
  nodes: readonly UINode[];
  /** Settings pages: the nodes of each method in a form of its own (replaces `nodes`). */
  groupedNodes?: readonly SettingsNode[];
  messages: readonly FlowMessage[];
  /** Shown above the form (who is signed in). */
  intro?: Message;
  links?: readonly { href: string; label: Message }[];
}

/** A page showing one flow. */
export function flowPage(view: FlowPageView): HTML {
  const links = (view.links ?? []).map(
    (entry) => html`<p class="links"><a href="${entry.href}">${entry.label.text}</a></p>`,
  );
  return layout({
    title: view.title,
    brand: view.brand,
    messages: [...(view.intro === undefined ? [] : [view.intro]), ...view.messages],
    body: html`${view.groupedNodes === undefined ? flowForm(view.action, view.nodes) : groupedForms(view.action, view.groupedNodes)}
${links}`,
  });
}

export const UI_LABELS = {
  recoverTitle: PAGE_LABELS.recoverTitle,
  newPasswordTitle: PAGE_LABELS.newPasswordTitle,
  signIn: PAGE_LABELS.signIn,
  forgotPassword: PAGE_LABELS.forgotPassword,
  backToSignIn: PAGE_LABELS.backToSignIn,
  settingsTitle: { id: 1901003, type: "info", text: "Account settings" } as Message,
  secondFactorTitle: { id: 1901001, type: "info", text: "Confirm it is you" } as Message,
  codeOrBackup: {
    id: 1901002,
    type: "info",
    text: "Enter a code from your authenticator app, or one of your backup codes.",
  } as Message,
  backupCode: { id: 1010010, type: "info", text: "Backup recovery code" } as Message,
  authenticationCode: PAGE_LABELS.authenticationCode,
  continue: PAGE_LABELS.continue,
} as const;

/** The step-up form (kratos.md §3.6.4): an authenticator code or a backup code. */
export function stepUpPage(view: {
  brand: string;
  action: string;
  csrfToken: string;
  messages: readonly Message[];
}): HTML {
  return layout({
    title: UI_LABELS.secondFactorTitle,
    brand: view.brand,
    messages: view.messages,
    body: html`<p>${UI_LABELS.codeOrBackup.text}</p>
<form method="post" action="${view.action}">
<input type="hidden" name="csrf_token" value="${view.csrfToken}">
<div class="field">
<label for="field-totp_code">${UI_LABELS.authenticationCode.text}</label>
<input id="field-totp_code" name="totp_code" type="text" autocomplete="one-time-code" inputmode="numeric" maxlength="16" autofocus>
</div>
<div class="field">
<label for="field-lookup_secret">${UI_LABELS.backupCode.text}</label>
<input id="field-lookup_secret" name="lookup_secret" type="text" autocomplete="off" maxlength="64">
</div>
<p><button type="submit">${UI_LABELS.continue.text}</button></p>
</form>`,
  });
}
