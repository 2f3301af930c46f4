import type { FastifyReply, FastifyRequest } from "fastify";
import sjson from "secure-json-parse";
import type { AppDeps } from "../../app.js";
import { SYSTEM_ACTOR } from "../../events/store.js";
import { requestOrigin } from "../../http/context.js";
import { CSRF_COOKIE, maskCSRFSecret } from "../../pages/csrf.js";
import { cookieOptions } from "../../pages/cookies.js";
import type { FlowRequest } from "../../selfservice/flows.js";
import { resolveReturnTo } from "../../selfservice/flows.js";
import { signedInBy } from "../../selfservice/sessions.js";
import { tenantPublicURL } from "../../tenants/service.js";
import { KratosError } from "./errors.js";

/**
 * HTTP plumbing of the public Kratos routes: who the client is (browser, SPA, API, kratos.md §2.6),
 * what it sent (JSON or form bodies with dotted keys), its session and anti-CSRF cookie, and the
 * request as the flow services see it.
 */

/** The browser session cookie (kratos.md §2.6). */
export const SESSION_COOKIE = "ory_kratos_session";

/** What the public routes remember about one request. */
export interface PublicRequestState {
  /** The client wants JSON: an SPA, an API client, or a JSON error. */
  json: boolean;
  /** The anti-CSRF cookie value in force for this answer (set or received); null when none. */
  csrfCookie: string | null;
  publicURL: string | null;
  /** The `?flow=` of a submission, once `requireFlowParam` has checked it. */
  flowId: string | null;
  /** The submitted fields, once `decodeSubmission` has decoded them. */
  fields: Record<string, unknown>;
}

declare module "fastify" {
  interface FastifyRequest {
    selfService: PublicRequestState;
  }
}

/** Accept negotiation between text/html (first, the default) and application/json, as Go's httputil does. */
export function negotiatesJSON(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === "") {
    return false;
  }
  const specs = accept.split(",").map((part) => {
    const [value, ...params] = part.trim().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    return { value: (value ?? "").trim().toLowerCase(), q: Number.isFinite(quality) ? quality : 0 };
  });
  let best = "text/html";
  let bestQ = -1;
  let bestWild = 3;
  for (const offer of ["text/html", "application/json"]) {
    for (const spec of specs) {
      if (spec.q === 0 || spec.q < bestQ) continue;
      const wild =
        spec.value === "*/*"
          ? 2
          : spec.value.endsWith("/*") && offer.startsWith(spec.value.slice(0, -1))
            ? 1
            : spec.value === offer
              ? 0
              : -1;
      if (wild >= 0 && (spec.q > bestQ || bestWild > wild)) {
        best = offer;
        bestQ = spec.q;
        bestWild = wild;
      }
    }
  }
  return best === "application/json";
}

/** A JSON request (kratos.md §2.6): Accept prefers JSON, or Content-Type is exactly application/json. */
export function isJSONRequest(request: FastifyRequest): boolean {
  return request.headers["content-type"] === "application/json" || negotiatesJSON(request.headers.accept);
}

/** `<P>` for this request's tenant, computed once. */
export async function publicURLOf(deps: AppDeps, request: FastifyRequest): Promise<string> {
  request.selfService.publicURL ??= (
    await tenantPublicURL(deps, request.tenant, requestOrigin(request))
  ).replace(/\/+$/, "");
  return request.selfService.publicURL;
}

function validCSRFCookie(value: string | undefined): string | null {
  return value !== undefined && /^[A-Za-z0-9_-]{43}$/.test(value) ? value : null;
}

/** The browser's anti-CSRF cookie in force for this request (set during it, or received); null when none. */
export function currentCSRFCookie(request: FastifyRequest): string | null {
  return request.selfService.csrfCookie ?? validCSRFCookie(request.cookies[CSRF_COOKIE]);
}

/** The first session secret presented: X-Session-Token, then the cookie, then `Authorization: Bearer`. */
export function presentedSessionToken(request: FastifyRequest): string | null {
  const header = request.headers["x-session-token"];
  if (typeof header === "string" && header !== "") return header;
  const cookie = request.cookies[SESSION_COOKIE];
  if (cookie !== undefined && cookie !== "") return cookie;
  const authorization = request.headers.authorization;
  const bearer = typeof authorization === "string" ? /^Bearer\s+(\S+)$/i.exec(authorization.trim()) : null;
  return bearer === null ? null : bearer[1]!;
}

/** "Origin" or "Cookie" when a browser sent this (cookies of Cloudflare's aside), else null. */
function browserHeaderOf(request: FastifyRequest): "Origin" | "Cookie" | null {
  if (typeof request.headers.origin === "string" && request.headers.origin !== "") return "Origin";
  const names = Object.keys(request.cookies);
  return names.some((name) => !/^(__cf|_cf|cf_)/.test(name)) ? "Cookie" : null;
}

/** The request as the flow services see it. */
export async function flowRequestOf(deps: AppDeps, request: FastifyRequest): Promise<FlowRequest> {
  const publicURL = await publicURLOf(deps, request);
  const token = presentedSessionToken(request);
  return {
    tenantId: request.tenant.id,
    publicURL,
    requestURL: `${publicURL}${request.url}`,
    audit: {
      tenantId: request.tenant.id,
      actor: SYSTEM_ACTOR,
      clientIP: request.ip,
      // The query may carry a link token: events keep the path only.
      httpRequest: {
        path: request.url.split("?")[0],
        method: request.method,
        args: {},
        user_agent: request.headers["user-agent"] ?? "",
      },
      app: "rekey.kratos",
    },
    clientIP: request.ip,
    userAgent: request.headers["user-agent"] ?? null,
    session: token === null ? null : await signedInBy(deps, request.tenant.id, token),
    csrfCookie: validCSRFCookie(request.cookies[CSRF_COOKIE]),
    browserHeader: browserHeaderOf(request),
  };
}

/** Sends `value` as the browser's anti-CSRF cookie and renders with it from now on. */
export function setCSRFCookie(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  value: string,
): void {
  reply.setCookie(CSRF_COOKIE, value, cookieOptions(deps.config));
  request.selfService.csrfCookie = value;
}

/** The browser's anti-CSRF cookie, set first when it has none (flow initialisation). */
export function ensureCSRFCookie(deps: AppDeps, request: FastifyRequest, reply: FastifyReply): string {
  const existing = currentCSRFCookie(request);
  if (existing !== null) {
    request.selfService.csrfCookie = existing;
    return existing;
  }
  const value = deps.random.bytes(32).toString("base64url");
  setCSRFCookie(deps, request, reply, value);
  return value;
}

/** The `csrf_token` value of this render: the cookie's secret under a fresh mask; "" without a cookie. */
export function maskedCSRFToken(deps: AppDeps, request: FastifyRequest): string {
  const cookie = currentCSRFCookie(request);
  return cookie === null ? "" : maskCSRFSecret(Buffer.from(cookie, "base64url"), deps.random.bytes(32));
}

/** The `flow` (or `id`) query parameter when it is a UUID; null when missing or malformed. */
export function flowIdParam(request: FastifyRequest, name: "flow" | "id"): string | null {
  const value = (request.query as Record<string, unknown> | undefined)?.[name];
  return typeof value === "string" &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)
    ? value.toLowerCase()
    : null;
}

/** A query parameter as one string ("" when absent or repeated). */
export function queryParam(request: FastifyRequest, name: string): string {
  const value = (request.query as Record<string, unknown> | undefined)?.[name];
  return typeof value === "string" ? value : "";
}

/** The `return_to` query, resolved, or null when absent; 400 `self_service_flow_return_to_forbidden` when not allowed. */
export function returnToParam(deps: AppDeps, request: FastifyRequest, publicURL: string): string | null {
  const raw = queryParam(request, "return_to");
  if (raw === "") {
    return null;
  }
  const resolved = resolveReturnTo(publicURL, deps.config.allowedReturnURLs, raw);
  if (resolved === null) {
    throw new KratosError(400, {
      id: "self_service_flow_return_to_forbidden",
      reason: `Requested return_to URL "${raw}" is not allowed.`,
    });
  }
  return resolved;
}

/** A body as the content-type parsers of the public routes leave it. */
export interface RawBody {
  kind: "json" | "form" | "other";
  contentType: string;
  text: string;
}

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** `{"a.b": 1}` → `{"a": {"b": 1}}`, as Kratos decodes dotted form and JSON keys; the first value wins. */
function expandDotted(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const path = key.split(".");
    if (path.some((part) => part === "" || FORBIDDEN_KEYS.has(part))) continue;
    let target: Record<string, unknown> = out;
    for (let i = 0; i < path.length - 1; i++) {
      const next = target[path[i]!];
      if (next === undefined) {
        target[path[i]!] = {};
      } else if (typeof next !== "object" || next === null || Array.isArray(next)) {
        target = {};
        break;
      }
      target = target[path[i]!] as Record<string, unknown>;
    }
    const last = path[path.length - 1]!;
    if (target[last] === undefined) target[last] = value;
  }
  return out;
}

/** The submitted fields: a JSON object or a urlencoded form, dotted keys expanded. 400 for anything else. */
export function decodeBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) {
    return {};
  }
  const raw = body as RawBody;
  if (raw.kind === "form") {
    const flat: Record<string, unknown> = {};
    for (const [key, value] of new URLSearchParams(raw.text)) {
      if (flat[key] === undefined) flat[key] = value;
    }
    return expandDotted(flat);
  }
  if (raw.kind === "json") {
    if (raw.text.trim() === "") return {};
    let parsed: unknown;
    try {
      parsed = sjson.parse(raw.text, undefined, { protoAction: "remove", constructorAction: "remove" });
    } catch (error) {
      throw KratosError.badRequest(`Unable to decode JSON payload: ${(error as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw KratosError.badRequest("Unable to decode JSON payload: the body must be a JSON object.");
    }
    return expandDotted(parsed as Record<string, unknown>);
  }
  throw KratosError.badRequest(
    `HTTP POST Request used unknown HTTP Header "Content-Type: ${raw.contentType}", only [application/json application/x-www-form-urlencoded] are supported.`,
  );
}

/** A string field ("" when absent or null); 400 for any other type. */
export function stringField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") {
    throw KratosError.badRequest(`Unable to decode HTTP Request Body: "${name}" must be a string.`);
  }
  return value;
}

/** An object field (`transient_payload`), null when absent; 400 for any other type. */
export function objectField(body: Record<string, unknown>, name: string): Record<string, unknown> | null {
  const value = body[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw KratosError.badRequest(`Unable to decode HTTP Request Body: "${name}" must be an object.`);
  }
  return value as Record<string, unknown>;
}

export const MALFORMED_FLOW_PARAM = "The flow query parameter is missing or malformed.";

/** Named preHandler step of every flow submission: `?flow=` must be a UUID (kratos.md §3.4.4 step 1). */
export async function requireFlowParam(request: FastifyRequest): Promise<void> {
  const id = flowIdParam(request, "flow");
  if (id === null) {
    throw KratosError.badRequest(MALFORMED_FLOW_PARAM);
  }
  request.selfService.flowId = id;
}

/** Named preHandler step: the submitted fields, decoded once (JSON or form, dotted keys; 400 otherwise). */
export async function decodeSubmission(request: FastifyRequest): Promise<void> {
  request.selfService.fields = decodeBody(request.body);
}

/** The flow id checked by `requireFlowParam`. */
export function submittedFlowId(request: FastifyRequest): string {
  if (request.selfService.flowId === null) {
    throw new Error("requireFlowParam must run before the handler");
  }
  return request.selfService.flowId;
}
