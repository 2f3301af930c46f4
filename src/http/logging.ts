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

type LogMethod = (...args: unknown[]) => void;
type Level = "fatal" | "error" | "warn" | "info" | "debug" | "trace";

/** What a request's logger is made from: the server's logger and the request id binding. */
interface ParentLogger extends Record<Level, LogMethod> {
  level: string;
  isLevelEnabled(level: string): boolean;
  child(bindings: Record<string, unknown>, options?: Record<string, unknown>): ParentLogger;
}

/**
 * `request.log` that makes its pino child (the request id binding) only when a line is written.
 * Fastify makes one per request, and at `warn`, the level a busy server runs at, most requests write
 * nothing: a child is a few microseconds of the ~80 µs an authenticated read costs in all. (At the
 * default `info`, Fastify's own request lines make it at once, as before.) Any other use (a child of
 * it, the bindings) makes the real child first, so it behaves exactly as pino's own.
 */
class LazyRequestLogger {
  readonly #parent: ParentLogger;
  readonly #bindings: Record<string, unknown>;
  #real: ParentLogger | null = null;

  constructor(parent: ParentLogger, bindings: Record<string, unknown>) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  get level(): string {
    return this.#parent.level;
  }

  #logger(): ParentLogger {
    this.#real ??= this.#parent.child(this.#bindings);
    return this.#real;
  }

  #write(level: Level, args: unknown[]): void {
    if (this.#parent.isLevelEnabled(level)) this.#logger()[level](...args);
  }

  isLevelEnabled(level: string): boolean {
    return this.#parent.isLevelEnabled(level);
  }
  fatal(...args: unknown[]): void {
    this.#write("fatal", args);
  }
  error(...args: unknown[]): void {
    this.#write("error", args);
  }
  warn(...args: unknown[]): void {
    this.#write("warn", args);
  }
  info(...args: unknown[]): void {
    this.#write("info", args);
  }
  debug(...args: unknown[]): void {
    this.#write("debug", args);
  }
  trace(...args: unknown[]): void {
    this.#write("trace", args);
  }
  silent(): void {}
  child(bindings: Record<string, unknown>, options?: Record<string, unknown>): ParentLogger {
    return this.#logger().child(bindings, options);
  }
  bindings(): Record<string, unknown> {
    return (this.#logger() as unknown as { bindings(): Record<string, unknown> }).bindings();
  }
}

/**
 * Fastify's childLoggerFactory: the lazy logger above, unless the route sets its own level (then
 * pino's child, whose level differs from the parent's) or logging is off (Fastify's null logger,
 * which is its own child and has no levels to ask).
 */
export function lazyRequestLogger(
  parent: ParentLogger,
  bindings: Record<string, unknown>,
  options: Record<string, unknown>,
): ParentLogger {
  if (options["level"] !== undefined || typeof parent.isLevelEnabled !== "function") {
    return parent.child(bindings, options);
  }
  return new LazyRequestLogger(parent, bindings) as unknown as ParentLogger;
}
