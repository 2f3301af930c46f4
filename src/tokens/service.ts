import { sha256Hex } from "../crypto/secrets.js";
import type { CoreDeps } from "../deps.js";
import type { Stores } from "../db/stores.js";
import { isUniqueViolation, violatedConstraint } from "../db/errors.js";
import { parseDurationString } from "../durations.js";
import { ObjectNotFound, PermissionDenied, TokenKeyUnavailable, ValidationFailed } from "../errors.js";
import { type Audit, recordEvent, tokenRef } from "../events/service.js";
import { ALPHANUMERIC } from "../random.js";
import { pythonDateTime } from "../time.js";
import { type Attributes, isSuperuser, type User } from "../users/store.js";
import type { Token, TokenChanges, TokenIntent } from "./store.js";

/** The caller of a token operation: the authenticated user, whose rights decide what they may do. */
export type Caller = User;

export interface TokenInput {
  identifier: string;
  intent?: string;
  userId?: number;
  description?: string;
  /** undefined: not given; null: given as null. */
  expires?: Date | null;
  expiring?: boolean;
  managed?: string | null;
}

const SLUG = /^[-a-zA-Z0-9_]+$/;
const SLUG_MESSAGE = 'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.';
const VIEWABLE: readonly TokenIntent[] = ["api", "app_password"];
const EXPIRES_ATTRIBUTE = "goauthentik.io/user/token-expires";
const MAXIMUM_LIFETIME_ATTRIBUTE = "goauthentik.io/user/token-maximum-lifetime";

/** A new 60-character key from [A-Za-z0-9] (authentik-v3.md §3.1). */
export function generateTokenKey(deps: Pick<CoreDeps, "random">): string {
  return deps.random.string(60, ALPHANUMERIC);
}

/** The stored form of a key: its lookup hash and, for intents whose key can be viewed, its ciphertext. */
export function storedKey(deps: Pick<CoreDeps, "tokenKeys">, intent: TokenIntent, key: string) {
  const sealed = VIEWABLE.includes(intent) ? deps.tokenKeys.seal(key) : null;
  return {
    keyHash: sha256Hex(key),
    keySealed: sealed?.sealed ?? null,
    keySecretIndex: sealed?.secretIndex ?? null,
  };
}

function ownerExpiresByDefault(owner: User): boolean {
  const value = owner.attributes[EXPIRES_ATTRIBUTE];
  return value === undefined ? true : Boolean(value);
}

/** The owner's maximum lifetime: group attributes overlaid by the user's own, else the tenant default. */
function maximumLifetimeMs(deps: Pick<CoreDeps, "config">, owner: User): number {
  const merged: Attributes = {};
  for (const group of owner.groups) {
    Object.assign(merged, group.attributes);
  }
  Object.assign(merged, owner.attributes);
  const value = merged[MAXIMUM_LIFETIME_ATTRIBUTE];
  const parsed = typeof value === "string" ? parseDurationString(value) : null;
  return parsed === null || parsed <= 0 ? deps.config.defaultTokenDurationMs : parsed;
}

/** Step 4 of token creation: the expiry to store, honoured up to the owner's maximum lifetime. */
function decideExpiry(
  deps: Pick<CoreDeps, "config" | "clock">,
  owner: User,
  expires: Date | null | undefined,
): Date {
  const now = deps.clock.now().getTime();
  const maximum = new Date(now + maximumLifetimeMs(deps, owner));
  if (expires === undefined || expires === null) {
    return new Date(now + deps.config.defaultTokenDurationMs);
  }
  if (expires.getTime() > maximum.getTime()) {
    throw ValidationFailed.field(
      "expires",
      `Token expires exceeds maximum lifetime (${pythonDateTime(maximum)} UTC).`,
    );
  }
  return expires;
}

async function validateUnique(
  stores: Stores,
  tenantId: string,
  input: { identifier?: string; managed?: string | null },
  currentId: string | null,
): Promise<void> {
  const errors: Record<string, string[]> = {};
  if (input.identifier !== undefined) {
    if (!SLUG.test(input.identifier)) {
      errors["identifier"] = [SLUG_MESSAGE];
    } else if (await stores.tokens.isIdentifierTaken(tenantId, input.identifier, currentId)) {
      errors["identifier"] = ["Token with this identifier already exists."];
    }
  }
  if (
    typeof input.managed === "string" &&
    (await stores.tokens.isManagedTaken(tenantId, input.managed, currentId))
  ) {
    errors["managed"] = ["Token with this Managed by authentik already exists."];
  }
  if (Object.keys(errors).length > 0) {
    throw new ValidationFailed(errors);
  }
}

/** Reads a token the caller may see: superusers see all, others only their own (404 otherwise). */
export async function findVisibleToken(
  stores: Stores,
  tenantId: string,
  caller: Caller,
  identifier: string,
): Promise<Token> {
  // No identifier holds NUL (PostgreSQL text cannot), and asking PostgreSQL for one is an error.
  const token = identifier.includes("\u0000") ? null : await stores.tokens.findToken(tenantId, identifier);
  if (token === null || (!isSuperuser(caller) && token.userId !== caller.id)) {
    throw new ObjectNotFound("Token");
  }
  return token;
}

/** Maps a unique violation that raced past the pre-checks to the field error it stands for. */
async function translateRace<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isUniqueViolation(error)) {
      // Name the field whose constraint failed: PostgreSQL gives the constraint (token_tenant_managed,
      // token_tenant_key), SQLite the columns (token.managed, token.key_hash).
      const constraint = violatedConstraint(error);
      if (constraint.includes("managed")) {
        throw ValidationFailed.field("managed", "Token with this Managed by authentik already exists.");
      }
      if (constraint.includes("key")) {
        throw ValidationFailed.field("key", "Token with this key already exists.");
      }
      throw ValidationFailed.field("identifier", "Token with this identifier already exists.");
    }
    throw error;
  }
}

export interface CreatedToken {
  token: Token;
  owner: User;
  key: string;
}

export async function createToken(
  deps: CoreDeps,
  audit: Audit,
  caller: Caller,
  input: TokenInput,
): Promise<CreatedToken> {
  try {
    return await deps.persistence.transaction((stores) => insertToken(deps, stores, audit, caller, input));
  } catch (error) {
    if (error instanceof ValidationFailed || isUniqueViolation(error)) {
      // Uniqueness comes first in the contract's order (§3.1): a taken identifier or managed name is
      // the answer even when a later check failed too, exactly as if it had been read up front.
      await validateUnique(deps.persistence.stores, audit.tenantId, input, null);
    }
    return translateRace(() => Promise.reject(error));
  }
}

/**
 * The insert itself. Identifier and managed name are not read first: the unique constraints refuse
 * a duplicate, and createToken turns that into the contract's field errors. That saves a query per
 * token on the path that succeeds, the one that matters.
 */
async function insertToken(
  deps: CoreDeps,
  stores: Stores,
  audit: Audit,
  caller: Caller,
  input: TokenInput,
): Promise<CreatedToken> {
  if (!SLUG.test(input.identifier)) {
    await validateUnique(stores, audit.tenantId, input, null); // reports the slug and managed together
  }
  let owner = caller;
  if (input.userId !== undefined && input.userId !== caller.id) {
    const named = await stores.users.findUser(audit.tenantId, input.userId);
    if (named === null) {
      throw ValidationFailed.field("user", `Invalid pk "${input.userId}" - object does not exist.`);
    }
    // Non-superusers' `user` is silently replaced by themselves (authentik-v3.md §3.1, step 3).
    owner = isSuperuser(caller) ? named : caller;
  }
  const intent = input.intent ?? "api";
  if (intent !== "api" && intent !== "app_password") {
    throw ValidationFailed.field("intent", `Invalid intent ${intent}`);
  }
  const expiring = isSuperuser(caller) ? (input.expiring ?? true) : ownerExpiresByDefault(caller);
  const expires = expiring ? decideExpiry(deps, owner, input.expires) : (input.expires ?? null);
  const key = generateTokenKey(deps);
  const createdAt = deps.clock.now();
  const token: Token = {
    // §3.1 asks only for a uuid pk; a time-ordered one appends to the primary-key index on insert.
    id: deps.random.uuidv7(createdAt),
    tenantId: audit.tenantId,
    identifier: input.identifier,
    managed: input.managed ?? null,
    intent,
    userId: owner.id,
    description: input.description ?? "",
    expires,
    expiring,
    ...storedKey(deps, intent, key),
    ownerMayView: owner.id === caller.id,
  };
  await stores.tokens.createToken(token, createdAt);
  await recordEvent(deps, stores.events, audit, "model_created", { model: tokenRef(token) });
  return { token, owner, key };
}

export async function updateToken(
  deps: CoreDeps,
  audit: Audit,
  caller: Caller,
  identifier: string,
  input: Partial<TokenInput>,
): Promise<Token> {
  return translateRace(() =>
    deps.persistence.transaction(async (stores) => {
      const token = await findVisibleToken(stores, audit.tenantId, caller, identifier);
      if (!VIEWABLE.includes(token.intent)) {
        throw ValidationFailed.field("intent", `Invalid intent ${token.intent}`);
      }
      if (input.userId !== undefined && input.userId !== token.userId) {
        throw ValidationFailed.field("user", "User cannot be changed");
      }
      if (input.intent !== undefined && input.intent !== "api" && input.intent !== "app_password") {
        throw ValidationFailed.field("intent", `Invalid intent ${input.intent}`);
      }
      await validateUnique(stores, audit.tenantId, input, token.id);
      const owner = await stores.users.findUser(audit.tenantId, token.userId);
      if (owner === null) {
        throw new ObjectNotFound("Token");
      }
      const expiring = isSuperuser(caller)
        ? (input.expiring ?? token.expiring)
        : ownerExpiresByDefault(caller);
      const changes: TokenChanges = {
        identifier: input.identifier,
        managed: input.managed,
        intent: input.intent as TokenIntent | undefined,
        description: input.description,
        expiring,
      };
      if (expiring && input.expires !== undefined) {
        changes.expires = decideExpiry(deps, owner, input.expires);
      } else if (input.expires !== undefined) {
        changes.expires = input.expires;
      }
      await stores.tokens.updateToken(audit.tenantId, token.id, changes);
      const updated = {
        ...token,
        ...Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)),
      };
      await recordEvent(deps, stores.events, audit, "model_updated", { model: tokenRef(updated) });
      return updated as Token;
    }),
  );
}

export async function deleteToken(
  deps: CoreDeps,
  audit: Audit,
  caller: Caller,
  identifier: string,
): Promise<void> {
  await deps.persistence.transaction(async (stores) => {
    const token = await findVisibleToken(stores, audit.tenantId, caller, identifier);
    await stores.tokens.deleteToken(audit.tenantId, token.id);
    if (VIEWABLE.includes(token.intent)) {
      await recordEvent(deps, stores.events, audit, "model_deleted", { model: tokenRef(token) });
    }
  });
}

/** Reads a key back: superusers any viewable token, owners only tokens they created themselves. */
export async function viewTokenKey(
  deps: CoreDeps,
  audit: Audit,
  caller: Caller,
  identifier: string,
): Promise<string> {
  return deps.persistence.transaction(async (stores) => {
    const token = await findVisibleToken(stores, audit.tenantId, caller, identifier);
    if (!isSuperuser(caller) && !token.ownerMayView) {
      throw new PermissionDenied();
    }
    const key =
      token.keySealed === null ? null : deps.tokenKeys.open(token.keySealed, token.keySecretIndex ?? 0);
    if (!VIEWABLE.includes(token.intent) || key === null) {
      throw new TokenKeyUnavailable();
    }
    await recordEvent(deps, stores.events, audit, "secret_view", { secret: tokenRef(token) });
    return key;
  });
}

/** Replaces a token's key with one the caller chose (superusers only, checked by the route). */
export async function setTokenKey(
  deps: CoreDeps,
  audit: Audit,
  caller: Caller,
  identifier: string,
  key: string,
): Promise<void> {
  // Two tokens given one key at once both pass isKeyInUse; the unique key index refuses the second.
  await translateRace(() =>
    deps.persistence.transaction(async (stores) => {
      const token = await findVisibleToken(stores, audit.tenantId, caller, identifier);
      const stored = storedKey(deps, token.intent, key);
      if (await stores.tokens.isKeyInUse(audit.tenantId, stored.keyHash, token.id)) {
        throw ValidationFailed.field("key", "Token with this key already exists.");
      }
      await stores.tokens.updateToken(audit.tenantId, token.id, stored);
      await recordEvent(deps, stores.events, audit, "model_updated", { model: tokenRef(token) });
    }),
  );
}

/**
 * The periodic cleanup of authentik-v3.md §3.8: expired `api` tokens get a new key and expiry
 * (`secret_rotate`), other expired tokens are deleted. Each change is conditional on the row still
 * being expired as read, so replicas running it together never rotate one token twice.
 */
export async function cleanUpExpiredTokens(
  deps: CoreDeps,
  systemAudit: (tenantId: string) => Audit,
): Promise<number> {
  const now = deps.clock.now();
  let changed = 0;
  for (;;) {
    const batch = await deps.persistence.stores.tokens.listExpiredTokens(now, 200);
    if (batch.length === 0) {
      return changed;
    }
    for (const token of batch) {
      if (token.intent !== "api") {
        changed += (await deps.persistence.stores.tokens.deleteExpiredToken(token.tenantId, token.id, now))
          ? 1
          : 0;
        continue;
      }
      const rotated = await deps.persistence.transaction(async (stores) => {
        const stored = storedKey(deps, "api", generateTokenKey(deps));
        const expires = new Date(now.getTime() + deps.config.defaultTokenDurationMs);
        if (!(await stores.tokens.rotateExpiredToken(token, { ...stored, expires }))) {
          return false;
        }
        await recordEvent(deps, stores.events, systemAudit(token.tenantId), "secret_rotate", {
          message: `Token ${token.identifier}'s secret was rotated.`,
          secret: tokenRef(token),
        });
        return true;
      });
      changed += rotated ? 1 : 0;
    }
    if (batch.length < 200) {
      return changed;
    }
  }
}
