import type { FastifyPluginAsync, FastifyRequest, RouteOptions } from "fastify";
import secureJSON from "secure-json-parse";
import { MalformedJSON, MethodNotAllowed, RouteNotFound, UnsupportedMediaType } from "../../errors.js";
import type { ApiDeps, TypedApp } from "./deps.js";
import { authenticatorRoutes } from "./authenticators.js";
import { authentikErrorHandler } from "./errors.js";
import { eventRoutes } from "./events.js";
import { groupRoutes } from "./groups.js";
import { recoveryEmailRoutes, recoveryRoutes } from "./recovery.js";
import { emailStageRoutes } from "./stages.js";
import { tenantRoutes } from "./tenants.js";
import { tokenRoutes } from "./tokens.js";
import { userRoutes } from "./users.js";

/** A route's path as a regular expression, to tell "wrong method" (405) from "no such path" (404). */
function pathPattern(url: string): RegExp {
  const escaped = url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:[A-Za-z_]+/g, "[^/]+");
  return new RegExp(`^${escaped}$`);
}

/**
 * authentik's API v3 under /api/v3: JSON only, DRF-style errors, trailing slashes required and never
 * redirected, and body validation deferred until after authentication (see steps.ts).
 */
export function authentikAPI(deps: ApiDeps): FastifyPluginAsync {
  return async function authentikAPI(app): Promise<void> {
    const routes: { pattern: RegExp; method: string }[] = [];
    app.addHook("onRoute", (route: RouteOptions) => {
      route.attachValidation = true;
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods) {
        routes.push({ pattern: pathPattern(route.url), method });
      }
    });

    // JSON only; an empty body is "no data" as in DRF; `__proto__` and `constructor.prototype` keys
    // are refused outright. A body that does not parse, or of another media type, is not an error
    // yet: DRF parses lazily, so authentication, permission and lookup answer first. The error waits
    // in `request.bodyError` until assertValidBody (steps.ts) reaches it.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
      if (body === "") {
        done(null, undefined);
        return;
      }
      try {
        done(
          null,
          secureJSON.parse(body as string, undefined, { protoAction: "error", constructorAction: "error" }),
        );
      } catch (error) {
        request.bodyError = new MalformedJSON((error as Error).message);
        done(null, undefined);
      }
    });
    app.addContentTypeParser("*", { parseAs: "string" }, (request, body, done) => {
      if (body !== "") {
        request.bodyError = new UnsupportedMediaType(request.headers["content-type"] ?? "");
      }
      done(null, undefined);
    });

    // No body at all is DRF's empty QueryDict: validated as `{}`; routes that care (the legacy
    // recovery_email form) read `request.bodyAbsent`.
    app.addHook("preValidation", function emptyBodyIsEmptyObject(request, _reply, done) {
      request.bodyAbsent = request.body === undefined && request.bodyError === null;
      if (request.bodyAbsent) {
        request.body = {};
      }
      done(); // callback style: runs on every request and never waits for anything
    });

    app.setErrorHandler(authentikErrorHandler);
    app.setNotFoundHandler(async function authentikNotFound(request: FastifyRequest) {
      const path = request.url.split("?")[0]!;
      const allowed = routes.filter((route) => route.pattern.test(path)).map((route) => route.method);
      if (allowed.length > 0) {
        throw new MethodNotAllowed(request.method.toUpperCase(), [...new Set([...allowed, "OPTIONS"])]);
      }
      throw new RouteNotFound();
    });

    const api = app as unknown as TypedApp;
    userRoutes(api, deps);
    groupRoutes(api, deps);
    tokenRoutes(api, deps);
    tenantRoutes(api, deps);
    eventRoutes(api, deps);
    recoveryRoutes(api, deps);
    recoveryEmailRoutes(api, deps);
    emailStageRoutes(api, deps);
    authenticatorRoutes(api, deps);
  };
}
