import type { CoreDeps } from "../deps.js";
import { type Audit, recordEvent } from "../events/service.js";
import { ALPHANUMERIC } from "../random.js";
import { assertWithinLimit, consumeLimit, LIMITS } from "../ratelimit/service.js";
import { hashPassword, verifyPassword } from "../users/passwords.js";
import type { UserProfile } from "../users/store.js";
import { LoginFailed } from "../errors.js";
import { type IssuedSession, issueSession, type SessionClient } from "./service.js";
import type { SessionKind } from "./store.js";

/** A hash of a random password, verified when no user matches so both branches cost one argon2 verify. */
let decoyHash: Promise<string> | null = null;
export function decoy(deps: Pick<CoreDeps, "random">): Promise<string> {
  decoyHash ??= hashPassword(deps.random.string(32, ALPHANUMERIC));
  return decoyHash;
}

/**
 * Password login: rate limited per client and per account, one argon2id verify whether or not the
 * account exists, inactive users refused like wrong passwords. Issues a session of `kind` at aal1.
 */
export async function loginWithPassword(
  deps: CoreDeps,
  audit: Audit,
  input: { identifier: string; password: string; kind: SessionKind; client: SessionClient },
): Promise<{ user: UserProfile; issued: IssuedSession }> {
  const stores = deps.persistence.stores;
  const client = audit.clientIP ?? "unknown";
  await assertWithinLimit(deps, stores.rateLimits, audit.tenantId, LIMITS.loginPerIP, client);
  const named = await stores.users.findSignInUser(audit.tenantId, input.identifier);
  const user = named?.user ?? null;
  // Per account means per user whatever name they typed; an unknown identifier counts as itself.
  const account = user === null ? `name:${input.identifier}` : `user:${user.id}`;
  await assertWithinLimit(deps, stores.rateLimits, audit.tenantId, LIMITS.loginPerAccount, account);
  const stored = named?.passwordHash ?? null;
  const matches = await verifyPassword(stored ?? (await decoy(deps)), input.password);
  if (user === null || stored === null || !matches || !user.isActive) {
    // Only failures count against the limits (kratos.md §3.6.5), and each one is on the record.
    await consumeLimit(deps, stores.rateLimits, audit.tenantId, LIMITS.loginPerIP, client);
    await consumeLimit(deps, stores.rateLimits, audit.tenantId, LIMITS.loginPerAccount, account);
    await recordEvent(deps, stores.events, audit, "login_failed", {
      username: input.identifier,
      stage: "password",
    });
    throw new LoginFailed();
  }
  return deps.persistence.transaction(async (tx) => {
    const issued = await issueSession(deps, tx, {
      tenantId: audit.tenantId,
      userId: user.id,
      kind: input.kind,
      aal: "aal1",
      authMethods: ["password"],
      client: input.client,
    });
    await tx.users.recordLogin(audit.tenantId, user.id, deps.clock.now());
    const actor = { pk: user.id, username: user.username, email: user.email };
    await recordEvent(deps, tx.events, { ...audit, actor }, "login", { auth_method: "password" });
    return { user, issued };
  });
}
