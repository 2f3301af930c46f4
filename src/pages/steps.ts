import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import type { Audit } from "../events/service.js";
import { SYSTEM_ACTOR } from "../events/store.js";
import { redactURL } from "../http/logging.js";
import type { Requester } from "../recovery/session.js";
import { type HTML, htmlText } from "./html.js";

/** The pages' scope, typed by its TypeBox schemas. */
export type PagesApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/**
 * Headers of every page (and of the stylesheet). The CSP allows no script at all and only this
 * server's stylesheet; no page may be framed; no URL (recovery links carry their key in it) leaks
 * through a Referer header.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

/** onSend hook: runs for every reply of the pages' scope, error pages included. */
export async function setSecurityHeaders(
  _request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
): Promise<unknown> {
  reply.headers(SECURITY_HEADERS);
  if (!reply.hasHeader("cache-control")) {
    reply.header("cache-control", "no-store"); // pages carry CSRF tokens and account names
  }
  return payload;
}

export function sendPage(reply: FastifyReply, status: number, page: HTML): FastifyReply {
  return reply.code(status).type("text/html; charset=utf-8").send(htmlText(page));
}

/** 303 See Other: after a POST, the browser GETs the next page (no resubmission on reload). */
export function seeOther(reply: FastifyReply, location: string): FastifyReply {
  return reply.redirect(location, 303);
}

/**
 * Named preHandler step after the CSRF check: routes validate their body with `attachValidation`
 * so that CSRF is checked first; this step then refuses what the schemas refused, as a 400 page.
 */
export async function rejectInvalidForm(request: FastifyRequest): Promise<void> {
  if (request.validationError !== undefined && request.validationError !== null) {
    throw request.validationError;
  }
}

/**
 * `{path, method, args, user_agent}` for audit events. The path is redacted like log lines (a key
 * sits in /recovery/use-token/<key>/) and `args` stays empty: the query may carry `flow_token`.
 */
function httpRequestOf(request: FastifyRequest): Record<string, unknown> {
  return {
    path: redactURL(request.url.split("?")[0]!),
    method: request.method,
    args: {},
    user_agent: request.headers["user-agent"] ?? "",
  };
}

/** Who is asking, for the recovery services' events and per-client limits. */
export function requesterOf(request: FastifyRequest): Requester {
  return { clientIP: request.ip, httpRequest: httpRequestOf(request) };
}

/** The audit of a page request: nobody is signed in yet, so the system acts until a service knows better. */
export function pageAudit(request: FastifyRequest): Audit {
  return {
    tenantId: request.tenant.id,
    actor: SYSTEM_ACTOR,
    clientIP: request.ip,
    httpRequest: httpRequestOf(request),
    app: "rekey.recovery",
  };
}
