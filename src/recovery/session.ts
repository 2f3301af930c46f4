import { sha256Hex } from "../crypto/secrets.js";
import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import {
  hasAnyFactor,
  resetSecondFactors,
  secondFactorsOf,
  verifySecondFactor,
} from "../authenticators/service.js";
import { PasswordRejected, RecoveryUnusable, SecondFactorInvalid } from "../errors.js";
import { type Audit, recordEvent, userRef } from "../events/service.js";
import { consumeLimit, LIMITS } from "../ratelimit/service.js";
import { ALPHANUMERIC } from "../random.js";
import type { Tenant } from "../tenants/store.js";
import { checkPasswordPolicy, hashPassword, PASSWORD_UNCHANGED, verifyPassword } from "../users/passwords.js";
import type { User } from "../users/store.js";
import type { RecoveryFlow, RecoveryMethod, RecoveryTokenKind } from "./store.js";

/** A recovery session lives one hour and can only set a password (authentik-v3.md §4, A7). */
export const RECOVERY_SESSION_MS = 3_600_000;

/** Where a request came from, for events and per-client limits. */
export interface Requester {
  clientIP: string;
  httpRequest: Record<string, unknown> | null;
}

function actorAudit(tenant: Tenant, requester: Requester, user: User | null): Audit {
  return {
    tenantId: tenant.id,
    // Recovery pages have no logged-in actor: events name the user being recovered, else the system.
    actor:
      user === null
        ? { pk: 0, username: "rekey:system", email: "" }
        : { pk: user.id, username: user.username, email: user.email },
    clientIP: requester.clientIP,
    httpRequest: requester.httpRequest,
    app: "rekey.recovery",
  };
}

async function recordUnusable(
  deps: CoreDeps,
  stores: Stores,
  tenant: Tenant,
  requester: Requester,
  kind: RecoveryTokenKind,
  reason: string,
): Promise<void> {
  await recordEvent(deps, stores.events, actorAudit(tenant, requester, null), "recovery_failed", {
    method: kind === "link" ? "link" : "recovery_key",
    reason,
  });
}

/**
 * Step 1 of consuming a link or key (GET): is it usable? Never consumes it, so a mail scanner that
 * follows the link cannot burn it. Unusable → RecoveryUnusable and a `recovery_failed` event.
 */
export async function checkRecoveryToken(
  deps: CoreDeps,
  tenant: Tenant,
  requester: Requester,
  kind: RecoveryTokenKind,
  key: string,
): Promise<void> {
  await consumeLimit(
    deps,
    deps.persistence.stores.rateLimits,
    tenant.id,
    LIMITS.recoveryRedeemPerIP,
    requester.clientIP,
  );
  const token = await deps.persistence.stores.recovery.findUsableToken(
    tenant.id,
    kind,
    sha256Hex(key),
    deps.clock.now(),
  );
  if (token === null) {
    await recordUnusable(deps, deps.persistence.stores, tenant, requester, kind, "unknown, used or expired");
    throw new RecoveryUnusable();
  }
}

function methodOf(kind: RecoveryTokenKind, origin: string): RecoveryMethod {
  if (kind === "key") return "recovery_key";
  return origin === "admin" ? "admin_link" : "emailed_link";
}

/**
 * Step 2 (POST of the "Continue" form): uses the link or key up in one conditional DELETE and opens
 * a recovery session. Of concurrent requests exactly one gets the token; the others get
 * RecoveryUnusable. Returns the session secret for the `rekey_recovery` cookie.
 */
export async function redeemRecoveryToken(
  deps: CoreDeps,
  tenant: Tenant,
  requester: Requester,
  kind: RecoveryTokenKind,
  key: string,
): Promise<{ sessionSecret: string; flow: RecoveryFlow }> {
  await consumeLimit(
    deps,
    deps.persistence.stores.rateLimits,
    tenant.id,
    LIMITS.recoveryRedeemPerIP,
    requester.clientIP,
  );
  const sessionSecret = deps.random.string(43, ALPHANUMERIC);
  const result = await deps.persistence.transaction(async (stores) => {
    const now = deps.clock.now();
    const token = await stores.recovery.consumeToken(tenant.id, kind, sha256Hex(key), now);
    if (token === null) {
      return null;
    }
    const flow: RecoveryFlow = {
      id: deps.random.uuid(),
      tenantId: tenant.id,
      userId: token.userId,
      method: methodOf(kind, token.origin),
      state: "passed_challenge",
      // Emailed links may never reset MFA: whoever reads the mailbox must not own the account (A7).
      allowMFAReset: token.origin !== "email" && token.origin !== "self_service" && token.allowMFAReset,
      deliveredToAddress: token.origin === "email" || token.origin === "self_service",
      emailStageId: token.emailStageId,
      codeFailures: 0,
      expiresAt: new Date(now.getTime() + RECOVERY_SESSION_MS),
      createdAt: now,
    };
    await stores.recovery.createFlow(flow, sha256Hex(sessionSecret));
    return flow;
  });
  if (result === null) {
    await recordUnusable(deps, deps.persistence.stores, tenant, requester, kind, "unknown, used or expired");
    throw new RecoveryUnusable();
  }
  return { sessionSecret, flow: result };
}

export interface OpenRecoverySession {
  flow: RecoveryFlow;
  user: User;
  /** The user has a second factor and this session may not skip it. */
  requiresSecondFactor: boolean;
  /** The session may delete the user's second factors (recovery keys, links with allow_mfa_reset). */
  mayResetMFA: boolean;
}

/** The recovery session behind a `rekey_recovery` cookie; RecoveryUnusable when none is open. */
export async function openRecoverySession(
  deps: CoreDeps,
  tenant: Tenant,
  sessionSecret: string,
): Promise<OpenRecoverySession> {
  const stores = deps.persistence.stores;
  const flow = await stores.recovery.findOpenFlow(tenant.id, sha256Hex(sessionSecret), deps.clock.now());
  const user = flow === null ? null : await stores.users.findUser(tenant.id, flow.userId);
  if (flow === null || user === null) {
    throw new RecoveryUnusable();
  }
  const factor = hasAnyFactor(await secondFactorsOf(stores, tenant.id, user.id));
  // A second factor is required unless this session may reset it (keys, links with allow_mfa_reset): A7.
  return {
    flow,
    user,
    requiresSecondFactor: factor && !flow.allowMFAReset,
    mayResetMFA: flow.allowMFAReset && factor,
  };
}

export interface NewPasswordInput {
  password: string;
  passwordRepeat: string;
  /** A TOTP code or backup code, when the session requires the second factor. */
  code?: string;
  /** Remove the user's second factors (only where the session may reset them). */
  resetMFA?: boolean;
}

/** Wrong second-factor codes a recovery session tolerates before it ends (authentik-v3.md §3.3.3). */
export const MAX_CODE_FAILURES = 5;

/**
 * The second-factor step of a recovery session: the code must verify, each failure is counted (in
 * its own statement) and recorded as `login_failed`, and the fifth failure ends the session.
 */
async function passSecondFactor(
  deps: CoreDeps,
  tenant: Tenant,
  requester: Requester,
  open: OpenRecoverySession,
  code: string,
): Promise<string> {
  const method =
    code.trim() === "" ? null : await verifySecondFactor(deps, deps.persistence.stores, open.user, code);
  if (method !== null) {
    return method;
  }
  const audit = actorAudit(tenant, requester, open.user);
  await recordEvent(deps, deps.persistence.stores.events, audit, "login_failed", {
    username: open.user.username,
    stage: /^\d+$/.test(code.trim()) ? "totp" : "lookup_secret",
  });
  const failures = await deps.persistence.stores.recovery.countCodeFailure(tenant.id, open.flow.id);
  if (failures >= MAX_CODE_FAILURES) {
    await deps.persistence.stores.recovery.finishFlow(tenant.id, open.flow.id, "failed", deps.clock.now());
    await recordEvent(deps, deps.persistence.stores.events, audit, "recovery_failed", {
      method: open.flow.method,
      reason: "too many wrong codes",
    });
    throw new RecoveryUnusable();
  }
  throw new SecondFactorInvalid();
}

/** The password rules of the recovery form: same as settings (kratos.md §3.6.2), plus the repeat. */
async function checkNewPassword(deps: CoreDeps, user: User, input: NewPasswordInput): Promise<void> {
  if (input.password !== input.passwordRepeat) {
    throw new PasswordRejected("The passwords do not match.", 4000001);
  }
  const violation = checkPasswordPolicy(input.password, user.email === "" ? user.username : user.email);
  if (violation !== null) {
    throw new PasswordRejected(violation.text, violation.id, violation.context);
  }
  const current = await deps.persistence.stores.users.passwordHash(user.tenantId, user.id);
  if (current !== null && (await verifyPassword(current, input.password))) {
    throw new PasswordRejected(PASSWORD_UNCHANGED.text, PASSWORD_UNCHANGED.id);
  }
}

/**
 * Ends a recovery: checks the new password, stores its argon2id hash, marks the address verified when
 * the secret was mailed to it, revokes the user's other sessions (REKEY_RECOVERY_REVOKE_SESSIONS) and
 * closes the flow, all in one transaction; a concurrent completion of the same session loses.
 */
export async function completeRecovery(
  deps: CoreDeps,
  tenant: Tenant,
  requester: Requester,
  sessionSecret: string,
  input: NewPasswordInput,
): Promise<User> {
  const open = await openRecoverySession(deps, tenant, sessionSecret);
  await consumeLimit(
    deps,
    deps.persistence.stores.rateLimits,
    tenant.id,
    LIMITS.recoveryCodePerAccount,
    String(open.user.id),
  );
  await checkNewPassword(deps, open.user, input);
  const secondFactor = open.requiresSecondFactor
    ? await passSecondFactor(deps, tenant, requester, open, input.code ?? "")
    : null;
  const resetMFA = open.mayResetMFA && input.resetMFA === true;
  // Hash outside the transaction: argon2 takes tens of milliseconds and must not hold a connection.
  const hash = await hashPassword(input.password);
  const audit = actorAudit(tenant, requester, open.user);
  await deps.persistence.transaction(async (stores) => {
    const now = deps.clock.now();
    if (!(await stores.recovery.finishFlow(tenant.id, open.flow.id, "completed", now))) {
      throw new RecoveryUnusable();
    }
    await stores.users.setPasswordHash(tenant.id, open.user.id, hash, now);
    if (open.flow.deliveredToAddress) {
      await stores.users.updateUser(tenant.id, open.user.id, { emailVerified: true }, now);
    }
    if (deps.config.recoveryRevokeSessions) {
      await stores.sessions.revokeUserSessions(tenant.id, open.user.id, now);
    }
    await recordEvent(deps, stores.events, audit, "password_set", {
      via: "recovery_session",
      target: userRef(open.user),
    });
    if (resetMFA) {
      await resetSecondFactors(deps, stores, audit, open.user, { keepSessions: true });
    }
    // Every MFA decision of a recovery is on the record: verified, reset, or not asked for.
    const mfa =
      secondFactor !== null
        ? `verified:${secondFactor}`
        : resetMFA
          ? "reset"
          : open.mayResetMFA
            ? "kept"
            : "none";
    await recordEvent(deps, stores.events, audit, "recovery_succeeded", {
      method: open.flow.method,
      reason: "password_set",
      mfa,
    });
  });
  return open.user;
}
