import cookie from "@fastify/cookie";
import formbody from "@fastify/formbody";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyPluginAsync } from "fastify";
import type { AppDeps } from "../app.js";
import { authenticatorPages } from "./authenticators.js";
import { pageErrorHandler } from "./errors.js";
import { STYLESHEET, STYLESHEET_PATH } from "./layout.js";
import { loginPages } from "./login.js";
import { recoveryLinkPages, recoverySessionPages } from "./recovery.js";
import { recoveryRequestPages } from "./request.js";
import { setSecurityHeaders } from "./steps.js";

/** Forms are a few short fields; a larger body is refused (413 page) before it is parsed. */
const FORM_BODY_LIMIT = 16 * 1024;

/**
 * The HTML pages where people recover and sign in, usable without JavaScript. Cookies and form
 * bodies are registered in this scope only; the only body these routes accept is a urlencoded form
 * (anything else is a 415 page); every reply carries the security headers; every error is a page.
 * Paths outside these routes keep the app's JSON 404.
 */
export function pagesPlugin(deps: AppDeps): FastifyPluginAsync {
  return async function pagesPlugin(app): Promise<void> {
    app.removeAllContentTypeParsers();
    await app.register(cookie);
    await app.register(formbody, { bodyLimit: FORM_BODY_LIMIT });
    app.addHook("onSend", setSecurityHeaders);
    app.setErrorHandler(pageErrorHandler(deps.config));

    app.get(STYLESHEET_PATH, { schema: { hide: true } }, async function serveStylesheet(_request, reply) {
      return reply
        .type("text/css; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .send(STYLESHEET);
    });

    const pages = app.withTypeProvider<TypeBoxTypeProvider>();
    recoveryLinkPages(pages, deps);
    recoverySessionPages(pages, deps);
    recoveryRequestPages(pages, deps);
    loginPages(pages, deps);
    authenticatorPages(pages, deps);
  };
}
