import cookie from "@fastify/cookie";
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from "fastify";
import type { AppDeps } from "../../app.js";
import { uiPages } from "../../ui/routes.js";
import { publicErrorHandler } from "./flows.errors.js";
import { isJSONRequest, type RawBody } from "./flows.http.js";
import { loginRoutes } from "./flows.login.js";
import { recoveryRoutes } from "./flows.recovery.js";
import { settingsRoutes } from "./flows.settings.js";
import { sessionRoutes } from "./session.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The route always answers JSON (API endpoints), whatever the request negotiated. */
    json?: boolean;
  }
}

/** Self-service bodies are a few fields plus an optional `transient_payload`. */
const BODY_LIMIT = 64 * 1024;

function rawBody(kind: RawBody["kind"]) {
  return function parseRawBody(
    request: FastifyRequest,
    body: string,
    done: (error: Error | null, body?: RawBody) => void,
  ): void {
    done(null, { kind, contentType: String(request.headers["content-type"] ?? ""), text: body });
  };
}

/**
 * Kratos' public API (kratos.md §1): self-service recovery, settings and login flows, sessions and
 * logout, with Rekey's pages for them under `/ui`. Bodies are kept as text by the parsers and
 * decoded by the routes (JSON or urlencoded, dotted keys), so a bad body is a Kratos 400, never a
 * framework error page; cookies are read in this scope only.
 */
export function kratosPublicPlugin(deps: AppDeps): FastifyPluginAsync {
  return async function kratosPublicPlugin(app: FastifyInstance): Promise<void> {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      "application/json",
      { parseAs: "string", bodyLimit: BODY_LIMIT },
      rawBody("json"),
    );
    app.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: BODY_LIMIT },
      rawBody("form"),
    );
    app.addContentTypeParser("*", { parseAs: "string", bodyLimit: BODY_LIMIT }, rawBody("other"));
    await app.register(cookie);
    app.decorateRequest("selfService", null as never);
    app.addHook("onRequest", async function negotiate(request) {
      const json = request.routeOptions.config.json === true || isJSONRequest(request);
      request.selfService = { json, csrfCookie: null, publicURL: null, flowId: null, fields: {} };
    });
    app.setErrorHandler(publicErrorHandler(deps));

    recoveryRoutes(app, deps);
    settingsRoutes(app, deps);
    loginRoutes(app, deps);
    sessionRoutes(app, deps);
    await app.register(uiPages(deps));
  };
}
