import type { Kysely } from "kysely";
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
import { sqlSessionStore } from "../sessions/store.sql.js";
import type { SessionStore } from "../sessions/store.js";
import { sqlTenantStore } from "../tenants/store.sql.js";
import type { TenantStore } from "../tenants/store.js";
import { sqlTokenStore } from "../tokens/store.sql.js";
import type { TokenStore } from "../tokens/store.js";
import { sqlGroupStore, sqlUserStore } from "../users/store.sql.js";
import type { GroupStore, UserStore } from "../users/store.js";
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

export function persistenceOn(db: DB): Persistence {
  return {
    stores: storesOn(db.kysely, db.dialect),
    transaction: (work) => db.kysely.transaction().execute((trx) => work(storesOn(trx, db.dialect))),
  };
}
