import type { FastifyReply } from "fastify";
import type { AppDeps } from "../app.js";
import type { KratosError } from "../api/kratos/errors.js";
import { html } from "../pages/html.js";
import { layout } from "../pages/layout.js";
import { SECURITY_HEADERS, sendPage } from "../pages/steps.js";
import { LABELS, type Message, MESSAGES } from "../pages/text.js";

/**
 * Rekey's error page for the self-service flows (`/ui/error?id=`). Browsers are sent here with a key
 * (a Kratos error id, or a name for the status); the page shows the catalogue's text for the key,
 * never text from the request, so it reflects nothing.
 */

function error(id: number, text: string): Message {
  return { id, type: "error", text };
}

/** Rekey's own texts for the self-service pages, in the 4901xxx range Kratos does not assign. */
const TEXTS: Record<string, Message> = {
  security_csrf_violation: MESSAGES.csrfViolation,
  too_many_requests: MESSAGES.tooManyAttempts,
  self_service_flow_return_to_forbidden: error(
    4901001,
    "The page you were to return to afterwards is not allowed. Please start again.",
  ),
  not_found: error(
    4901002,
    "This request could not be found. It may have been completed already. Please start again.",
  ),
  bad_request: error(4901003, "This request could not be completed. Please start again."),
  unauthorized: error(4901004, "You are not signed in, or your session has ended. Please sign in again."),
  gone: error(4901005, "This request has expired. Please start again."),
  forbidden: error(4901006, "This request was refused. Please start again."),
  server_error: MESSAGES.serverError,
};

const STATUS_KEYS: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  410: "gone",
  429: "too_many_requests",
};

/** The page key of an error: its Kratos id when the page knows it, else the status's. */
export function errorKey(kratos: KratosError): string {
  if (kratos.body.id !== undefined && TEXTS[kratos.body.id] !== undefined) {
    return kratos.body.id;
  }
  return STATUS_KEYS[kratos.status] ?? (kratos.status >= 500 ? "server_error" : "bad_request");
}

/** The error page for `key` (unknown keys get the generic text). */
export function errorPage(
  deps: Pick<AppDeps, "config">,
  publicURL: string,
  key: string,
): ReturnType<typeof layout> {
  const message = TEXTS[key] ?? TEXTS["bad_request"]!;
  const title =
    key === "too_many_requests"
      ? LABELS.tooManyTitle
      : key === "security_csrf_violation"
        ? LABELS.forbiddenTitle
        : LABELS.errorTitle;
  return layout({
    title,
    brand: deps.config.brandTitle,
    messages: [message],
    body: html`<p class="links"><a href="${publicURL}/self-service/recovery/browser">${LABELS.recoverTitle.text}</a></p>
<p class="links"><a href="${publicURL}/self-service/login/browser">${LABELS.signIn.text}</a></p>`,
  });
}

/** Sends the error page directly (a rate limit keeps its status and Retry-After this way). */
export function sendErrorPage(
  deps: AppDeps,
  reply: FastifyReply,
  key: string,
  options: { status: number; retryAfterSeconds?: number | null },
): FastifyReply {
  const publicURL = reply.request.selfService.publicURL ?? deps.config.publicURL.href.replace(/\/+$/, "");
  reply.headers(SECURITY_HEADERS).header("cache-control", "no-store");
  if (options.retryAfterSeconds !== undefined && options.retryAfterSeconds !== null) {
    reply.header("retry-after", String(options.retryAfterSeconds));
  }
  return sendPage(reply, options.status, errorPage(deps, publicURL, key));
}
