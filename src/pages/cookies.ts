import type { CookieSerializeOptions } from "@fastify/cookie";
import type { FastifyReply } from "fastify";
import type { Config } from "../config.js";

/** The recovery session: may only set a password (authentik-v3.md §3.3.3 and §4, A7). */
export const RECOVERY_COOKIE = "rekey_recovery";
/** A browser login session (the secret issued by issueSession). */
export const SESSION_COOKIE = "rekey_session";

/**
 * The attributes every Rekey cookie shares: unreadable from scripts, sent on top-level navigation
 * but not on cross-site subrequests, for the whole site, and Secure whenever the public URL is https
 * (kratos.md §2.6). With `maxAge` undefined the cookie ends with the browser session.
 */
export function cookieOptions(
  config: Pick<Config, "publicURL">,
  maxAgeSeconds?: number,
): CookieSerializeOptions {
  const options: CookieSerializeOptions = {
    httpOnly: true,
    sameSite: "lax",
    path: "/",
    secure: config.publicURL.protocol === "https:",
  };
  if (maxAgeSeconds !== undefined) {
    options.maxAge = maxAgeSeconds;
  }
  return options;
}

/** Tells the browser to drop a cookie, with the attributes it was set with so it matches. */
export function clearCookie(reply: FastifyReply, config: Pick<Config, "publicURL">, name: string): void {
  reply.clearCookie(name, cookieOptions(config));
}
