import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import { recordEvent } from "../events/service.js";
import { checkPasswordPolicy, hashPassword, PASSWORD_UNCHANGED, verifyPassword } from "../users/passwords.js";
import {
  FlowExpired,
  FlowNotFound,
  IdentityMismatch,
  SecondFactorRequired,
  SessionRefreshRequired,
  SessionRequired,
} from "./errors.js";
import {
  checkFlowCSRF,
  csrfCookieMatches,
  FLOW_LIFETIME_MS,
  type FlowRequest,
  PRIVILEGED_MS,
  replacementCSRF,
  type SignedIn,
} from "./flows.js";
import { flowExpired, MESSAGES, passwordViolation, propertyMissing } from "./messages.js";
import { needsSecondFactor, privilegedUntil } from "./sessions.js";
import type { FlowMessage, FlowType, SettingsFlow } from "./store.js";
import type { User } from "../users/store.js";
import { CSRFViolation } from "../errors.js";

/**
 * The settings flow with the password method (kratos.md §3.6.1–§3.6.2): a signed-in identity sets a
 * new password while its session is privileged (one hour after it authenticated).
 */

export interface SettingsBody {
  method: string;
  password: string;
  csrfToken: string;
}

/** A flow to show, with the status of the answer (400 when the form was refused). */
export interface SettingsOutcome {
  flow: SettingsFlow;
  /** The identity the flow belongs to. */
  user: User;
  status: 200 | 400;
}

/** Writes a new settings flow through `stores` (the caller's transaction, if any). */
export async function createSettingsFlow(
  deps: Pick<CoreDeps, "clock" | "random">,
  stores: Stores,
  input: {
    tenantId: string;
    userId: number;
    type: FlowType;
    requestURL: string;
    returnTo: string | null;
    csrfHash: string | null;
    messages: FlowMessage[];
  },
): Promise<SettingsFlow> {
  const now = deps.clock.now();
  const flow: SettingsFlow = {
    id: deps.random.uuid(),
    tenantId: input.tenantId,
    userId: input.userId,
    type: input.type,
    requestURL: input.requestURL,
    returnTo: input.returnTo,
    state: "show_form",
    csrfHash: input.type === "browser" ? input.csrfHash : null,
    messages: input.messages,
    issuedAt: now,
    expiresAt: new Date(now.getTime() + FLOW_LIFETIME_MS),
  };
  await stores.settingsFlows.createSettingsFlow(flow);
  return flow;
}

/** The signed-in identity, having every factor it has set up; else SessionRequired or SecondFactorRequired. */
async function signedInFully(deps: CoreDeps, request: FlowRequest): Promise<SignedIn> {
  if (request.session === null) {
    throw new SessionRequired();
  }
  if (await needsSecondFactor(deps.persistence.stores, request.session)) {
    throw new SecondFactorRequired();
  }
  return request.session;
}

/** `GET /self-service/settings/{browser,api}`: a new flow for the signed-in identity. */
export async function initSettingsFlow(
  deps: CoreDeps,
  request: FlowRequest,
  input: { type: FlowType; returnTo: string | null; csrfHash: string | null },
): Promise<{ flow: SettingsFlow; user: User }> {
  const signedIn = await signedInFully(deps, request);
  const flow = await createSettingsFlow(deps, deps.persistence.stores, {
    tenantId: request.tenantId,
    userId: signedIn.user.id,
    type: input.type,
    requestURL: request.requestURL,
    returnTo: input.returnTo,
    csrfHash: input.csrfHash,
    messages: [],
  });
  return { flow, user: signedIn.user };
}

async function findFlow(deps: CoreDeps, tenantId: string, id: string): Promise<SettingsFlow> {
  const flow = await deps.persistence.stores.settingsFlows.findSettingsFlow(tenantId, id);
  if (flow === null) {
    throw new FlowNotFound("settings");
  }
  return flow;
}

/**
 * `GET /self-service/settings/flows`: the flow, if it belongs to the signed-in identity and (browser
 * flows) to this browser. An expired flow is returned too: the caller answers 410 with its details.
 */
export async function readSettingsFlow(
  deps: CoreDeps,
  request: FlowRequest,
  id: string,
): Promise<{ flow: SettingsFlow; user: User }> {
  const flow = await findFlow(deps, request.tenantId, id);
  const signedIn = await signedInFully(deps, request);
  if (flow.userId !== signedIn.user.id) {
    throw new IdentityMismatch();
  }
  if (flow.type === "browser" && !csrfCookieMatches(flow.csrfHash, request.csrfCookie)) {
    throw new CSRFViolation("The anti-CSRF cookie is missing or belongs to another flow.");
  }
  return { flow, user: signedIn.user };
}

/** A fresh flow replacing an expired one, saying so (4050001). */
async function replaceExpired(
  deps: CoreDeps,
  request: FlowRequest,
  flow: SettingsFlow,
): Promise<FlowExpired> {
  const now = deps.clock.now();
  const csrf = flow.type === "browser" ? replacementCSRF(deps, request) : { hash: null, csrfCookie: null };
  const fresh = await createSettingsFlow(deps, deps.persistence.stores, {
    tenantId: flow.tenantId,
    userId: flow.userId,
    type: flow.type,
    requestURL: flow.requestURL,
    returnTo: flow.returnTo,
    csrfHash: csrf.hash,
    messages: [flowExpired("settings", flow.expiresAt, now)],
  });
  return new FlowExpired("settings", flow.expiresAt, { flow: fresh, csrfCookie: csrf.csrfCookie });
}

async function refuse(
  deps: CoreDeps,
  flow: SettingsFlow,
  user: User,
  message: FlowMessage,
): Promise<SettingsOutcome> {
  const messages = [message];
  await deps.persistence.stores.settingsFlows.updateSettingsFlow(flow.tenantId, flow.id, { messages });
  return { flow: { ...flow, messages }, user, status: 400 };
}

/**
 * `POST /self-service/settings` (kratos.md §3.6.2), checks in the contract's order: flow, session
 * and AAL, expiry, CSRF, privilege, then the password rules. Success stores the hash and records
 * `password_set`; other sessions are left alone.
 */
export async function submitSettingsFlow(
  deps: CoreDeps,
  request: FlowRequest,
  id: string,
  body: SettingsBody,
): Promise<SettingsOutcome> {
  const flow = await findFlow(deps, request.tenantId, id);
  const signedIn = await signedInFully(deps, request);
  if (flow.userId !== signedIn.user.id) {
    throw new IdentityMismatch();
  }
  const now = deps.clock.now();
  if (flow.expiresAt <= now) {
    throw await replaceExpired(deps, request, flow);
  }
  checkFlowCSRF(flow, request, body.csrfToken);
  if (privilegedUntil(signedIn.session, PRIVILEGED_MS) <= now) {
    throw new SessionRefreshRequired();
  }
  if (body.method !== "password") {
    return refuse(deps, flow, signedIn.user, MESSAGES.settingsNoStrategy);
  }
  const violation = checkPasswordPolicy(
    body.password,
    signedIn.user.email !== "" ? signedIn.user.email : signedIn.user.username,
  );
  if (violation !== null) {
    return refuse(
      deps,
      flow,
      signedIn.user,
      violation.id === 4000002 ? propertyMissing("password") : passwordViolation(violation),
    );
  }
  const stores = deps.persistence.stores;
  const current = await stores.users.passwordHash(request.tenantId, signedIn.user.id);
  if (current !== null && (await verifyPassword(current, body.password))) {
    return refuse(deps, flow, signedIn.user, passwordViolation(PASSWORD_UNCHANGED));
  }
  const hash = await hashPassword(body.password);
  const messages = [MESSAGES.settingsSaved];
  await deps.persistence.transaction(async (tx) => {
    await tx.users.setPasswordHash(request.tenantId, signedIn.user.id, hash, deps.clock.now());
    const actor = { pk: signedIn.user.id, username: signedIn.user.username, email: signedIn.user.email };
    await recordEvent(deps, tx.events, { ...request.audit, actor }, "password_set", { via: "settings" });
    await tx.settingsFlows.updateSettingsFlow(request.tenantId, flow.id, { state: "success", messages });
  });
  return { flow: { ...flow, state: "success", messages }, user: signedIn.user, status: 200 };
}
