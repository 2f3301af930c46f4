import type { CoreDeps } from "./deps.js";
import { sha256Hex } from "./crypto/secrets.js";
import { storedKey } from "./tokens/service.js";
import { hashPassword } from "./users/passwords.js";

export const ADMIN_GROUP = "authentik Admins";
export const BOOTSTRAP_USERNAME = "akadmin";
const BOOTSTRAP_TOKEN_IDENTIFIER = "authentik-bootstrap-token";

/**
 * First-start admin (authentik-v3.md §3.8). Idempotent: every start makes the default tenant match the
 * REKEY_BOOTSTRAP_* settings without creating duplicates, so replicas may all run it.
 */
export async function bootstrapAdmin(deps: CoreDeps): Promise<void> {
  const { bootstrapPassword, bootstrapToken, bootstrapEmail } = deps.config;
  if (bootstrapPassword === null && bootstrapToken === null) {
    return;
  }
  const passwordHash = bootstrapPassword === null ? null : await hashPassword(bootstrapPassword);
  await deps.persistence.transaction(async (stores) => {
    const tenant = await stores.tenants.defaultTenant();
    const now = deps.clock.now();
    const group =
      (await stores.groups.findGroupByName(tenant.id, ADMIN_GROUP)) ??
      (await stores.groups.createGroup(tenant.id, {
        uuid: deps.random.uuid(),
        name: ADMIN_GROUP,
        isSuperuser: true,
        attributes: {},
        userIds: [],
      }));
    const user =
      (await stores.users.findUserByUsername(tenant.id, BOOTSTRAP_USERNAME)) ??
      (await stores.users.createUser(
        tenant.id,
        {
          uuid: deps.random.uuid(),
          username: BOOTSTRAP_USERNAME,
          name: "Rekey Default Admin",
          email: bootstrapEmail ?? "",
          isActive: true,
          lastLogin: null,
          attributes: {},
          path: "users",
          type: "internal",
          groupIds: [],
        },
        now,
      ));
    if (group === null || user === null) {
      throw new Error("bootstrap: could not create the admin group or user");
    }
    await stores.groups.addMember(group.id, user.id);
    if (bootstrapEmail !== null && user.email !== bootstrapEmail) {
      await stores.users.updateUser(tenant.id, user.id, { email: bootstrapEmail }, now);
    }
    if (passwordHash !== null) {
      await stores.users.setPasswordHash(tenant.id, user.id, passwordHash, now);
    }
    if (bootstrapToken !== null) {
      const existing = await stores.tokens.findToken(tenant.id, BOOTSTRAP_TOKEN_IDENTIFIER);
      const key = storedKey(deps, "api", bootstrapToken);
      if (existing === null) {
        await stores.tokens.createToken(
          {
            id: deps.random.uuid(),
            tenantId: tenant.id,
            identifier: BOOTSTRAP_TOKEN_IDENTIFIER,
            managed: null,
            intent: "api",
            userId: user.id,
            description: "Bootstrap token",
            expires: null,
            expiring: false,
            ownerMayView: true,
            ...key,
          },
          now,
        );
      } else if (existing.keyHash !== sha256Hex(bootstrapToken)) {
        await stores.tokens.updateToken(tenant.id, existing.id, { ...key, intent: "api", expiring: false });
      }
    }
  });
}
