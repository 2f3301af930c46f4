import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import { RecoveryRefused } from "../errors.js";
import type { Audit } from "../events/service.js";
import { enqueueMail } from "../mail/outbox.js";
import type { EmailStage } from "../mail/stages/store.js";
import type { Tenant } from "../tenants/store.js";
import type { User } from "../users/store.js";
import { assertLinksEnabled, assertRecoverable, findUserForRecovery, writeLinkToken } from "./links.js";

const NO_EMAIL = "User does not have an email address set.";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The two request forms of `recovery_email` (authentik-v3.md §3.3.2, A3): the legacy query form
 * (`?email_stage=`, or no body) and the current body form, each with its own order of checks and its
 * own text for a missing stage. No check writes anything, so a refused request leaves no token.
 */
export type RecoveryEmailForm = "legacy" | "current";

async function findStage(
  stores: Stores,
  tenantId: string,
  id: string,
  form: RecoveryEmailForm,
): Promise<EmailStage> {
  const stage = UUID.test(id) ? await stores.emailStages.findEmailStage(tenantId, id.toLowerCase()) : null;
  if (stage === null) {
    throw new RecoveryRefused(form === "legacy" ? "Email stage does not exist." : "Email stage not found.");
  }
  return stage;
}

function assertHasEmail(user: User): void {
  if (user.email === "") {
    throw new RecoveryRefused(NO_EMAIL);
  }
}

/** Checks in the order of the request's form; returns the user and stage the mail goes with. */
async function checkInOrder(
  deps: CoreDeps,
  stores: Stores,
  input: { tenant: Tenant; userId: number; stageId: string; form: RecoveryEmailForm },
): Promise<{ user: User; stage: EmailStage }> {
  const user = await findUserForRecovery(stores, input.tenant.id, input.userId);
  assertHasEmail(user);
  if (input.form === "legacy") {
    assertLinksEnabled(deps);
    assertRecoverable(user);
    return { user, stage: await findStage(stores, input.tenant.id, input.stageId, "legacy") };
  }
  const stage = await findStage(stores, input.tenant.id, input.stageId, "current");
  assertLinksEnabled(deps);
  assertRecoverable(user);
  return { user, stage };
}

/**
 * `POST /core/users/{id}/recovery_email/`: writes the user's link token (origin `email`: the session
 * it opens can never reset MFA) and queues the stage's mail carrying it, in one transaction.
 */
export async function sendRecoveryEmail(
  deps: CoreDeps,
  audit: Audit,
  input: {
    tenant: Tenant;
    userId: number;
    stageId: string;
    durationMs: number | null;
    form: RecoveryEmailForm;
    requestOrigin: string;
  },
): Promise<void> {
  await deps.persistence.transaction(async (stores) => {
    const { user, stage } = await checkInOrder(deps, stores, input);
    const link = await writeLinkToken(deps, stores, audit, {
      tenant: input.tenant,
      user,
      durationMs: input.durationMs ?? deps.config.defaultTokenDurationMs,
      origin: "email",
      allowMFAReset: false,
      emailStageId: stage.id,
      requestOrigin: input.requestOrigin,
      source: "core_users_recovery_email",
    });
    await enqueueMail(deps, stores.outbox, {
      tenantId: input.tenant.id,
      to: { address: user.email, name: user.name },
      message: {
        template: stage.template,
        model: { subject: stage.subject, userName: user.name, url: link.url, expiresAt: link.expires },
      },
      emailStageId: stage.id,
    });
  });
}
