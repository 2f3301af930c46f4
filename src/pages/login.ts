import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../app.js";
import { LoginFailed } from "../errors.js";
import { loginWithPassword } from "../sessions/login.js";
import { accountSecondFactors } from "./authenticators.js";
import { clearCookie, cookieOptions, SESSION_COOKIE } from "./cookies.js";
import { issueCSRFToken, resetCSRFSecret, verifyCSRFToken } from "./csrf.js";
import { browserSession } from "./session.js";
import { type PagesApp, pageAudit, rejectInvalidForm, seeOther, sendPage } from "./steps.js";
import { type Message, MESSAGES } from "./text.js";
import { accountPage, loginPage, MAX_FIELD_LENGTH, PATHS } from "./views.js";

/** Signing in with a password (how a recovered user proves that access is back), the account page, signing out. */

const LoginForm = Type.Object({
  csrf_token: Type.String(),
  identifier: Type.Optional(Type.String({ maxLength: MAX_FIELD_LENGTH })),
  password: Type.Optional(Type.String({ maxLength: MAX_FIELD_LENGTH })),
});
const LogoutForm = Type.Object({ csrf_token: Type.String() });

function renderLogin(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  identifier: string,
  messages: readonly Message[],
): FastifyReply {
  const csrfToken = issueCSRFToken(deps, request, reply);
  return sendPage(
    reply,
    status,
    loginPage({ brand: deps.config.brandTitle, csrfToken, identifier, messages }),
  );
}

export function loginPages(app: PagesApp, deps: AppDeps): void {
  app.get(PATHS.login, { schema: { hide: true } }, async function showLogin(request, reply) {
    if ((await browserSession(deps, request)) !== null) {
      return seeOther(reply, PATHS.user);
    }
    return renderLogin(deps, request, reply, 200, "", []);
  });

  app.post(
    PATHS.login,
    {
      schema: { hide: true, body: LoginForm },
      attachValidation: true,
      preHandler: [verifyCSRFToken, rejectInvalidForm],
    },
    async function signIn(request, reply) {
      const identifier = request.body.identifier ?? "";
      let token: string;
      try {
        const { issued } = await loginWithPassword(deps, pageAudit(request), {
          identifier,
          password: request.body.password ?? "",
          kind: "browser",
          client: { ipAddress: request.ip, userAgent: request.headers["user-agent"] },
        });
        token = issued.token;
      } catch (error) {
        // 400, as Kratos answers a failed password login (kratos.md §3.6.5): a client or test that
        // only looks at the status still sees that the form was refused, and the page says why.
        if (error instanceof LoginFailed)
          return renderLogin(deps, request, reply, 400, identifier, [MESSAGES.loginFailed]);
        throw error;
      }
      reply.setCookie(SESSION_COOKIE, token, cookieOptions(deps.config, deps.config.sessionLifetimeSeconds));
      resetCSRFSecret(deps, reply); // a signed-in browser gets a secret no one saw before the login
      return seeOther(reply, PATHS.user);
    },
  );

  app.get(PATHS.user, { schema: { hide: true } }, async function showAccount(request, reply) {
    const session = await browserSession(deps, request);
    const user =
      session === null
        ? null
        : await deps.persistence.stores.users.findUser(request.tenant.id, session.userId);
    if (user === null) {
      return seeOther(reply, PATHS.login);
    }
    const csrfToken = issueCSRFToken(deps, request, reply);
    const secondFactors = await accountSecondFactors(deps, user);
    return sendPage(
      reply,
      200,
      accountPage({ brand: deps.config.brandTitle, csrfToken, username: user.username, secondFactors }),
    );
  });

  app.post(
    PATHS.logout,
    {
      schema: { hide: true, body: LogoutForm },
      attachValidation: true,
      preHandler: [verifyCSRFToken, rejectInvalidForm],
    },
    async function signOut(request, reply) {
      const session = await browserSession(deps, request);
      if (session !== null) {
        await deps.persistence.stores.sessions.revokeSession(request.tenant.id, session.id, deps.clock.now());
      }
      clearCookie(reply, deps.config, SESSION_COOKIE);
      return seeOther(reply, PATHS.login);
    },
  );
}
