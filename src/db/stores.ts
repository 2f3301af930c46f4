import type { Kysely } from "kysely";
import {
  sqlSettingsSecretStore,
  sqlStaticDeviceStore,
  sqlTOTPDeviceStore,
} from "../authenticators/store.sql.js";
import type { SettingsSecretStore, StaticDeviceStore, TOTPDeviceStore } from "../authenticators/store.js";
import { type HousekeepingStore, sqlHousekeepingStore } from "../jobs/housekeeping.js";
import { sqlEventStore } from "../events/store.sql.js";
import type { EventStore } from "../events/store.js";
import { sqlEmailStageStore } from "../mail/stages/store.sql.js";
import type { EmailStageStore } from "../mail/stages/store.js";
import { sqlOutboxStore } from "../mail/store.sql.js";
import type { OutboxStore } from "../mail/store.js";
import { sqlRateLimitStore } from "../ratelimit/store.sql.js";
import type { RateLimitStore } from "../ratelimit/store.js";
import { sqlRecoveryStore } from "../recovery/store.sql.js";
import type { RecoveryStore } from "../recovery/store.js";
import {
  sqlLoginFlowStore,
  sqlSelfServiceRecoveryStore,
  sqlSettingsFlowStore,
} from "../selfservice/store.sql.js";
import type { LoginFlowStore, SelfServiceRecoveryStore, SettingsFlowStore } from "../selfservice/store.js";
import { sqlSessionStore } from "../sessions/store.sql.js";
import type { SessionStore } from "../sessions/store.js";
import { sqlTenantStore } from "../tenants/store.sql.js";
import type { TenantStore } from "../tenants/store.js";
import { sqlTokenStore } from "../tokens/store.sql.js";
import type { TokenStore } from "../tokens/store.js";
import { sqlGroupStore, sqlUserStore } from "../users/store.sql.js";
import type { GroupStore, UserStore } from "../users/store.js";
import type { ChangeFeed } from "./changes.js";
import type { DB, Dialect } from "./database.js";
import type { Database } from "./schema.js";

/** Every store, bound to one executor: the database, or one transaction. */
export interface Stores {
  tenants: TenantStore;
  users: UserStore;
  groups: GroupStore;
  tokens: TokenStore;
  events: EventStore;
  recovery: RecoveryStore;
  sessions: SessionStore;
  rateLimits: RateLimitStore;
  outbox: OutboxStore;
  emailStages: EmailStageStore;
  selfServiceRecovery: SelfServiceRecoveryStore;
  loginFlows: LoginFlowStore;
  settingsFlows: SettingsFlowStore;
  totpDevices: TOTPDeviceStore;
  staticDevices: StaticDeviceStore;
  settingsSecrets: SettingsSecretStore;
  housekeeping: HousekeepingStore;
}

export function storesOn(executor: Kysely<Database>, dialect: Dialect): Stores {
  return {
    tenants: sqlTenantStore(executor),
    users: sqlUserStore(executor),
    groups: sqlGroupStore(executor),
    tokens: sqlTokenStore(executor),
    events: sqlEventStore(executor),
    recovery: sqlRecoveryStore(executor),
    sessions: sqlSessionStore(executor),
    rateLimits: sqlRateLimitStore(executor),
    outbox: sqlOutboxStore(executor, dialect),
    emailStages: sqlEmailStageStore(executor),
    selfServiceRecovery: sqlSelfServiceRecoveryStore(executor),
    loginFlows: sqlLoginFlowStore(executor),
    settingsFlows: sqlSettingsFlowStore(executor),
    totpDevices: sqlTOTPDeviceStore(executor),
    staticDevices: sqlStaticDeviceStore(executor),
    settingsSecrets: sqlSettingsSecretStore(executor),
    housekeeping: sqlHousekeepingStore(executor),
  };
}

export interface Persistence {
  /** Stores outside any transaction. */
  stores: Stores;
  /**
   * Runs `work` in one transaction; everything it writes commits together or not at all.
   * Inside, use only the stores it is given: on SQLite the single connection is held by the transaction.
   */
  transaction<T>(work: (stores: Stores) => Promise<T>): Promise<T>;
}

type AsyncMethod = (...args: never[]) => Promise<unknown>;

/** The same store, with `onWrite` called after each of `methods` succeeds. */
function notifyingAfter<T extends object>(store: T, methods: readonly (keyof T)[], onWrite: () => void): T {
  const wrapped = { ...store };
  for (const name of methods) {
    const method = store[name] as unknown as AsyncMethod;
    (wrapped as Record<keyof T, unknown>)[name] = async (...args: never[]) => {
      const result = await method(...args);
      onWrite();
      return result;
    };
  }
  return wrapped;
}

/**
 * Stores whose writes to what caches hold (who a token belongs to, whether it still works, which
 * tenant a host names) call `onWrite`, so the caches can be emptied once the change is durable.
 */
function storesWatched(executor: Kysely<Database>, dialect: Dialect, onWrite: () => void): Stores {
  const stores = storesOn(executor, dialect);
  return {
    ...stores,
    tokens: notifyingAfter(
      stores.tokens,
      ["updateToken", "deleteToken", "rotateExpiredToken", "deleteExpiredToken"],
      onWrite,
    ),
    // Not recordLogin: last_login decides nothing a cache decides (who a token belongs to, whether
    // it works), so a sign-in must not empty every replica's caches; a cached owner shows it at most
    // the cache's few seconds late.
    users: notifyingAfter(stores.users, ["updateUser", "deleteUser"], onWrite),
    groups: notifyingAfter(
      stores.groups,
      ["createGroup", "updateGroup", "deleteGroup", "addMember", "removeMember"],
      onWrite,
    ),
    tenants: notifyingAfter(
      stores.tenants,
      ["createTenant", "renameTenant", "deleteTenant", "saveDomain", "deleteDomain"],
      onWrite,
    ),
  };
}

/**
 * Stores on `db`. Writes that caches depend on are announced on `changes`: at once outside a
 * transaction, after the commit inside one (announcing earlier would let a concurrent read cache
 * the old state again).
 */
export function persistenceOn(db: DB, changes: ChangeFeed): Persistence {
  return {
    stores: storesWatched(db.kysely, db.dialect, () => changes.changed()),
    async transaction(work) {
      let dirty = false;
      const result = await db.transaction((trx) =>
        work(
          storesWatched(trx, db.dialect, () => {
            dirty = true;
          }),
        ),
      );
      if (dirty) {
        changes.changed();
      }
      return result;
    },
  };
}
