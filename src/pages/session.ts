import type { FastifyRequest } from "fastify";
import type { AppDeps } from "../app.js";
import { resumeSession } from "../sessions/service.js";
import type { Session } from "../sessions/store.js";
import { SESSION_COOKIE } from "./cookies.js";

/** The live browser session behind the pages' `rekey_session` cookie, or null. */
export async function browserSession(deps: AppDeps, request: FastifyRequest): Promise<Session | null> {
  const token = request.cookies[SESSION_COOKIE];
  if (token === undefined || token === "") {
    return null;
  }
  const session = await resumeSession(deps, deps.persistence.stores, request.tenant.id, token);
  return session !== null && session.kind === "browser" ? session : null;
}
