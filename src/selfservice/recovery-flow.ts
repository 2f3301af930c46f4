import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import { FlowExpired, FlowNotFound, RecoveryRetry, type RetryCause } from "./errors.js";
import { FLOW_LIFETIME_MS, type FlowRequest, newCSRFCookie, replacementCSRF } from "./flows.js";
import { flowExpired, genericError } from "./messages.js";
import type { FlowMessage, FlowType, SelfServiceRecoveryFlow } from "./store.js";

/** Recovery flows: creating, finding, and replacing one that cannot go on (kratos.md §3.4.6, §3.4.8). */

/** A new flow in `choose_method`, written through `stores`. */
export async function createRecoveryFlow(
  deps: Pick<CoreDeps, "clock" | "random" | "config">,
  stores: Stores,
  input: {
    tenantId: string;
    type: FlowType;
    requestURL: string;
    returnTo: string | null;
    csrfHash: string | null;
    messages: FlowMessage[];
  },
): Promise<SelfServiceRecoveryFlow> {
  const now = deps.clock.now();
  const flow: SelfServiceRecoveryFlow = {
    id: deps.random.uuid(),
    tenantId: input.tenantId,
    type: input.type,
    state: "choose_method",
    active: deps.config.recoveryUse,
    origin: "self_service",
    userId: null,
    requestURL: input.requestURL,
    returnTo: input.returnTo,
    csrfHash: input.type === "browser" ? input.csrfHash : null,
    messages: input.messages,
    transientPayload: null,
    submittedAddress: null,
    submitCount: 0,
    issuedAt: now,
    expiresAt: new Date(now.getTime() + FLOW_LIFETIME_MS),
  };
  await stores.selfServiceRecovery.createRecoveryFlow(flow);
  return flow;
}

export async function findRecoveryFlowOrThrow(
  deps: CoreDeps,
  tenantId: string,
  id: string,
): Promise<SelfServiceRecoveryFlow> {
  const flow = await deps.persistence.stores.selfServiceRecovery.findRecoveryFlow(tenantId, id);
  if (flow === null) {
    throw new FlowNotFound("recovery");
  }
  return flow;
}

/**
 * A new flow carrying `message`, replacing `old`, thrown as RecoveryRetry (§3.4.6). Browser flows
 * get a new anti-CSRF cookie, as a fresh start should; `asBrowser` makes any flow a browser one.
 */
export async function retryRecovery(
  deps: CoreDeps,
  old: SelfServiceRecoveryFlow,
  cause: RetryCause,
  reason: string,
  message: FlowMessage,
  options?: { asBrowser?: boolean },
): Promise<RecoveryRetry> {
  const type: FlowType = options?.asBrowser === true ? "browser" : old.type;
  const csrf = type === "browser" ? newCSRFCookie(deps.random) : null;
  const flow = await createRecoveryFlow(deps, deps.persistence.stores, {
    tenantId: old.tenantId,
    type,
    requestURL: old.requestURL,
    returnTo: old.returnTo,
    csrfHash: csrf?.hash ?? null,
    messages: [message],
  });
  return new RecoveryRetry(cause, reason, { flow, csrfCookie: csrf?.cookieValue ?? null });
}

/** The retry whose message is 4000001 with the reason (§3.4.6). */
export function retryWithReason(
  deps: CoreDeps,
  old: SelfServiceRecoveryFlow,
  cause: RetryCause,
  reason: string,
): Promise<RecoveryRetry> {
  return retryRecovery(deps, old, cause, reason, genericError(reason));
}

/**
 * A fresh flow for a submission to an expired one (§3.4.8): same type and request URL (a link flow
 * made for an API client becomes a browser flow), message 4060005.
 */
export async function replaceExpiredRecovery(
  deps: CoreDeps,
  request: FlowRequest,
  old: SelfServiceRecoveryFlow,
  options?: { asBrowser?: boolean },
): Promise<FlowExpired> {
  const now = deps.clock.now();
  const asBrowser = options?.asBrowser === true || (old.type === "api" && old.active === "link");
  const type: FlowType = asBrowser ? "browser" : old.type;
  const csrf = type === "browser" ? replacementCSRF(deps, request) : { hash: null, csrfCookie: null };
  const flow = await createRecoveryFlow(deps, deps.persistence.stores, {
    tenantId: old.tenantId,
    type,
    requestURL: old.requestURL,
    returnTo: old.returnTo,
    csrfHash: csrf.hash,
    messages: [flowExpired("recovery", old.expiresAt, now)],
  });
  return new FlowExpired("recovery", old.expiresAt, { flow, csrfCookie: csrf.csrfCookie });
}

/** The address as users are looked up by it: NFKC, trimmed, lower case (§3.4.5 step 3). */
export function normalizeAddress(raw: string): string {
  return raw.normalize("NFKC").trim().toLowerCase();
}
