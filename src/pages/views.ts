import { CSRF_FIELD } from "./csrf.js";
import { type HTML, html } from "./html.js";
import { layout } from "./layout.js";
import { LABELS, type Message, MESSAGES, newPasswordFor, signedInAs } from "./text.js";

/** Every page path, so links and redirects name them one way. */
export const PATHS = {
  login: "/if/login/",
  user: "/if/user/",
  logout: "/if/logout/",
  recovery: "/if/recovery/",
  recoveryInvalid: "/if/recovery/invalid/",
  recoveryRequest: "/if/recovery/request/",
} as const;

/** Longest value any page field accepts; passwords are capped at 1024 by policy (kratos.md §3.6.2). */
export const MAX_FIELD_LENGTH = 2048;

interface InputView {
  name: string;
  type: "text" | "email" | "password";
  label: Message;
  autocomplete: string;
  value?: string;
  hint?: Message;
  /** The first field of a page takes the focus, so keyboard users start there. */
  autofocus?: boolean;
}

function input(view: InputView): HTML {
  const hintId = `${view.name}-hint`;
  return html`<div class="field">
<label for="${view.name}">${view.label.text}</label>
<input id="${view.name}" name="${view.name}" type="${view.type}" autocomplete="${view.autocomplete}" required maxlength="${MAX_FIELD_LENGTH}"${view.value === undefined ? "" : html` value="${view.value}"`}${view.hint === undefined ? "" : html` aria-describedby="${hintId}"`}${view.autofocus === true && html` autofocus`}>
${view.hint !== undefined && html`<p class="hint" id="${hintId}">${view.hint.text}</p>`}
</div>`;
}

function form(action: string, csrfToken: string, fields: HTML, submit: Message): HTML {
  return html`<form method="post" action="${action}">
<input type="hidden" name="${CSRF_FIELD}" value="${csrfToken}">
${fields}
<button type="submit">${submit.text}</button>
</form>`;
}

function link(href: string, label: Message): HTML {
  return html`<p class="links"><a href="${href}">${label.text}</a></p>`;
}

/** A page that only says something: errors, outcomes. */
export function messagePage(
  brand: string,
  title: Message,
  message: Message,
  next?: { href: string; label: Message },
): HTML {
  const body = next === undefined ? html`` : link(next.href, next.label);
  return layout({ title, brand, messages: [message], body });
}

/** The link or key works: a button, since only the POST uses it up (authentik-v3.md §3.3.3, A7). */
export function continuePage(view: {
  brand: string;
  action: string;
  recoveryKey: string;
  csrfToken: string;
}): HTML {
  const fields = html`<input type="hidden" name="key" value="${view.recoveryKey}">
<p>${MESSAGES.continueExplained.text}</p>`;
  return layout({
    title: LABELS.recoverTitle,
    brand: view.brand,
    body: form(view.action, view.csrfToken, fields, LABELS.continue),
  });
}

/** Used, expired or unknown link, key or recovery session: one page for all, 404. */
export function unusablePage(brand: string): HTML {
  return messagePage(brand, LABELS.recoverTitle, MESSAGES.recoveryUnusable, {
    href: PATHS.recoveryRequest,
    label: LABELS.requestNewLink,
  });
}

export interface NewPasswordView {
  brand: string;
  csrfToken: string;
  username: string;
  mayResetMFA: boolean;
  requiresSecondFactor: boolean;
  messages: readonly Message[];
}

/** The recovery session's one power: a new password (plus the second-factor fields of §3.3.3 step 3). */
export function newPasswordPage(view: NewPasswordView): HTML {
  // The username rides along, hidden, so password managers file the new password under the account.
  const fields = html`<p>${newPasswordFor(view.username).text}</p>
<input type="text" name="username" value="${view.username}" autocomplete="username" hidden>
${input({ name: "password", type: "password", label: LABELS.password, autocomplete: "new-password", hint: MESSAGES.newPasswordExplained, autofocus: true })}
${input({ name: "password_repeat", type: "password", label: LABELS.passwordRepeat, autocomplete: "new-password" })}
${view.requiresSecondFactor && input({ name: "code", type: "text", label: LABELS.authenticationCode, autocomplete: "one-time-code" })}
${view.mayResetMFA && html`<div class="check"><input id="reset_mfa" name="reset_mfa" type="checkbox" value="true" checked><label for="reset_mfa">${LABELS.resetMFA.text}</label></div>`}`;
  return layout({
    title: LABELS.newPasswordTitle,
    brand: view.brand,
    messages: view.messages,
    body: form(PATHS.recovery, view.csrfToken, fields, LABELS.save),
  });
}

export function passwordChangedPage(brand: string): HTML {
  return messagePage(brand, LABELS.newPasswordTitle, MESSAGES.passwordChanged, {
    href: PATHS.login,
    label: LABELS.signIn,
  });
}

export function loginPage(view: {
  brand: string;
  csrfToken: string;
  identifier: string;
  messages: readonly Message[];
}): HTML {
  const fields = html`${input({ name: "identifier", type: "text", label: LABELS.identifier, autocomplete: "username", value: view.identifier, autofocus: true })}
${input({ name: "password", type: "password", label: LABELS.password, autocomplete: "current-password" })}`;
  return layout({
    title: LABELS.signIn,
    brand: view.brand,
    messages: view.messages,
    body: html`${form(PATHS.login, view.csrfToken, fields, LABELS.signIn)}
${link(PATHS.recoveryRequest, LABELS.forgotPassword)}`,
  });
}

export function accountPage(view: {
  brand: string;
  csrfToken: string;
  username: string;
  secondFactors?: HTML;
}): HTML {
  return layout({
    title: LABELS.accountTitle,
    brand: view.brand,
    messages: [signedInAs(view.username)],
    body: html`${view.secondFactors}${form(PATHS.logout, view.csrfToken, html``, LABELS.signOut)}`,
  });
}

export function recoveryRequestPage(view: {
  brand: string;
  csrfToken: string;
  email: string;
  messages: readonly Message[];
}): HTML {
  const fields = html`<p>${MESSAGES.recoverExplained.text}</p>
${input({ name: "email", type: "email", label: LABELS.email, autocomplete: "email", value: view.email, autofocus: true })}`;
  return layout({
    title: LABELS.recoverTitle,
    brand: view.brand,
    messages: view.messages,
    body: html`${form(PATHS.recoveryRequest, view.csrfToken, fields, LABELS.sendLink)}
${link(PATHS.login, LABELS.backToSignIn)}`,
  });
}

/** The answer to "send me a link": the same page whether or not the address exists (practice 12). */
export function recoveryRequestedPage(brand: string): HTML {
  return messagePage(brand, LABELS.recoverTitle, MESSAGES.recoveryLinkSent, {
    href: PATHS.login,
    label: LABELS.backToSignIn,
  });
}
