import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../app.js";
import { mayChangeSecondFactors } from "../authenticators/service.js";
import { proveSecondFactor } from "../selfservice/login.js";
import { CSRF_FIELD, issueCSRFToken, verifyCSRFToken } from "./csrf.js";
import { type HTML, html } from "./html.js";
import { layout } from "./layout.js";
import { browserSessionWithUser } from "./session.js";
import { type PagesApp, pageAudit, rejectInvalidForm, seeOther, sendPage } from "./steps.js";
import { type Message, MESSAGES } from "./text.js";
import { PATHS } from "./views.js";

/**
 * The step-up of a browser signed in on the pages (`rekey_session`): a user who already has a second
 * factor proves it here before the enrolment pages let them add or replace one
 * (mayChangeSecondFactors). Checked like every second factor (selfservice/login.ts
 * proveSecondFactor: rate limited, each failure an event), the session then becomes aal2.
 */

export const VERIFY_PATH = "/if/user/verify/";

function info(id: number, text: string): Message {
  return { id, type: "info", text };
}

const TEXT = {
  title: info(1902015, "Confirm it is you"),
  needed: info(
    1902016,
    "You already have a second factor. Before you add or replace one, confirm it is you with a code from your authenticator app or one of your backup codes.",
  ),
  verify: info(1902017, "Verify with a second factor"),
  code: info(1902018, "Code from your authenticator app, or a backup code"),
  continue: info(1070009, "Continue"),
} as const;

/** Where a step-up may return to: an enrolment page, else the account page (no open redirect). */
function nextPath(request: FastifyRequest, allowed: readonly string[]): string {
  const next = (request.query as Record<string, unknown> | undefined)?.["next"];
  return typeof next === "string" && allowed.includes(next) ? next : PATHS.user;
}

/** 403: the page a session below aal2 gets from an enrolment page, sending it to the step-up. */
export function stepUpNeeded(deps: AppDeps, reply: FastifyReply, next: string): FastifyReply {
  const href = `${VERIFY_PATH}?next=${encodeURIComponent(next)}`;
  const body = html`<p class="links"><a href="${href}">${TEXT.verify.text}</a></p>`;
  return sendPage(
    reply,
    403,
    layout({ title: TEXT.title, brand: deps.config.brandTitle, messages: [TEXT.needed], body }),
  );
}

function renderForm(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  next: string,
  messages: readonly Message[],
): FastifyReply {
  const action = `${VERIFY_PATH}?next=${encodeURIComponent(next)}`;
  const body: HTML = html`<form method="post" action="${action}">
<input type="hidden" name="${CSRF_FIELD}" value="${issueCSRFToken(deps, request, reply)}">
<div class="field">
<label for="code">${TEXT.code.text}</label>
<input id="code" name="code" type="text" autocomplete="one-time-code" required maxlength="64" autofocus>
</div>
<button type="submit">${TEXT.continue.text}</button>
</form>`;
  const status = messages.length > 0 ? 400 : 200;
  return sendPage(
    reply,
    status,
    layout({ title: TEXT.title, brand: deps.config.brandTitle, messages, body }),
  );
}

const VerifyForm = Type.Object({
  csrf_token: Type.String(),
  code: Type.Optional(Type.String({ maxLength: 64 })),
});

/** `GET`/`POST /if/user/verify/?next=`: the form, and its check. */
export function stepUpPage(app: PagesApp, deps: AppDeps, allowedNext: readonly string[]): void {
  app.get(VERIFY_PATH, { schema: { hide: true } }, async function showStepUp(request, reply) {
    const signedIn = await browserSessionWithUser(deps, request);
    if (signedIn === null) return seeOther(reply, PATHS.login);
    const next = nextPath(request, allowedNext);
    if (mayChangeSecondFactors(signedIn)) {
      return seeOther(reply, next); // nothing to prove
    }
    return renderForm(deps, request, reply, next, []);
  });

  app.post(
    VERIFY_PATH,
    {
      schema: { hide: true, body: VerifyForm },
      attachValidation: true,
      preHandler: [verifyCSRFToken, rejectInvalidForm],
    },
    async function submitStepUp(request, reply) {
      const signedIn = await browserSessionWithUser(deps, request);
      if (signedIn === null) return seeOther(reply, PATHS.login);
      const next = nextPath(request, allowedNext);
      const code = (request.body.code ?? "").trim();
      // TOTP codes are 6 or 8 digits, backup codes 12 letters and digits: the length tells them apart.
      const method = /^\d{6,8}$/.test(code) ? "totp" : "lookup_secret";
      const context = { tenantId: request.tenant.id, audit: pageAudit(request), clientIP: request.ip };
      if (code !== "" && (await proveSecondFactor(deps, context, signedIn, method, code)) !== null) {
        return seeOther(reply, next);
      }
      return renderForm(deps, request, reply, next, [MESSAGES.invalidCode]);
    },
  );
}
