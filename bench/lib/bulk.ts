// The scale run's bulk loader: users, group memberships and tokens written straight into a migrated
// database, row for row what Rekey's own stores write, but thousands of rows per statement. Every
// value a row derives from a secret comes from Rekey's functions: the key from generateTokenKey, its
// SHA-256 lookup hash and AES-GCM ciphertext from storedKey under a SecretBox built exactly as boot.ts
// builds `tokenKeys`, the password hash from hashPassword. The user `uid` is derived, never stored.
import { randomBytes, randomUUID } from "node:crypto";
import { SecretBox } from "../../src/crypto/secrets.js";
import { cryptoRandom, type RandomSource } from "../../src/random.js";
import type { TokenIntent } from "../../src/tokens/store.js";
import { generateTokenKey, storedKey } from "../../src/tokens/service.js";
import { hashPassword } from "../../src/users/passwords.js";
import { loadPostgres } from "./bulk-postgres.js";
import { loadSQLite } from "./bulk-sqlite.js";

/** What to load into the default tenant. */
export interface BulkPlan {
  users: number;
  tokens: number;
  /** REKEY_SECRET_KEY of the server that will read the rows (its first secret seals). */
  serverSecret: string;
  /** How many token keys to keep in clear for the checks and the cache-missing read. */
  sampleKeys: number;
  /** Called now and then with a line of progress. */
  progress: (line: string) => void;
}

/** A loaded token whose key the bench keeps, to prove the rows authenticate. */
export interface SampleKey {
  key: string;
  identifier: string;
  username: string;
  intent: TokenIntent;
}

export interface BulkReport {
  users: number;
  tokens: number;
  groups: number;
  memberships: number;
  seconds: { users: number; tokens: number; indexes: number; total: number };
  samples: SampleKey[];
}

/** One argon2id hash, computed once with Rekey's parameters and shared by every loaded user. */
export const SCALE_PASSWORD = "scale-user-password-1";

/**
 * Rekey's RandomSource, drawing from a pooled CSPRNG buffer: cryptoRandom calls randomInt once per
 * character (60 per key), which alone would take minutes for ten million keys. Rejection sampling
 * keeps every character equally likely, as randomInt does.
 */
export function pooledRandom(): RandomSource {
  let pool = Buffer.alloc(0);
  let at = 0;
  return {
    bytes: (length) => randomBytes(length),
    uuid: () => randomUUID(),
    uuidv7: (at) => cryptoRandom.uuidv7(at),
    string(length, alphabet) {
      const limit = 256 - (256 % alphabet.length);
      let out = "";
      while (out.length < length) {
        if (at >= pool.length) {
          pool = randomBytes(1 << 16);
          at = 0;
        }
        const byte = pool[at++]!;
        if (byte < limit) out += alphabet[byte % alphabet.length];
      }
      return out;
    },
  };
}

export const username = (index: number): string => `scale-user-${index}`;

/** Users in columns (the unnest form PostgreSQL takes them in); the other columns are constants. */
export interface UserColumns {
  uuid: string[];
  username: string[];
  name: string[];
  email: string[];
}

export function userColumns(random: RandomSource, from: number, count: number): UserColumns {
  const columns: UserColumns = { uuid: [], username: [], name: [], email: [] };
  for (let index = from; index < from + count; index++) {
    columns.uuid.push(random.uuid());
    columns.username.push(username(index));
    columns.name.push(`Scale User ${index}`);
    columns.email.push(`${username(index)}@example.com`);
  }
  return columns;
}

/** Every user is in one group, every tenth in a second: what users/me and the auth query read. */
export function membershipsOf(userIndex: number, groupIds: number[]): number[] {
  const first = userIndex % groupIds.length;
  const groups = [groupIds[first]!];
  if (userIndex % 10 === 0) groups.push(groupIds[(first + 1) % groupIds.length]!);
  return groups;
}

export function groupCount(users: number): number {
  return Math.max(2, Math.ceil(users / 10_000));
}

export interface TokenColumns {
  id: string[];
  identifier: string[];
  intent: TokenIntent[];
  userId: number[];
  keyHash: string[];
  keySealed: string[];
}

/** Token `t` belongs to user `t mod users`; every tenth is an app password, the rest api tokens. */
export function tokenIntent(index: number): TokenIntent {
  return index % 10 === 9 ? "app_password" : "api";
}

/**
 * Tokens as an admin creates them for a user with `expiring: false` (service.ts createToken): no
 * expiry, so neither the scenarios nor the expiry job see them lapse; owner_may_view 0, since the
 * admin, not the owner, created them. Keys of every `stride`-th token go into `samples`.
 */
export function tokenColumns(
  deps: { random: RandomSource; tokenKeys: SecretBox },
  from: number,
  count: number,
  users: { count: number; idOf: (index: number) => number },
  sampling: { stride: number; samples: SampleKey[]; limit: number },
): TokenColumns {
  const columns: TokenColumns = {
    id: [],
    identifier: [],
    intent: [],
    userId: [],
    keyHash: [],
    keySealed: [],
  };
  for (let index = from; index < from + count; index++) {
    const intent = tokenIntent(index);
    const key = generateTokenKey(deps);
    const stored = storedKey(deps, intent, key);
    const userIndex = index % users.count;
    columns.id.push(deps.random.uuid());
    columns.identifier.push(`scale-token-${index}`);
    columns.intent.push(intent);
    columns.userId.push(users.idOf(userIndex));
    columns.keyHash.push(stored.keyHash);
    columns.keySealed.push(stored.keySealed!);
    // Token 9 is always kept: an app password, which must not authenticate as an api token.
    if ((index % sampling.stride === 0 && sampling.samples.length < sampling.limit) || index === 9) {
      sampling.samples.push({
        key,
        identifier: `scale-token-${index}`,
        username: username(userIndex),
        intent,
      });
    }
  }
  return columns;
}

/** What the dialect loaders share: the plan, the secrets, the clock reading and the sample list. */
export interface LoadContext {
  plan: BulkPlan;
  deps: { random: RandomSource; tokenKeys: SecretBox };
  passwordHash: string;
  /** created_at, date_joined and the other timestamps of every loaded row. */
  at: number;
  samples: SampleKey[];
  stride: number;
}

/** performance.now() at the load's milestones: start, users written, tokens written, all done. */
export interface LoadMarks {
  started: number;
  usersDone: number;
  tokensDone: number;
  done: number;
}

/** The report every dialect loader ends with. */
export function loadReport(
  context: LoadContext,
  counts: { users: number; tokens: number; groups: number; memberships: number },
  marks: LoadMarks,
): BulkReport {
  return {
    ...counts,
    seconds: {
      users: (marks.usersDone - marks.started) / 1000,
      tokens: (marks.tokensDone - marks.usersDone) / 1000,
      indexes: (marks.done - marks.tokensDone) / 1000,
      total: (marks.done - marks.started) / 1000,
    },
    samples: context.samples,
  };
}

/** Loads `plan` into the migrated database at `url` (sqlite:… or postgres://…). */
export async function bulkLoad(url: string, plan: BulkPlan): Promise<BulkReport> {
  const context: LoadContext = {
    plan,
    // The same info string as boot.ts gives `tokenKeys`: the server under test must open these.
    deps: { random: pooledRandom(), tokenKeys: new SecretBox([plan.serverSecret], "rekey/token-key/v1") },
    passwordHash: await hashPassword(SCALE_PASSWORD),
    at: Date.now(),
    samples: [],
    stride: Math.max(1, Math.floor(plan.tokens / Math.max(1, plan.sampleKeys))),
  };
  return url.startsWith("sqlite:") ? loadSQLite(url, context) : loadPostgres(url, context);
}
