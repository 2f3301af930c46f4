import type { Kysely } from "kysely";
import { sqlEventStore } from "../events/store.sql.js";
import type { EventStore } from "../events/store.js";
import { sqlTenantStore } from "../tenants/store.sql.js";
import type { TenantStore } from "../tenants/store.js";
import { sqlTokenStore } from "../tokens/store.sql.js";
import type { TokenStore } from "../tokens/store.js";
import { sqlGroupStore, sqlUserStore } from "../users/store.sql.js";
import type { GroupStore, UserStore } from "../users/store.js";
import type { DB } from "./database.js";
import type { Database } from "./schema.js";

/** Every store, bound to one executor: the database, or one transaction. */
export interface Stores {
  tenants: TenantStore;
  users: UserStore;
  groups: GroupStore;
  tokens: TokenStore;
  events: EventStore;
}

export function storesOn(executor: Kysely<Database>): Stores {
  return {
    tenants: sqlTenantStore(executor),
    users: sqlUserStore(executor),
    groups: sqlGroupStore(executor),
    tokens: sqlTokenStore(executor),
    events: sqlEventStore(executor),
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
    stores: storesOn(db.kysely),
    transaction: (work) => db.kysely.transaction().execute((trx) => work(storesOn(trx))),
  };
}
