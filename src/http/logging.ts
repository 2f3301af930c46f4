import type { FastifyRequest } from "fastify";

/** Paths and query parameters that carry a secret: never written to a log line. */
const SECRET_PATH = /(\/use-token\/)[^/?]+/g;
const SECRET_QUERY = /([?&](?:flow_token|token|code|key|session_token|password)=)[^&]*/gi;

export function redactURL(url: string): string {
  return url.replace(SECRET_PATH, "$1[REDACTED]").replace(SECRET_QUERY, "$1[REDACTED]");
}

/** Logged shape of a request: no headers at all (authorization, cookies), and a redacted URL. */
export function serializeRequestForLog(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: redactURL(request.url),
    host: request.host,
    remoteAddress: request.ip,
  };
}

/** pino redaction paths for anything that may carry a secret in a logged object. */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-session-token"]',
  'res.headers["set-cookie"]',
  "*.password",
  "*.key",
  "*.token",
  "*.code",
  "*.secret",
  "body.password",
  "body.key",
];
