import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import { recordEvent } from "../events/service.js";
import { SYSTEM_ACTOR } from "../events/store.js";
import { enqueueMail } from "../mail/outbox.js";
import type { RecoveryMailContext } from "../mail/templates/index.js";
import { ALPHANUMERIC } from "../random.js";
import { consumeLimits, LIMITS } from "../ratelimit/service.js";
import { isValidEmail } from "../users/service.js";
import type { UserProfile } from "../users/store.js";
import { CSRFViolation } from "../errors.js";
import { APIFlowFromBrowser, type RetryCause, SessionAlreadyAvailable } from "./errors.js";
import { checkFlowCSRF, type FlowRequest } from "./flows.js";
import { genericError, invalidEmail, MESSAGES, propertyMissing, REASONS } from "./messages.js";
import { redeemRecoveryCode, type RecoveryOutcome } from "./redeem.js";
import { writeTogether } from "../db/write-together.js";
import {
  createRecoveryFlow,
  findRecoveryFlowOrThrow,
  normalizeAddress,
  replaceExpiredRecovery,
  retryRecovery,
} from "./recovery-flow.js";
import type { FlowMessage, FlowType, RecoveryStrategy, SelfServiceRecoveryFlow } from "./store.js";
import { traitsOf } from "../identities/service.js";

/**
 * The self-service recovery flow (kratos.md §3.4): a flow is started, an address submitted, a code
 * (or link) mailed and redeemed. This file starts flows, dispatches submissions and handles the
 * address; redeem.ts redeems codes and links and completes the recovery.
 */

/** Recovery codes and link tokens live one hour (kratos.md §3.4.5). */
export const RECOVERY_CODE_LIFETIME_MS = 60 * 60_000;

export interface RecoveryBody {
  method: string;
  email: string;
  code: string;
  csrfToken: string;
  transientPayload: Record<string, unknown> | null;
}

/** `GET /self-service/recovery/{browser,api}` (§3.4.2): nobody signed in may start one. */
export async function initRecoveryFlow(
  deps: CoreDeps,
  request: FlowRequest,
  input: { type: FlowType; returnTo: string | null; csrfHash: string | null },
): Promise<SelfServiceRecoveryFlow> {
  if (request.session !== null) {
    throw new SessionAlreadyAvailable("recovery");
  }
  return createRecoveryFlow(deps, deps.persistence.stores, {
    ...input,
    tenantId: request.tenantId,
    requestURL: request.requestURL,
    messages: [],
  });
}

/** The anti-CSRF check of a submission; a failure starts the flow over (§3.4.4 step 3). */
async function checkSubmissionCSRF(
  deps: CoreDeps,
  request: FlowRequest,
  flow: SelfServiceRecoveryFlow,
  token: string,
): Promise<void> {
  try {
    checkFlowCSRF(flow, request, token, { exempt: flow.origin === "admin" });
  } catch (error) {
    if (error instanceof CSRFViolation || error instanceof APIFlowFromBrowser) {
      // The new flow tells the person what Kratos tells them; why exactly stays in the error's hint.
      const cause: RetryCause = error instanceof CSRFViolation ? "csrf" : "api_from_browser";
      const reason = error instanceof CSRFViolation ? REASONS.csrf : error.message;
      throw await retryRecovery(deps, flow, cause, reason, genericError(reason));
    }
    throw error;
  }
}

async function showAgain(
  deps: CoreDeps,
  flow: SelfServiceRecoveryFlow,
  messages: FlowMessage[],
  status: 200 | 400,
): Promise<RecoveryOutcome> {
  await deps.persistence.stores.selfServiceRecovery.updateRecoveryFlow(flow.tenantId, flow.id, { messages });
  return { kind: "flow", flow: { ...flow, messages }, status };
}

/**
 * `POST /self-service/recovery?flow=` (§3.4.4), in the contract's order: expiry first, then CSRF,
 * then code redemption (a flow past `choose_method` with no address), the signed-in check, the
 * method, and the address.
 */
export async function submitRecoveryFlow(
  deps: CoreDeps,
  request: FlowRequest,
  flowId: string,
  body: RecoveryBody,
): Promise<RecoveryOutcome> {
  const found = await findRecoveryFlowOrThrow(deps, request.tenantId, flowId);
  if (found.expiresAt <= deps.clock.now()) {
    throw await replaceExpiredRecovery(deps, request, found);
  }
  await checkSubmissionCSRF(deps, request, found, body.csrfToken);
  const flow: SelfServiceRecoveryFlow = { ...found, messages: [] };
  if (flow.state !== "choose_method" && body.email === "") {
    return redeemRecoveryCode(deps, request, flow, body.code);
  }
  if (request.session !== null) {
    throw new SessionAlreadyAvailable("recovery");
  }
  if (body.method !== (flow.active ?? "code")) {
    return showAgain(deps, flow, [MESSAGES.recoveryNoStrategy], 400);
  }
  if (flow.state === "passed_challenge") {
    throw await retryRecovery(
      deps,
      flow,
      "already_completed",
      MESSAGES.recoveryAlreadyCompleted.text,
      MESSAGES.recoveryAlreadyCompleted,
    );
  }
  return submitAddress(deps, request, flow, body);
}

function isAddress(address: string): boolean {
  return isValidEmail(address) && !address.includes(",");
}

/** The one user the address names; several users sharing it, or a service account, name nobody (K8). */
async function recoverableUser(
  stores: Stores,
  tenantId: string,
  address: string,
): Promise<UserProfile | null> {
  // Groups play no part in sending a code: the profile is one query where the full user is two.
  const users = await stores.users.findUserProfilesByEmail(tenantId, address);
  const user = users.length === 1 ? users[0]! : null;
  return user !== null && user.type !== "service_account" && user.type !== "internal_service_account"
    ? user
    : null;
}

/**
 * The address step (§3.4.5), with no account enumeration: whether or not the address names one
 * account, the same rate limits are taken in one statement, the address is looked up in one, and
 * one atomic write deletes the flow's earlier codes, stores what the outcome needs (the code, or the
 * `recovery_failed` event), queues mail only through the outbox and moves the flow to `sent_email`
 * with the same message. On PostgreSQL that write is one statement either way, so a known and an
 * unknown address cost the same four statements (on SQLite, one row more inside the transaction).
 */
async function submitAddress(
  deps: CoreDeps,
  request: FlowRequest,
  flow: SelfServiceRecoveryFlow,
  body: RecoveryBody,
): Promise<RecoveryOutcome> {
  if (body.email.trim() === "") {
    return showAgain(deps, flow, [propertyMissing("email")], 400);
  }
  const address = normalizeAddress(body.email);
  if (!isAddress(address)) {
    return showAgain(deps, flow, [invalidEmail(body.email)], 400);
  }
  const stores = deps.persistence.stores;
  await consumeLimits(deps, stores.rateLimits, request.tenantId, [
    { limit: LIMITS.selfServiceRecoveryPerIP, subject: request.clientIP },
    { limit: LIMITS.selfServiceRecoveryPerAddress, subject: address },
  ]);
  const method: RecoveryStrategy = flow.active ?? "code";
  const messages = [method === "code" ? MESSAGES.recoveryCodeSent : MESSAGES.recoveryLinkSent];
  // This submission's payload only: it is not stored on the flow, so a resend carries its own.
  const transientPayload = body.transientPayload;
  // Read before the write, not inside it: writeTogether's stores only record writes. (Inside a
  // READ COMMITTED transaction, as before, the read held no lock on the user either.)
  const user = await recoverableUser(stores, flow.tenantId, address);
  const context = { requestURL: flow.requestURL, transientPayload, identity: null };
  await writeTogether(deps, async (tx) => {
    if (mayHoldCodes(flow)) {
      await tx.selfServiceRecovery.deleteRecoveryCodes(flow.tenantId, flow.id);
    }
    if (user === null) {
      await notifyUnknownAddress(deps, tx, request, { method, address, context });
    } else {
      await sendRecoverySecret(deps, tx, request, flow, { user, address, context });
    }
    await tx.selfServiceRecovery.updateRecoveryFlow(flow.tenantId, flow.id, {
      state: "sent_email",
      messages,
      submittedAddress: address,
    });
  });
  return {
    kind: "flow",
    flow: { ...flow, state: "sent_email", messages, submittedAddress: address, transientPayload },
    status: 200,
  };
}

/**
 * Whether the flow may already have codes to replace. A self-service flow gets its first code in
 * the same transaction that moves it out of `choose_method`, so one still there has none; flows
 * made by the admin API (a link flow stays in `choose_method`) carry theirs from the start.
 */
function mayHoldCodes(flow: SelfServiceRecoveryFlow): boolean {
  return flow.origin === "admin" || flow.state !== "choose_method";
}

async function notifyUnknownAddress(
  deps: CoreDeps,
  stores: Stores,
  request: FlowRequest,
  input: { method: RecoveryStrategy; address: string; context: RecoveryMailContext },
): Promise<void> {
  const { method, address } = input;
  await recordEvent(deps, stores.events, { ...request.audit, actor: SYSTEM_ACTOR }, "recovery_failed", {
    method: method === "code" ? "code_recovery" : "link_recovery",
    reason: "no single account with this address",
  });
  if (deps.config.recoveryNotifyUnknownRecipients) {
    await enqueueMail(deps, stores.outbox, {
      tenantId: request.tenantId,
      to: { address, name: "" },
      message:
        method === "code"
          ? { template: "recovery_code_invalid", model: { address } }
          : { template: "recovery_invalid", model: { address } },
      emailStageId: null,
      context: input.context,
    });
  }
}

/** The identity as Kratos' template data names it: id and traits (kratos.md §2.2). */
function identityOf(user: UserProfile): RecoveryMailContext["identity"] {
  return { id: user.uuid, traits: traitsOf(user) };
}

/** Creates the code or link token (stored as its HMAC only) and queues the mail carrying it. */
async function sendRecoverySecret(
  deps: CoreDeps,
  stores: Stores,
  request: FlowRequest,
  flow: SelfServiceRecoveryFlow,
  input: { user: UserProfile; address: string; context: RecoveryMailContext },
): Promise<void> {
  const { user, address } = input;
  const now = deps.clock.now();
  const method: RecoveryStrategy = flow.active ?? "code";
  const secret =
    method === "code"
      ? deps.random.string(deps.config.recoveryCodeLength, "0123456789")
      : deps.random.string(32, ALPHANUMERIC);
  await stores.selfServiceRecovery.createRecoveryCode(
    {
      id: deps.random.uuid(),
      tenantId: flow.tenantId,
      flowId: flow.id,
      userId: user.id,
      kind: method,
      origin: "self_service",
      secretHMAC: deps.codeHMAC.digest(secret),
      address,
      expiresAt: new Date(now.getTime() + RECOVERY_CODE_LIFETIME_MS),
      usedAt: null,
    },
    now,
  );
  const expiresInMinutes = RECOVERY_CODE_LIFETIME_MS / 60_000;
  const url = `${request.publicURL}/self-service/recovery?flow=${flow.id}&token=${secret}`;
  await enqueueMail(deps, stores.outbox, {
    tenantId: flow.tenantId,
    to: { address: user.email, name: user.name },
    message:
      method === "code"
        ? { template: "recovery_code_valid", model: { code: secret, expiresInMinutes } }
        : { template: "recovery_valid", model: { url, expiresInMinutes } },
    emailStageId: null,
    context: { ...input.context, identity: identityOf(user) },
  });
}
