import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../app.js";
import { PasswordRejected, RecoveryUnusable, SecondFactorInvalid } from "../errors.js";
import type { RecoveryTokenKind } from "../recovery/store.js";
import {
  checkRecoveryToken,
  completeRecovery,
  type OpenRecoverySession,
  openRecoverySession,
  RECOVERY_SESSION_MS,
  redeemRecoveryToken,
} from "../recovery/session.js";
import { clearCookie, cookieOptions, RECOVERY_COOKIE } from "./cookies.js";
import { issueCSRFToken, verifyCSRFToken } from "./csrf.js";
import { type PagesApp, rejectInvalidForm, requesterOf, seeOther, sendPage } from "./steps.js";
import { type Message, MESSAGES } from "./text.js";
import {
  continuePage,
  MAX_FIELD_LENGTH,
  newPasswordPage,
  PATHS,
  passwordChangedPage,
  unusablePage,
} from "./views.js";

/**
 * Consuming recovery links and keys (authentik-v3.md §3.3.3): GET only shows a Continue button,
 * POST uses the link or key up and opens a one-hour recovery session whose only power is setting a
 * password (A7).
 */

const Secret = Type.String({ maxLength: MAX_FIELD_LENGTH });
const LinkParams = Type.Object({ slug: Type.String({ maxLength: 200 }) });
const LinkQuery = Type.Object({ flow_token: Type.Optional(Secret) });
const KeyParams = Type.Object({ key: Secret });
const ContinueForm = Type.Object({ csrf_token: Type.String(), key: Type.Optional(Secret) });
const NewPasswordForm = Type.Object({
  csrf_token: Type.String(),
  password: Type.Optional(Type.String({ maxLength: MAX_FIELD_LENGTH })),
  password_repeat: Type.Optional(Type.String({ maxLength: MAX_FIELD_LENGTH })),
  reset_mfa: Type.Optional(Type.String({ maxLength: 16 })),
  code: Type.Optional(Type.String({ maxLength: 64 })),
});

/** Named step: a link names the configured recovery flow, else it is not a link Rekey issued. */
function requireRecoveryFlowSlug(deps: AppDeps) {
  return async function requireRecoveryFlowSlug(request: FastifyRequest): Promise<void> {
    const slug = (request.params as { slug?: unknown }).slug;
    if (deps.config.recoveryFlowSlug === "" || slug !== deps.config.recoveryFlowSlug) {
      throw new RecoveryUnusable();
    }
  };
}

async function showContinue(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  target: { kind: RecoveryTokenKind; key: string; action: string },
): Promise<FastifyReply> {
  await checkRecoveryToken(deps, request.tenant, requesterOf(request), target.kind, target.key);
  const csrfToken = issueCSRFToken(deps, request, reply);
  return sendPage(
    reply,
    200,
    continuePage({
      brand: deps.config.brandTitle,
      action: target.action,
      recoveryKey: target.key,
      csrfToken,
    }),
  );
}

async function redeem(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  kind: RecoveryTokenKind,
  key: string,
): Promise<FastifyReply> {
  const { sessionSecret } = await redeemRecoveryToken(deps, request.tenant, requesterOf(request), kind, key);
  reply.setCookie(RECOVERY_COOKIE, sessionSecret, cookieOptions(deps.config, RECOVERY_SESSION_MS / 1000));
  return seeOther(reply, PATHS.recovery);
}

export function recoveryLinkPages(app: PagesApp, deps: AppDeps): void {
  const linkSchema = { hide: true, params: LinkParams, querystring: LinkQuery };
  const keySchema = { hide: true, params: KeyParams };
  // The Continue form posts to the path alone: the key rides in the body, not in another URL.
  const linkAction = (slug: string): string => `/if/flow/${encodeURIComponent(slug)}/`;
  const keyAction = (key: string): string => `/recovery/use-token/${encodeURIComponent(key)}/`;

  app.get(
    "/if/flow/:slug/",
    { schema: linkSchema, preHandler: [requireRecoveryFlowSlug(deps)] },
    async function showLinkContinue(request, reply) {
      const key = request.query.flow_token ?? "";
      return showContinue(deps, request, reply, {
        kind: "link",
        key,
        action: linkAction(request.params.slug),
      });
    },
  );

  app.post(
    "/if/flow/:slug/",
    {
      schema: { ...linkSchema, body: ContinueForm },
      attachValidation: true,
      preHandler: [verifyCSRFToken, rejectInvalidForm, requireRecoveryFlowSlug(deps)],
    },
    async function redeemLink(request, reply) {
      return redeem(deps, request, reply, "link", request.body.key ?? request.query.flow_token ?? "");
    },
  );

  app.get("/recovery/use-token/:key/", { schema: keySchema }, async function showKeyContinue(request, reply) {
    const key = request.params.key;
    return showContinue(deps, request, reply, { kind: "key", key, action: keyAction(key) });
  });

  app.post(
    "/recovery/use-token/:key/",
    {
      schema: { ...keySchema, body: ContinueForm },
      attachValidation: true,
      preHandler: [verifyCSRFToken, rejectInvalidForm],
    },
    async function redeemKey(request, reply) {
      return redeem(deps, request, reply, "key", request.params.key);
    },
  );
}

function renderNewPassword(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  open: OpenRecoverySession,
  messages: readonly Message[],
): FastifyReply {
  return sendPage(
    reply,
    200,
    newPasswordPage({
      brand: deps.config.brandTitle,
      csrfToken: issueCSRFToken(deps, request, reply),
      username: open.user.username,
      mayResetMFA: open.mayResetMFA,
      requiresSecondFactor: open.requiresSecondFactor,
      messages,
    }),
  );
}

export function recoverySessionPages(app: PagesApp, deps: AppDeps): void {
  app.get(PATHS.recovery, { schema: { hide: true } }, async function showNewPasswordForm(request, reply) {
    const secret = request.cookies[RECOVERY_COOKIE];
    let open: OpenRecoverySession;
    try {
      if (secret === undefined) throw new RecoveryUnusable();
      open = await openRecoverySession(deps, request.tenant, secret);
    } catch (error) {
      if (error instanceof RecoveryUnusable) return seeOther(reply, PATHS.recoveryInvalid);
      throw error;
    }
    return renderNewPassword(deps, request, reply, open, []);
  });

  app.get(
    PATHS.recoveryInvalid,
    { schema: { hide: true } },
    async function showRecoveryInvalid(_request, reply) {
      return sendPage(reply, 404, unusablePage(deps.config.brandTitle));
    },
  );

  app.post(
    PATHS.recovery,
    {
      schema: { hide: true, body: NewPasswordForm },
      attachValidation: true,
      preHandler: [verifyCSRFToken, rejectInvalidForm],
    },
    async function setNewPassword(request, reply) {
      const secret = request.cookies[RECOVERY_COOKIE];
      if (secret === undefined) throw new RecoveryUnusable();
      const open = await openRecoverySession(deps, request.tenant, secret);
      const input = {
        password: request.body.password ?? "",
        passwordRepeat: request.body.password_repeat ?? "",
        code: request.body.code ?? "",
        // A checkbox sends its value only when checked; the service honours it only where MFA reset is allowed.
        resetMFA: request.body.reset_mfa !== undefined,
      };
      try {
        await completeRecovery(deps, request.tenant, requesterOf(request), secret, input);
      } catch (error) {
        // A wrong code re-renders the form (authentik-v3.md §3.3.3 step 5); the fifth ends the session.
        if (error instanceof SecondFactorInvalid)
          return renderNewPassword(deps, request, reply, open, [MESSAGES.invalidCode]);
        if (!(error instanceof PasswordRejected)) throw error;
        return renderNewPassword(deps, request, reply, open, [
          { id: error.messageId, type: "error", text: error.message },
        ]);
      }
      clearCookie(reply, deps.config, RECOVERY_COOKIE);
      return sendPage(reply, 200, passwordChangedPage(deps.config.brandTitle));
    },
  );
}
