import type { CoreDeps } from "../deps.js";
import { recordEvent } from "../events/service.js";
import { SYSTEM_ACTOR } from "../events/store.js";
import { enqueueMail } from "../mail/outbox.js";
import { consumeLimit, LIMITS } from "../ratelimit/service.js";
import type { Tenant } from "../tenants/store.js";
import { isValidEmail } from "../users/service.js";
import type { User } from "../users/store.js";
import { writeLinkToken } from "./links.js";
import type { Requester } from "./session.js";

/** Self-service links live half an hour, as authentik's email stage default (`minutes=30`). */
export const SELF_SERVICE_LINK_MS = 30 * 60_000;

/** The one active, recoverable user this address names; several users sharing it name nobody (K8). */
async function recoverableUser(deps: CoreDeps, tenantId: string, email: string): Promise<User | null> {
  const users = await deps.persistence.stores.users.findUsersByEmail(tenantId, email);
  const user = users.length === 1 ? users[0]! : null;
  const recoverable =
    user !== null &&
    user.isActive &&
    user.type !== "service_account" &&
    user.type !== "internal_service_account";
  return recoverable ? user : null;
}

/**
 * "Forgot password": mails a recovery link to the address if it names exactly one active account.
 * The caller learns nothing: both branches take the same rate-limit hits and the same single
 * transaction writing one event (plus the token and the queued mail when the account exists), and
 * the mail leaves later through the outbox, so the answer and its timing do not depend on the
 * address (style.md, practice 12).
 */
export async function requestRecoveryByEmail(
  deps: CoreDeps,
  tenant: Tenant,
  requester: Requester,
  email: string,
  requestOrigin: string,
): Promise<void> {
  const address = email.trim();
  await consumeLimit(
    deps,
    deps.persistence.stores.rateLimits,
    tenant.id,
    LIMITS.forgotPasswordPerIP,
    requester.clientIP,
  );
  await consumeLimit(
    deps,
    deps.persistence.stores.rateLimits,
    tenant.id,
    LIMITS.forgotPasswordPerAddress,
    address,
  );
  const user = isValidEmail(address) ? await recoverableUser(deps, tenant.id, address) : null;
  const linksEnabled = deps.config.recoveryFlowSlug !== "";
  await deps.persistence.transaction(async (stores) => {
    if (user === null || !linksEnabled) {
      await recordEvent(
        deps,
        stores.events,
        {
          tenantId: tenant.id,
          actor: SYSTEM_ACTOR,
          clientIP: requester.clientIP,
          httpRequest: requester.httpRequest,
          app: "rekey.recovery",
        },
        "recovery_failed",
        {
          method: "emailed_link",
          reason: linksEnabled ? "no single active account with this address" : "no recovery flow set",
        },
      );
      return;
    }
    const audit = {
      tenantId: tenant.id,
      actor: { pk: user.id, username: user.username, email: user.email },
      clientIP: requester.clientIP,
      httpRequest: requester.httpRequest,
      app: "rekey.recovery" as const,
    };
    const link = await writeLinkToken(deps, stores, audit, {
      tenant,
      user,
      durationMs: SELF_SERVICE_LINK_MS,
      origin: "self_service",
      allowMFAReset: false,
      emailStageId: null,
      requestOrigin,
      source: "forgot_password",
    });
    await enqueueMail(deps, stores.outbox, {
      tenantId: tenant.id,
      to: { address: user.email, name: user.name },
      message: {
        template: "email/password_reset.html",
        model: {
          subject: `Reset your ${deps.config.brandTitle} password`,
          userName: user.name,
          url: link.url,
          expiresAt: link.expires,
        },
      },
      emailStageId: null,
    });
  });
}
