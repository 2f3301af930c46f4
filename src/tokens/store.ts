import type { ListQuery, Page } from "../db/listing.js";
import type { User } from "../users/store.js";

export type TokenIntent = "verification" | "api" | "recovery" | "app_password";
export const TOKEN_INTENTS: readonly TokenIntent[] = ["verification", "api", "recovery", "app_password"];

export interface Token {
  id: string;
  tenantId: string;
  identifier: string;
  managed: string | null;
  intent: TokenIntent;
  userId: number;
  description: string;
  expires: Date | null;
  expiring: boolean;
  keyHash: string;
  /** AES-256-GCM ciphertext of the key (api and app_password only), and the index of the secret that sealed it. */
  keySealed: string | null;
  keySecretIndex: number | null;
  ownerMayView: boolean;
}

/** A token counts as expired when it expires and its expiry has passed (authentik-v3.md §2.3). */
export function isExpired(token: Pick<Token, "expiring" | "expires">, now: Date): boolean {
  return token.expiring && token.expires !== null && token.expires.getTime() <= now.getTime();
}

export type TokenField =
  | "identifier"
  | "expires"
  | "intent"
  | "description"
  | "user"
  | "expiring"
  | "managed";

export interface TokenFilters {
  identifier?: string;
  intent?: string;
  username?: string;
  description?: string;
  expires?: Date;
  expiring?: boolean;
  managed?: string;
  /** Only tokens of this owner (non-superusers see their own). */
  userId?: number;
}

export type TokenChanges = Partial<
  Pick<
    Token,
    | "identifier"
    | "managed"
    | "intent"
    | "description"
    | "expires"
    | "expiring"
    | "keyHash"
    | "keySealed"
    | "keySecretIndex"
  >
>;

export interface TokenStore {
  findToken(tenantId: string, identifier: string): Promise<Token | null>;
  listTokens(tenantId: string, filters: TokenFilters, query: ListQuery<TokenField>): Promise<Page<Token>>;
  /** Throws a unique violation when the identifier, managed value or key is taken in the tenant. */
  createToken(token: Token, now: Date): Promise<void>;
  updateToken(tenantId: string, id: string, changes: TokenChanges): Promise<void>;
  deleteToken(tenantId: string, id: string): Promise<void>;
  /** True when another token of the tenant has this key hash. */
  isKeyInUse(tenantId: string, keyHash: string, exceptTokenId: string): Promise<boolean>;
  /** True when another token of the tenant has this identifier / managed value. */
  isIdentifierTaken(tenantId: string, identifier: string, exceptTokenId: string | null): Promise<boolean>;
  isManagedTaken(tenantId: string, managed: string, exceptTokenId: string | null): Promise<boolean>;
  /**
   * The owner of the unexpired `api` token with this key hash, if the owner is active: one indexed
   * lookup joined with the user, then one read of the user's groups.
   */
  findAPITokenOwner(tenantId: string, keyHash: string, now: Date): Promise<User | null>;
  /** As findAPITokenOwner, with the token's own expiry (null: never), for callers that cache the answer. */
  findAPICredential(
    tenantId: string,
    keyHash: string,
    now: Date,
  ): Promise<{ owner: User; expires: Date | null } | null>;
  /** Expired tokens of every tenant, oldest first (background cleanup). */
  listExpiredTokens(now: Date, limit: number): Promise<Token[]>;
  /**
   * Gives an expired token a new key and expiry, only if it still has the expiry it was read with:
   * when two replicas clean up at once, one rotates and the other sees false.
   */
  rotateExpiredToken(
    token: Token,
    changes: Required<Pick<TokenChanges, "keyHash" | "keySealed" | "keySecretIndex" | "expires">>,
  ): Promise<boolean>;
  /** Deletes the token if it is still expired at `now`; false when it was not (or was already gone). */
  deleteExpiredToken(tenantId: string, id: string, now: Date): Promise<boolean>;
}
