import swagger from "@fastify/swagger";
import { STATUS_CODES } from "node:http";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyServerOptions,
} from "fastify";
import type { ApiDeps } from "./api/authentik/deps.js";
import { isDateTime } from "./api/authentik/format.js";
import { registerOpenAPIRoutes } from "./api/authentik/openapi.js";
import { authentikAPI } from "./api/authentik/plugin.js";
import { kratosAdminPlugin } from "./api/kratos/admin.js";
import { kratosPublicPlugin } from "./api/kratos/public.js";
import "./http/context.js";
import { lazyRequestLogger, REDACT_PATHS, serializeRequestForLog } from "./http/logging.js";
import { pagesPlugin } from "./pages/routes.js";

export type AppDeps = ApiDeps;

/** DRF's date-time forms (no offset means UTC) replace Ajv's stricter RFC 3339 check. */
function addDateTimeFormat<A extends { addFormat(name: string, format: (value: string) => boolean): A }>(
  ajv: A,
): A {
  return ajv.addFormat("date-time", isDateTime);
}

/** Logger settings shared by the server and the CLI: JSON lines, secrets redacted. */
export function loggerOptions(level: string): FastifyServerOptions["logger"] {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
    serializers: { req: serializeRequestForLog as never },
  };
}

/**
 * Builds the whole server from explicit dependencies and never listens: tests get the real app and
 * drive it with inject(); only server.ts opens a port.
 */
export async function buildApp(
  deps: AppDeps,
  options?: { logger?: FastifyServerOptions["logger"] },
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options?.logger ?? false,
    trustProxy: deps.config.trustProxy,
    requestIdHeader: "x-request-id",
    genReqId: () => deps.random.uuid(),
    childLoggerFactory: lazyRequestLogger as unknown as FastifyServerOptions["childLoggerFactory"],
    // Token identifiers may be 255 characters long (authentik-v3.md §3.1); Fastify's default is 100.
    routerOptions: { maxParamLength: 1024 },
    // A path Fastify cannot even route (a bad percent-escape, an over-long parameter) is still a
    // plain 404 in the dialect of its prefix, never Fastify's own error body.
    frameworkErrors: (_error, request, reply) => {
      const body = request.url.startsWith("/api/v3/")
        ? { detail: "Not found." }
        : { error: { code: 404, status: "Not Found", message: "The requested resource could not be found" } };
      (reply as FastifyReply).code(404).type("application/json").send(body);
    },
    ajv: {
      // No coercion and no defaults: "given" and "not given" must stay apart for PATCH, and a
      // string where a number belongs is an error, not a guess.
      customOptions: { allErrors: true, coerceTypes: false, useDefaults: false, removeAdditional: false },
      // onCreate runs after Fastify has added ajv-formats, so Rekey's date-time check wins.
      onCreate: addDateTimeFormat as never,
    },
  }) as unknown as FastifyInstance;
  app.decorateRequest("tenant", null as never);
  app.decorateRequest("user", null);
  app.decorateRequest("bodyAbsent", false);
  app.decorateRequest("bodyError", null);
  // Callback style, not async: every request runs it, and on a cache hit it needs no promise at all.
  app.addHook("onRequest", function resolveTenant(request, _reply, done) {
    const cached = deps.tenantResolver.cached(request.host);
    if (cached !== null) {
      request.tenant = cached;
      done();
      return;
    }
    deps.tenantResolver.resolve(request.host).then((tenant) => {
      request.tenant = tenant;
      done();
    }, done);
  });

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: "Rekey", version: "3", description: "authentik API v3 as served by Rekey" },
      servers: [{ url: "/api/v3" }],
      components: { securitySchemes: { authentik: { type: "http", scheme: "bearer" } } },
      security: [{ authentik: [] }],
    },
    // The document at /api/v3/schema/ describes /api/v3 only; Kratos routes and pages stay out of it.
    transform: ({ schema, url }) => ({
      schema: (url.startsWith("/api/v3/") ? schema : { ...schema, hide: true }) as never,
      url: url.replace(/^\/api\/v3/, ""),
    }),
  });
  await app.register(authentikAPI(deps), { prefix: "/api/v3" });
  await app.register(pagesPlugin(deps));
  await app.register(kratosPublicPlugin(deps));
  await app.register(kratosAdminPlugin(deps));
  registerOpenAPIRoutes(app);

  // Kratos' JSON 404 (K11): plain `application/json` (Fastify would add a charset) and Ory-Error-Id.
  app.setNotFoundHandler(async (_request, reply) => {
    const body = {
      error: { code: 404, status: "Not Found", message: "The requested resource could not be found" },
    };
    return reply
      .code(404)
      .header("content-type", "application/json")
      .header("ory-error-id", "")
      .send(Buffer.from(JSON.stringify(body)));
  });
  // What fails before a plugin's own handlers run reaches this root handler: chiefly the 404 route
  // parsing the body of a path that does not exist (an unparseable Content-Type gave Fastify's own
  // 415 body). A missing path stays its dialect's 404; anything else keeps its status, in the dialect.
  app.setErrorHandler(async function rootErrorHandler(error: FastifyError, request, reply) {
    const status = request.is404 ? 404 : (error.statusCode ?? 500) >= 500 ? 500 : (error.statusCode ?? 500);
    if (status === 500) request.log.error({ err: error }, "unhandled error");
    const text =
      status === 404 ? "The requested resource could not be found" : status === 500 ? "" : error.message;
    const body = request.url.startsWith("/api/v3/")
      ? { detail: status === 404 ? "Not found." : text || "A server error occurred." }
      : {
          error: {
            code: status,
            status: STATUS_CODES[status] ?? "Error",
            message: text || "An internal server error occurred.",
          },
        };
    return reply.code(status).type("application/json").send(body);
  });
  return app;
}
