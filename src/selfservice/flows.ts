import { constantTimeEqual, sha256Hex } from "../crypto/secrets.js";
import type { CoreDeps } from "../deps.js";
import { CSRFViolation } from "../errors.js";
import type { Audit } from "../events/service.js";
import { assertCSRFToken } from "../pages/csrf.js";
import type { RandomSource } from "../random.js";
import type { SessionWithUser } from "../sessions/store.js";
import { APIFlowFromBrowser } from "./errors.js";

/** Self-service flows live one hour (kratos.md §3.4.1, §3.6.1, §3.6.5). */
export const FLOW_LIFETIME_MS = 60 * 60_000;
/** A session may change credentials for an hour after it authenticated (§3.6.2). */
export const PRIVILEGED_MS = 60 * 60_000;

/**
 * What a flow service needs to know about the request, gathered by the edge: the tenant and its
 * public URL, who is signed in, the browser's anti-CSRF cookie, and where the request came from.
 */
export interface FlowRequest {
  tenantId: string;
  /** `<P>`: the tenant's public URL, no trailing slash. */
  publicURL: string;
  /** `<P>` followed by the request's path and query. */
  requestURL: string;
  /** Events of this request; the actor is the system until the service knows the user. */
  audit: Audit;
  clientIP: string;
  /** The User-Agent header, recorded on the sessions the request issues; null when none was sent. */
  userAgent: string | null;
  /** The live session presented with the request (its identity active), or null. */
  session: SignedIn | null;
  /** The browser's anti-CSRF cookie, when it holds a well-formed secret; null otherwise. */
  csrfCookie: string | null;
  /** Set when the request carries an Origin header or cookies: refused on API flows (kratos.md §2.6). */
  browserHeader: "Origin" | "Cookie" | null;
}

/** The caller's live session, its whole user and its second-factor check (sessions/store.ts). */
export type SignedIn = SessionWithUser;

/** A new anti-CSRF cookie value (the pages' format: 32 random bytes, base64url) and its stored hash. */
export function newCSRFCookie(random: RandomSource): { cookieValue: string; hash: string } {
  const cookieValue = random.bytes(32).toString("base64url");
  return { cookieValue, hash: csrfHash(cookieValue) };
}

/** What a browser flow stores of its anti-CSRF cookie: the SHA-256, never the secret. */
export function csrfHash(cookieValue: string): string {
  return sha256Hex(cookieValue);
}

/** True when the cookie is the one the flow was bound to. */
export function csrfCookieMatches(flowHash: string | null, cookieValue: string | null): boolean {
  return flowHash !== null && cookieValue !== null && constantTimeEqual(flowHash, csrfHash(cookieValue));
}

/**
 * The anti-CSRF rule of a flow submission (kratos.md §2.6). Browser flows need the cookie they were
 * bound to and a token that unmasks to it; API flows must not come from a browser; flows the admin
 * API made (no binding) are exempt. Throws CSRFViolation or APIFlowFromBrowser.
 */
export function checkFlowCSRF(
  flow: { type: "browser" | "api"; csrfHash: string | null },
  request: Pick<FlowRequest, "csrfCookie" | "browserHeader">,
  submittedToken: string,
  options?: { exempt?: boolean },
): void {
  if (options?.exempt === true) {
    return;
  }
  if (flow.type === "api") {
    if (request.browserHeader !== null) {
      throw new APIFlowFromBrowser(request.browserHeader);
    }
    return;
  }
  if (!csrfCookieMatches(flow.csrfHash, request.csrfCookie)) {
    throw new CSRFViolation("The anti-CSRF cookie is missing or belongs to another flow.");
  }
  assertCSRFToken(request.csrfCookie ?? undefined, submittedToken);
}

/** The anti-CSRF binding of a replacement flow: the browser's own cookie when it has one, else a new one. */
export function replacementCSRF(
  deps: Pick<CoreDeps, "random">,
  request: FlowRequest,
): { hash: string; csrfCookie: string | null } {
  if (request.csrfCookie !== null) {
    return { hash: csrfHash(request.csrfCookie), csrfCookie: null };
  }
  const fresh = newCSRFCookie(deps.random);
  return { hash: fresh.hash, csrfCookie: fresh.cookieValue };
}

/**
 * `returnTo` as an absolute URL when it may be sent back to (kratos.md §2.1): the public URL's
 * origin, or a prefix from REKEY_ALLOWED_RETURN_URLS. A path (`/next`) is taken relative to the
 * public URL. Null when it is not allowed.
 */
export function resolveReturnTo(
  publicURL: string,
  allowedPrefixes: readonly string[],
  returnTo: string,
): string | null {
  let target: URL;
  try {
    target = new URL(returnTo, /^\/(?!\/)/.test(returnTo) ? `${publicURL}/` : undefined);
  } catch {
    return null;
  }
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    return null;
  }
  if (
    target.origin === new URL(publicURL).origin ||
    allowedPrefixes.some((prefix) => target.href.startsWith(prefix))
  ) {
    return target.href;
  }
  return null;
}

/** The value of a query parameter of a stored request URL (`skip_settings`, `return_to`); null when absent. */
export function requestURLParam(requestURL: string, name: string): string | null {
  try {
    return new URL(requestURL).searchParams.get(name);
  } catch {
    return null;
  }
}
