import { timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Config } from "../config.js";
import { CSRFViolation } from "../errors.js";
import type { RandomSource } from "../random.js";
import { cookieOptions } from "./cookies.js";

/**
 * Anti-CSRF for browser forms, as kratos.md §2.6 describes it: a cookie holds a random secret; each
 * form carries the secret masked with a fresh random mask (mask ‖ mask XOR secret, base64), so the
 * token differs on every render (no BREACH-style compression oracle) while any of them unmasks to
 * the cookie's secret. Written for any surface: the Kratos browser flows can reuse it unchanged.
 */
export const CSRF_COOKIE = "rekey_csrf";
/** The form field (and Kratos UI node) that carries the masked token. */
export const CSRF_FIELD = "csrf_token";

const SECRET_BYTES = 32;

export interface CSRFDeps {
  config: Pick<Config, "publicURL">;
  random: RandomSource;
}

/** The cookie's secret, or null when the cookie is missing or not one Rekey could have set. */
function decodeSecret(cookie: string | undefined): Buffer | null {
  if (cookie === undefined || !/^[A-Za-z0-9_-]{43}$/.test(cookie)) {
    return null;
  }
  const secret = Buffer.from(cookie, "base64url");
  return secret.length === SECRET_BYTES ? secret : null;
}

function xor(left: Buffer, right: Buffer): Buffer {
  const out = Buffer.alloc(left.length);
  for (let i = 0; i < left.length; i++) {
    out[i] = left[i]! ^ right[i]!;
  }
  return out;
}

/** `base64(mask ‖ mask XOR secret)`. */
export function maskCSRFSecret(secret: Buffer, mask: Buffer): string {
  return Buffer.concat([mask, xor(mask, secret)]).toString("base64");
}

/** The secret inside a masked token; null when the token is not one. */
export function unmaskCSRFToken(token: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]{86}==$/.test(token)) {
    return null;
  }
  const raw = Buffer.from(token, "base64");
  if (raw.length !== 2 * SECRET_BYTES) {
    return null;
  }
  return xor(raw.subarray(0, SECRET_BYTES), raw.subarray(SECRET_BYTES));
}

/**
 * A masked token for one form. Reuses the browser's secret when it has a valid one (several tabs
 * stay valid), else sets a new `rekey_csrf` cookie: HttpOnly, SameSite=Lax, Path /, Secure on https.
 */
export function issueCSRFToken(deps: CSRFDeps, request: FastifyRequest, reply: FastifyReply): string {
  let secret = decodeSecret(request.cookies[CSRF_COOKIE]);
  if (secret === null) {
    secret = deps.random.bytes(SECRET_BYTES);
    reply.setCookie(CSRF_COOKIE, secret.toString("base64url"), cookieOptions(deps.config));
  }
  return maskCSRFSecret(secret, deps.random.bytes(SECRET_BYTES));
}

/**
 * Replaces the browser's secret, so tokens rendered before a change of privilege (signing in) stop
 * working. For responses that render no form themselves (a redirect).
 */
export function resetCSRFSecret(deps: CSRFDeps, reply: FastifyReply): void {
  reply.setCookie(
    CSRF_COOKIE,
    deps.random.bytes(SECRET_BYTES).toString("base64url"),
    cookieOptions(deps.config),
  );
}

/**
 * Throws CSRFViolation unless `submitted` unmasks to the secret in `cookie`. The comparison is
 * constant time; the reason is for logs, never shown as the page's text.
 */
export function assertCSRFToken(cookie: string | undefined, submitted: unknown): void {
  const secret = decodeSecret(cookie);
  if (secret === null) {
    throw new CSRFViolation("The anti-CSRF cookie is missing or malformed.");
  }
  if (typeof submitted !== "string" || submitted === "") {
    throw new CSRFViolation("The form carries no anti-CSRF token.");
  }
  const unmasked = unmaskCSRFToken(submitted);
  if (unmasked === null || !timingSafeEqual(unmasked, secret)) {
    throw new CSRFViolation("The anti-CSRF token does not match the cookie.");
  }
}

/** The submitted form's `csrf_token`, whatever the body turned out to be. */
function submittedToken(body: unknown): unknown {
  return typeof body === "object" && body !== null
    ? (body as Record<string, unknown>)[CSRF_FIELD]
    : undefined;
}

/**
 * Named preHandler step: the first check of every form POST, before the body is validated and
 * before any service runs, so a forged request changes nothing and learns nothing.
 */
export async function verifyCSRFToken(request: FastifyRequest): Promise<void> {
  assertCSRFToken(request.cookies[CSRF_COOKIE], submittedToken(request.body));
}
