import { sha256Hex } from "../crypto/secrets.js";
import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import { ObjectNotFound, RecoveryRefused } from "../errors.js";
import { type Audit, recordEvent, userRef } from "../events/service.js";
import type { Tenant } from "../tenants/store.js";
import { tenantPublicURL } from "../tenants/service.js";
import { generateTokenKey } from "../tokens/service.js";
import { formatDateTime } from "../time.js";
import type { User } from "../users/store.js";
import { userUid } from "../users/uid.js";
import type { RecoveryOrigin } from "./store.js";

export const NO_RECOVERY_FLOW = "No recovery flow set.";
export const NOT_APPLICABLE = "Recovery flow not applicable to user";

export interface IssuedLink {
  url: string;
  key: string;
  expires: Date;
}

/** The recovery-link rules shared by every way of issuing one (authentik-v3.md §3.3.1 steps 2–4). */
export function assertLinksEnabled(deps: Pick<CoreDeps, "config">): void {
  if (deps.config.recoveryFlowSlug === "") {
    throw new RecoveryRefused(NO_RECOVERY_FLOW);
  }
}

export function assertRecoverable(user: User): void {
  if (user.type === "service_account" || user.type === "internal_service_account") {
    throw new RecoveryRefused(NOT_APPLICABLE); // service accounts have no password to recover (A14)
  }
}

export async function findUserForRecovery(stores: Stores, tenantId: string, userId: number): Promise<User> {
  const user = await stores.users.findUser(tenantId, userId);
  if (user === null) {
    throw new ObjectNotFound("User");
  }
  return user;
}

/** The URL of a link key on a tenant: `<public URL>/if/flow/<slug>/?flow_token=<key>`. */
export async function recoveryLinkURL(
  deps: Pick<CoreDeps, "config" | "persistence">,
  tenant: Tenant,
  requestOrigin: string,
  key: string,
): Promise<string> {
  const base = await tenantPublicURL(deps, tenant, requestOrigin);
  return `${base}/if/flow/${encodeURIComponent(deps.config.recoveryFlowSlug)}/?flow_token=${encodeURIComponent(key)}`;
}

/**
 * Writes the user's single link token with a new key (the previous link stops working, A8) and
 * records `recovery_link_created`. Call inside the transaction that also queues any mail carrying it.
 */
export async function writeLinkToken(
  deps: Pick<CoreDeps, "config" | "clock" | "random" | "persistence" | "installationId">,
  stores: Stores,
  audit: Audit,
  input: {
    tenant: Tenant;
    user: User;
    durationMs: number;
    origin: RecoveryOrigin;
    allowMFAReset: boolean;
    emailStageId: string | null;
    requestOrigin: string;
    source: string;
  },
): Promise<IssuedLink> {
  const now = deps.clock.now();
  const key = generateTokenKey(deps);
  const expires = new Date(now.getTime() + input.durationMs);
  await stores.recovery.saveLinkToken(
    {
      id: deps.random.uuid(),
      tenantId: input.tenant.id,
      userId: input.user.id,
      kind: "link",
      identifier: `${userUid(deps.installationId, input.user)}-password-reset`,
      description: "",
      keyHash: sha256Hex(key),
      expires,
      origin: input.origin,
      allowMFAReset: input.allowMFAReset,
      emailStageId: input.emailStageId,
    },
    now,
  );
  await recordEvent(deps, stores.events, audit, "recovery_link_created", {
    target: userRef(input.user),
    expires: formatDateTime(expires),
    source: input.source,
  });
  // The tenant's domain is read through the transaction's stores: on SQLite the transaction holds the
  // one connection, so a read outside it waited forever (every link of a non-default tenant hung).
  const inTransaction = { config: deps.config, persistence: { ...deps.persistence, stores } };
  return { url: await recoveryLinkURL(inTransaction, input.tenant, input.requestOrigin, key), key, expires };
}

/** `POST /core/users/{id}/recovery/`: an admin-issued link (authentik-v3.md §3.3.1). */
export async function createRecoveryLink(
  deps: CoreDeps,
  audit: Audit,
  input: {
    tenant: Tenant;
    userId: number;
    durationMs: number | null;
    allowMFAReset: boolean;
    requestOrigin: string;
  },
): Promise<IssuedLink> {
  assertLinksEnabled(deps);
  return deps.persistence.transaction(async (stores) => {
    const user = await findUserForRecovery(stores, input.tenant.id, input.userId);
    assertRecoverable(user);
    return writeLinkToken(deps, stores, audit, {
      tenant: input.tenant,
      user,
      durationMs: input.durationMs ?? deps.config.defaultTokenDurationMs,
      origin: "admin",
      allowMFAReset: input.allowMFAReset,
      emailStageId: null,
      requestOrigin: input.requestOrigin,
      source: "core_users_recovery",
    });
  });
}
