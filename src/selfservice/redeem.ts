import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import { recordEvent } from "../events/service.js";
import { SYSTEM_ACTOR } from "../events/store.js";
import { consumeLimit, LIMITS } from "../ratelimit/service.js";
import { type IssuedSession, issueSession } from "../sessions/service.js";
import type { User } from "../users/store.js";
import { FlowNotFound, type RecoveryRetry } from "./errors.js";
import { type FlowRequest, newCSRFCookie, PRIVILEGED_MS, requestURLParam } from "./flows.js";
import { flowExpired, MESSAGES, REASONS, recovered } from "./messages.js";
import {
  findRecoveryFlowOrThrow,
  normalizeAddress,
  replaceExpiredRecovery,
  retryRecovery,
  retryWithReason,
} from "./recovery-flow.js";
import { createSettingsFlow } from "./settings.js";
import type { RecoveryCode, SelfServiceRecoveryFlow, SettingsFlow } from "./store.js";

/**
 * Redeeming a recovery code or link token (kratos.md §3.5 item 3, §3.4.6) and completing the
 * recovery (§3.4.7): session, verified address, other sessions ended, settings flow.
 */

/** Submissions a flow may make before even a right code is refused (§3.5 3b). */
export const MAX_CODE_SUBMISSIONS = 5;

export type RecoveryOutcome =
  /** Show the flow (again); 400 when the form was refused. */
  { kind: "flow"; flow: SelfServiceRecoveryFlow; status: 200 | 400 } | Recovered;

export interface Recovered {
  kind: "recovered";
  flow: SelfServiceRecoveryFlow;
  user: User;
  issued: IssuedSession;
  /** Null with `skip_settings=true`. */
  settingsFlow: SettingsFlow | null;
  /** The anti-CSRF cookie of the browser from now on (regenerated on success); null for API flows. */
  csrfCookie: string | null;
}

type RecoveryMethod = "code_recovery" | "link_recovery";

/** The stored secret of the flow that `submitted` matches, comparing against every one (no early exit). */
function matchingSecret(
  deps: Pick<CoreDeps, "codeHMAC">,
  secrets: RecoveryCode[],
  submitted: string,
): RecoveryCode | null {
  let match: RecoveryCode | null = null;
  for (const secret of secrets) {
    const matches = deps.codeHMAC.matches(submitted, secret.secretHMAC);
    if (matches && match === null) {
      match = secret;
    }
  }
  return match;
}

async function recordFailure(
  deps: CoreDeps,
  request: FlowRequest,
  method: RecoveryMethod,
  reason: string,
): Promise<void> {
  await recordEvent(
    deps,
    deps.persistence.stores.events,
    { ...request.audit, actor: SYSTEM_ACTOR },
    "recovery_failed",
    { method, reason },
  );
}

/**
 * A code submitted to a flow past `choose_method` (§3.5 item 3): the submission is counted first,
 * in its own statement, so wrong guesses cost as much as right ones; after five, even a right code
 * is refused. Unknown, expired and empty codes look the same (4060006, the same flow); a used code,
 * or losing the race to use it, starts over.
 */
export async function redeemRecoveryCode(
  deps: CoreDeps,
  request: FlowRequest,
  flow: SelfServiceRecoveryFlow,
  submitted: string,
): Promise<RecoveryOutcome> {
  if (flow.state === "passed_challenge") {
    throw await retryRecovery(
      deps,
      flow,
      "already_completed",
      REASONS.alreadyCompleted,
      MESSAGES.recoveryAlreadyCompleted,
    );
  }
  const stores = deps.persistence.stores;
  await consumeLimit(
    deps,
    stores.rateLimits,
    request.tenantId,
    LIMITS.selfServiceRedeemPerIP,
    request.clientIP,
  );
  const submissions = await stores.selfServiceRecovery.countSubmission(flow.tenantId, flow.id);
  if (submissions === null) {
    throw new FlowNotFound("recovery");
  }
  if (submissions > MAX_CODE_SUBMISSIONS) {
    await recordFailure(deps, request, "code_recovery", "submitted too often");
    throw await retryWithReason(deps, flow, "too_often", REASONS.submittedTooOften);
  }
  const codes = (await stores.selfServiceRecovery.listRecoveryCodes(flow.tenantId, flow.id)).filter(
    (code) => code.kind === "code",
  );
  const match = matchingSecret(deps, codes, submitted);
  if (match === null || match.expiresAt <= deps.clock.now()) {
    await recordFailure(deps, request, "code_recovery", match === null ? "wrong code" : "expired code");
    const messages = [MESSAGES.recoveryCodeInvalid];
    await stores.selfServiceRecovery.updateRecoveryFlow(flow.tenantId, flow.id, { messages });
    return { kind: "flow", flow: { ...flow, messages }, status: 200 };
  }
  if (match.usedAt !== null) {
    throw await retryWithReason(deps, flow, "code_used", REASONS.codeUsed);
  }
  return completeRecovery(deps, request, flow, match, { method: "code_recovery", asBrowser: false });
}

/**
 * A link token (`?flow=&token=`, §3.4.7 "Link method"): always a browser flow, consumed at once.
 * Unknown, used or another flow's tokens start over with 4060004; an expired one with 4060005.
 */
export async function redeemRecoveryLink(
  deps: CoreDeps,
  request: FlowRequest,
  flowId: string,
  token: string,
): Promise<Recovered> {
  const flow = await findRecoveryFlowOrThrow(deps, request.tenantId, flowId);
  const now = deps.clock.now();
  if (flow.expiresAt <= now) {
    throw await replaceExpiredRecovery(deps, request, flow, { asBrowser: true });
  }
  const stores = deps.persistence.stores;
  await consumeLimit(
    deps,
    stores.rateLimits,
    request.tenantId,
    LIMITS.selfServiceRedeemPerIP,
    request.clientIP,
  );
  const tokens = (await stores.selfServiceRecovery.listRecoveryCodes(flow.tenantId, flow.id)).filter(
    (code) => code.kind === "link",
  );
  const match = token === "" ? null : matchingSecret(deps, tokens, token);
  if (match === null || match.usedAt !== null || flow.state === "passed_challenge") {
    await recordFailure(deps, request, "link_recovery", "unknown or used token");
    throw await invalidToken(deps, flow);
  }
  if (match.expiresAt <= now) {
    await recordFailure(deps, request, "link_recovery", "expired token");
    const message = flowExpired("recovery", match.expiresAt, now);
    throw await retryRecovery(deps, flow, "token_expired", message.text, message, { asBrowser: true });
  }
  const outcome = await completeRecovery(deps, request, flow, match, {
    method: "link_recovery",
    asBrowser: true,
  });
  if (outcome.kind !== "recovered") {
    throw new Error("a link recovery always completes or throws");
  }
  return outcome;
}

function invalidToken(deps: CoreDeps, flow: SelfServiceRecoveryFlow): Promise<RecoveryRetry> {
  return retryRecovery(
    deps,
    flow,
    "token_invalid",
    MESSAGES.recoveryTokenInvalid.text,
    MESSAGES.recoveryTokenInvalid,
    { asBrowser: true },
  );
}

type Completion = { kind: "used" } | { kind: "completed" } | { kind: "disabled" } | Recovered;

/**
 * §3.4.7 in one transaction: use the secret (the guarded UPDATE decides between racing requests),
 * pass the challenge, mark the address verified when the secret was mailed to it, then, for an
 * active identity, the session, the end of its other sessions, the events and the settings flow.
 */
async function completeRecovery(
  deps: CoreDeps,
  request: FlowRequest,
  flow: SelfServiceRecoveryFlow,
  secret: RecoveryCode,
  options: { method: RecoveryMethod; asBrowser: boolean },
): Promise<RecoveryOutcome> {
  const completion = await deps.persistence.transaction((stores) =>
    completeInTransaction(deps, stores, request, flow, secret, options),
  );
  switch (completion.kind) {
    case "used":
      if (options.method === "link_recovery") throw await invalidToken(deps, flow);
      throw await retryWithReason(deps, flow, "code_used", REASONS.codeUsed);
    case "completed":
      throw await retryRecovery(
        deps,
        flow,
        "already_completed",
        REASONS.alreadyCompleted,
        MESSAGES.recoveryAlreadyCompleted,
        {
          asBrowser: options.asBrowser,
        },
      );
    case "disabled":
      await recordFailure(deps, request, options.method, "identity disabled");
      throw await retryRecovery(
        deps,
        flow,
        "identity_disabled",
        REASONS.identityDisabled,
        MESSAGES.identityDisabled,
        {
          asBrowser: options.asBrowser,
        },
      );
    case "recovered":
      return completion;
  }
}

async function completeInTransaction(
  deps: CoreDeps,
  stores: Stores,
  request: FlowRequest,
  flow: SelfServiceRecoveryFlow,
  secret: RecoveryCode,
  options: { method: RecoveryMethod; asBrowser: boolean },
): Promise<Completion> {
  const now = deps.clock.now();
  const tenantId = flow.tenantId;
  if (!(await stores.selfServiceRecovery.useRecoveryCode(tenantId, secret.id, now))) {
    return { kind: "used" };
  }
  if (!(await stores.selfServiceRecovery.passChallenge(tenantId, flow.id))) {
    return { kind: "completed" };
  }
  const type = options.asBrowser ? "browser" : flow.type;
  const csrf = type === "browser" ? newCSRFCookie(deps.random) : null;
  await stores.selfServiceRecovery.updateRecoveryFlow(tenantId, flow.id, {
    messages: [],
    csrfHash: csrf?.hash ?? null,
    userId: secret.userId,
  });
  const user = await stores.users.findUser(tenantId, secret.userId);
  if (user === null) {
    return { kind: "used" };
  }
  // Proof of mailbox access is proof of the address; admin-made secrets prove nothing (K7).
  if (
    secret.origin === "self_service" &&
    secret.address !== null &&
    secret.address === normalizeAddress(user.email)
  ) {
    await stores.users.updateUser(tenantId, user.id, { emailVerified: true, emailVerifiedAt: now }, now);
  }
  if (!user.isActive) {
    return { kind: "disabled" };
  }
  const issued = await issueSession(deps, stores, {
    tenantId,
    userId: user.id,
    kind: type,
    aal: "aal1",
    authMethods: [options.method],
    client: { ipAddress: request.clientIP, userAgent: request.userAgent },
  });
  if (deps.config.recoveryRevokeSessions) {
    await stores.sessions.revokeUserSessions(tenantId, user.id, now, { exceptId: issued.session.id });
  }
  await stores.users.recordLogin(tenantId, user.id, now);
  const audit = { ...request.audit, actor: { pk: user.id, username: user.username, email: user.email } };
  await recordEvent(deps, stores.events, audit, "login", { auth_method: options.method });
  await recordEvent(deps, stores.events, audit, "recovery_succeeded", {
    method: options.method,
    flow_id: flow.id,
  });
  const skipSettings = requestURLParam(flow.requestURL, "skip_settings") === "true";
  const settingsFlow = skipSettings
    ? null
    : await createSettingsFlow(deps, stores, {
        tenantId,
        userId: user.id,
        type,
        requestURL: request.requestURL,
        returnTo: flow.returnTo,
        csrfHash: csrf?.hash ?? null,
        messages: [recovered(new Date(issued.session.authenticatedAt.getTime() + PRIVILEGED_MS), now)],
      });
  const passed: SelfServiceRecoveryFlow = {
    ...flow,
    type,
    state: "passed_challenge",
    messages: [],
    csrfHash: csrf?.hash ?? null,
    userId: user.id,
  };
  return {
    kind: "recovered",
    flow: passed,
    user,
    issued,
    settingsFlow,
    csrfCookie: csrf?.cookieValue ?? null,
  };
}
