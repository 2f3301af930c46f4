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
import { flowExpired, genericError, MESSAGES, passwordViolation, propertyMissing } from "./messages.js";
import { privilegedUntil } from "./sessions.js";
import type { FlowMessage, FlowType, SettingsFlow } from "./store.js";
import type { User } from "../users/store.js";
import { CSRFViolation } from "../errors.js";
import {
  type LookupInput,
  type MFASettingsResult,
  updateLookupSetting,
  updateTOTPSetting,
} from "../authenticators/settings.js";
import { MFA_TEXT } from "../authenticators/settings.nodes.js";

/**
 * The settings flow (kratos.md §3.6.1–§3.6.2): a signed-in identity sets a new password, or changes
 * its second factors (`totp`, `lookup_secret`: authenticators/settings.ts), while its session is
 * privileged (one hour after it authenticated) and at the highest level its identity can reach.
 */

export interface SettingsBody {
  method: string;
  password: string;
  csrfToken: string;
  /** `totp`: the first code of the app being enrolled, or `totp_unlink`. */
  totpCode?: string;
  totpUnlink?: boolean;
  /** `lookup_secret`: which of its buttons was pressed. */
  lookup?: LookupInput;
}

/** A flow to show, with the status of the answer (400 when the form was refused). */
export interface SettingsOutcome {
  flow: SettingsFlow;
  /** The identity the flow belongs to. */
  user: User;
  status: 200 | 400;
  /** The method whose change was saved (`active` of the answer); absent when nothing was saved. */
  active?: "password" | "totp" | "lookup_secret";
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
function signedInFully(request: FlowRequest): SignedIn {
  if (request.session === null) {
    throw new SessionRequired();
  }
  if (request.session.needsSecondFactor) {
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
  const signedIn = signedInFully(request);
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
  const signedIn = signedInFully(request);
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
  const signedIn = signedInFully(request);
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
  if (body.method === "totp" || body.method === "lookup_secret") {
    return submitSecondFactor(deps, request, flow, signedIn, body);
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
  return {
    flow: { ...flow, state: "success", messages },
    user: signedIn.user,
    status: 200,
    active: "password",
  };
}

/**
 * The `totp` and `lookup_secret` methods (authenticators/settings.ts), past the same checks as the
 * password: a saved change ends the flow in success like a new password; codes shown (regenerate)
 * leave it showing the form.
 */
async function submitSecondFactor(
  deps: CoreDeps,
  request: FlowRequest,
  flow: SettingsFlow,
  signedIn: SignedIn,
  body: SettingsBody,
): Promise<SettingsOutcome> {
  const { user } = signedIn;
  const audit = { ...request.audit, actor: { pk: user.id, username: user.username, email: user.email } };
  let result: MFASettingsResult;
  if (body.method === "totp") {
    result = await updateTOTPSetting(
      deps,
      audit,
      user,
      flow,
      { code: body.totpCode ?? "", unlink: body.totpUnlink === true },
      {
        missingCode: propertyMissing("totp_code"),
        invalidCode: MESSAGES.totpInvalid,
        noStrategy: MESSAGES.settingsNoStrategy,
      },
    );
  } else {
    const none = { regenerate: false, reveal: false, confirm: false, disable: false };
    result = await updateLookupSetting(deps, audit, user, flow, body.lookup ?? none, {
      noStrategy: MESSAGES.settingsNoStrategy,
      notRevealable: MFA_TEXT.notRevealable,
      nothingToConfirm: genericError("Generate new backup recovery codes before confirming them."),
    });
  }
  const store = deps.persistence.stores.settingsFlows;
  if (result.kind === "refused") {
    return refuse(deps, flow, user, result.message);
  }
  if (result.kind === "shown") {
    await store.updateSettingsFlow(flow.tenantId, flow.id, { state: "show_form", messages: result.messages });
    return { flow: { ...flow, state: "show_form", messages: result.messages }, user, status: 200 };
  }
  const messages = [MESSAGES.settingsSaved];
  await store.updateSettingsFlow(flow.tenantId, flow.id, { state: "success", messages });
  return { flow: { ...flow, state: "success", messages }, user, status: 200, active: result.method };
}
