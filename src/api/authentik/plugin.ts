import type { FastifyPluginAsync, FastifyRequest, RouteOptions } from "fastify";
import secureJSON from "secure-json-parse";
import { MalformedJSON, MethodNotAllowed, RouteNotFound } from "../../errors.js";
import type { ApiDeps, TypedApp } from "./deps.js";
import { authentikErrorHandler } from "./errors.js";
import { eventRoutes } from "./events.js";
import { groupRoutes } from "./groups.js";
import { recoveryEmailRoutes, recoveryRoutes } from "./recovery.js";
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

    // JSON only (any other media type is a 415); an empty body is "no data" as in DRF; parse errors
    // carry the parser's message; `__proto__` and `constructor.prototype` keys are refused outright.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
      if (body === "") {
        done(null, undefined);
        return;
      }
      try {
        done(null, secureJSON.parse(body as string, undefined, { protoAction: "error", constructorAction: "error" }));
      } catch (error) {
        done(new MalformedJSON((error as Error).message), undefined);
      }
    });

    // No body at all is DRF's empty QueryDict: validated as `{}`; routes that care (the legacy
    // recovery_email form) read `request.bodyAbsent`.
    app.addHook("preValidation", async function emptyBodyIsEmptyObject(request) {
      request.bodyAbsent = request.body === undefined;
      if (request.bodyAbsent) {
        request.body = {};
      }
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
  };
}
