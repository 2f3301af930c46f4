import type { FastifyRequest } from "fastify";
import type { AppDeps } from "../app.js";
import type { SignedIn } from "../selfservice/flows.js";
import { signedInBy } from "../selfservice/sessions.js";
import { resumeSession } from "../sessions/service.js";
import type { Session } from "../sessions/store.js";
import { SESSION_COOKIE } from "./cookies.js";

/** The pages' `rekey_session` cookie, or null when the request carries none. */
function sessionCookie(request: FastifyRequest): string | null {
  const token = request.cookies[SESSION_COOKIE];
  return token === undefined || token === "" ? null : token;
}

/** The live browser session behind the pages' `rekey_session` cookie, or null. */
export async function browserSession(deps: AppDeps, request: FastifyRequest): Promise<Session | null> {
  const token = sessionCookie(request);
  if (token === null) {
    return null;
  }
  const session = await resumeSession(deps, deps.persistence.stores, request.tenant.id, token);
  return session !== null && session.kind === "browser" ? session : null;
}

/**
 * `browserSession` with its user, groups included, and its second-factor check, when that user is
 * active; else null. The flows' signed-in read (`signedInBy`): session, user and factors in one
 * query, groups in a second.
 */
export async function browserSessionWithUser(
  deps: AppDeps,
  request: FastifyRequest,
): Promise<SignedIn | null> {
  const token = sessionCookie(request);
  const found = token === null ? null : await signedInBy(deps, request.tenant.id, token);
  return found !== null && found.session.kind === "browser" ? found : null;
}
