import type { CoreDeps } from "../deps.js";
import { type Audit, recordEvent, userRef } from "../events/service.js";
import { ALPHANUMERIC } from "../random.js";
import { formatDateTime } from "../time.js";
import type { User } from "../users/store.js";
import { generateDigits } from "./secrets.js";
import type { FlowType, RecoveryCode, SelfServiceRecoveryFlow } from "./store.js";

/**
 * Recovery codes and links issued by an administrator for one identity (kratos.md §3.2, §3.3):
 * a flow bound to the identity from the start, its secret stored only as an HMAC, nothing mailed.
 */

/** Characters of an admin link token (kratos.md §3.5). */
export const LINK_TOKEN_LENGTH = 32;

export interface AdminRecoveryInput {
  tenantId: string;
  /** The identity's id (the user's uuid); the nil UUID when the request named none. */
  identityId: string;
  /** How long the flow and its secret live; positive. */
  lifespanMs: number;
  returnTo: string | null;
  /** The admin request's URL with its query, kept on the flow as `request_url`. */
  requestURL: string;
}

export interface IssuedAdminCode {
  flow: SelfServiceRecoveryFlow;
  /** The code in clear: returned once, never stored. */
  code: string;
}

export interface IssuedAdminLink {
  flow: SelfServiceRecoveryFlow;
  /** The link token in clear: returned once, never stored. */
  token: string;
}

/**
 * True when `returnTo` may be a flow's return address: an absolute URL with the origin of the
 * tenant's public URL, or one starting with an entry of REKEY_ALLOWED_RETURN_URLS (kratos.md §2.1).
 */
export function isReturnToAllowed(
  publicURL: string,
  allowedPrefixes: readonly string[],
  returnTo: string,
): boolean {
  let url: URL;
  try {
    url = new URL(returnTo);
  } catch {
    return false;
  }
  if (url.origin !== "null" && url.origin === new URL(publicURL).origin) {
    return true;
  }
  return allowedPrefixes.some((prefix) => prefix !== "" && returnTo.startsWith(prefix));
}

function newAdminFlow(
  deps: Pick<CoreDeps, "clock" | "random">,
  input: AdminRecoveryInput,
  shape: Pick<SelfServiceRecoveryFlow, "type" | "state" | "active">,
): SelfServiceRecoveryFlow {
  const now = deps.clock.now();
  return {
    id: deps.random.uuid(),
    tenantId: input.tenantId,
    ...shape,
    origin: "admin",
    userId: null,
    requestURL: input.requestURL,
    returnTo: input.returnTo,
    csrfHash: null, // admin flows skip the CSRF check (kratos.md §2.6)
    messages: [],
    transientPayload: null,
    submittedAddress: null,
    submitCount: 0,
    issuedAt: now,
    expiresAt: new Date(now.getTime() + input.lifespanMs),
  };
}

function secretRow(
  deps: Pick<CoreDeps, "random" | "codeHMAC">,
  flow: SelfServiceRecoveryFlow,
  user: User,
  kind: "code" | "link",
  secret: string,
): RecoveryCode {
  return {
    id: deps.random.uuid(),
    tenantId: flow.tenantId,
    flowId: flow.id,
    userId: user.id,
    kind,
    origin: "admin",
    secretHMAC: deps.codeHMAC.digest(secret),
    address: null, // bound to the identity, not to an address
    expiresAt: flow.expiresAt,
    usedAt: null,
  };
}

/**
 * `POST /admin/recovery/code`: a flow in `sent_email` with the `code` method and a fresh code of
 * REKEY_RECOVERY_CODE_LENGTH digits, stored together; event `recovery_code_created`. Inactive
 * identities are accepted. Null when the identity does not exist.
 */
export async function createAdminRecoveryCode(
  deps: CoreDeps,
  audit: Audit,
  input: AdminRecoveryInput & { flowType: FlowType },
): Promise<IssuedAdminCode | null> {
  // Kratos builds the flow and draws the code before it looks the identity up (kratos.md §3.2).
  const flow = newAdminFlow(deps, input, { type: input.flowType, state: "sent_email", active: "code" });
  const code = generateDigits(deps.config.recoveryCodeLength);
  return deps.persistence.transaction(async (stores) => {
    const user = await stores.users.findUserByUUID(input.tenantId, input.identityId);
    if (user === null) {
      return null;
    }
    const bound = { ...flow, userId: user.id };
    await stores.selfServiceRecovery.createRecoveryFlow(bound);
    await stores.selfServiceRecovery.createRecoveryCode(
      secretRow(deps, bound, user, "code", code),
      bound.issuedAt,
    );
    await recordEvent(deps, stores.events, audit, "recovery_code_created", {
      target: userRef(user),
      expires: formatDateTime(bound.expiresAt),
      flow_id: bound.id,
    });
    return { flow: bound, code };
  });
}

/**
 * `POST /admin/recovery/link`: a browser flow in `choose_method` with the `link` method and a
 * single-use token of 32 [A-Za-z0-9], stored together; event `recovery_link_created`. Null when
 * the identity does not exist.
 */
export async function createAdminRecoveryLink(
  deps: CoreDeps,
  audit: Audit,
  input: AdminRecoveryInput,
): Promise<IssuedAdminLink | null> {
  return deps.persistence.transaction(async (stores) => {
    const user = await stores.users.findUserByUUID(input.tenantId, input.identityId);
    if (user === null) {
      return null;
    }
    const flow = {
      ...newAdminFlow(deps, input, { type: "browser", state: "choose_method", active: "link" }),
      userId: user.id,
    };
    const token = deps.random.string(LINK_TOKEN_LENGTH, ALPHANUMERIC);
    await stores.selfServiceRecovery.createRecoveryFlow(flow);
    await stores.selfServiceRecovery.createRecoveryCode(
      secretRow(deps, flow, user, "link", token),
      flow.issuedAt,
    );
    await recordEvent(deps, stores.events, audit, "recovery_link_created", {
      target: userRef(user),
      expires: formatDateTime(flow.expiresAt),
      source: "kratos_admin_link",
      flow_id: flow.id,
    });
    return { flow, token };
  });
}
