import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../app.js";
import {
  decodeBody,
  flowRequestOf,
  publicURLOf,
  queryParam,
  SESSION_COOKIE,
} from "../api/kratos/flows.http.js";
import { clearCookie } from "../pages/cookies.js";
import { assertCSRFToken, CSRF_COOKIE, issueCSRFToken } from "../pages/csrf.js";
import { sendPage } from "../pages/steps.js";
import type { Message } from "../pages/text.js";
import { resolveReturnTo, type SignedIn } from "../selfservice/flows.js";
import { proveSecondFactor } from "../selfservice/login.js";
import { secondFactorsOf, signedInBy } from "../selfservice/sessions.js";
import { stepUpPage } from "./views.js";

/**
 * The step-up page `/ui/login?aal=aal2&return_to=` (kratos.md §3.6.4): a browser session whose
 * identity has a second factor proves it here (a TOTP code, or a backup code, which is used up) and
 * becomes aal2. Five failures end the session.
 */

const MAX_FAILURES = 5;
const FAILURE_WINDOW_MS = 60 * 60_000;
const INVALID_CODE: Message = { id: 4901010, type: "error", text: "Invalid code." };

async function browserSession(deps: AppDeps, request: FastifyRequest): Promise<SignedIn | null> {
  const cookie = request.cookies[SESSION_COOKIE];
  return cookie === undefined ? null : signedInBy(deps, request.tenant.id, cookie);
}

function returnToOf(deps: AppDeps, request: FastifyRequest, publicURL: string): string {
  return (
    resolveReturnTo(publicURL, deps.config.allowedReturnURLs, queryParam(request, "return_to")) ??
    `${publicURL}/ui/settings`
  );
}

function render(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  publicURL: string,
  messages: Message[],
): FastifyReply {
  const returnTo = returnToOf(deps, request, publicURL);
  const action = `${publicURL}/ui/login?aal=aal2&return_to=${encodeURIComponent(returnTo)}`;
  const csrfToken = issueCSRFToken(deps, request, reply);
  return sendPage(reply, 200, stepUpPage({ brand: deps.config.brandTitle, action, csrfToken, messages }));
}

async function show(deps: AppDeps, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const publicURL = await publicURLOf(deps, request);
  const signedIn = await browserSession(deps, request);
  if (signedIn === null) {
    return reply.redirect(`${publicURL}/ui/recovery`, 303);
  }
  const factors = await secondFactorsOf(deps.persistence.stores, request.tenant.id, signedIn.user.id);
  if (signedIn.session.aal === "aal2" || (!factors.totp && !factors.lookupSecret)) {
    return reply.redirect(returnToOf(deps, request, publicURL), 303); // nothing to step up to
  }
  return render(deps, request, reply, publicURL, []);
}

async function submit(deps: AppDeps, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const publicURL = await publicURLOf(deps, request);
  const body = decodeBody(request.body);
  assertCSRFToken(request.cookies[CSRF_COOKIE], body["csrf_token"]);
  const signedIn = await browserSession(deps, request);
  if (signedIn === null) {
    return reply.redirect(`${publicURL}/ui/recovery`, 303);
  }
  const totpCode = typeof body["totp_code"] === "string" ? body["totp_code"].trim() : "";
  const lookupSecret = typeof body["lookup_secret"] === "string" ? body["lookup_secret"].trim() : "";
  const method = totpCode !== "" ? "totp" : "lookup_secret";
  const code = totpCode !== "" ? totpCode : lookupSecret;
  const context = await flowRequestOf(deps, request);
  if (code !== "" && (await proveSecondFactor(deps, context, signedIn, method, code)) !== null) {
    return reply.redirect(returnToOf(deps, request, publicURL), 303);
  }
  const stores = deps.persistence.stores;
  const { count } = await stores.rateLimits.hit(
    `stepup_failures:${signedIn.session.id}`,
    FAILURE_WINDOW_MS,
    deps.clock.now(),
  );
  if (count >= MAX_FAILURES) {
    await stores.sessions.revokeSession(request.tenant.id, signedIn.session.id, deps.clock.now());
    clearCookie(reply, deps.config, SESSION_COOKIE);
    return reply.redirect(`${publicURL}/ui/recovery`, 303);
  }
  return render(deps, request, reply, publicURL, [INVALID_CODE]);
}

export const stepUpPages = { show, submit };
