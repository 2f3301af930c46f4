import type { Kysely } from "kysely";
import type { Dialect } from "../db/database.js";
import type { Database } from "../db/schema.js";
import type { CoreDeps } from "../deps.js";
import { sqlEventStore } from "../events/store.sql.js";
import type { EventStore } from "../events/store.js";
import { sqlEmailStageStore } from "./stages/store.sql.js";
import type { EmailStageStore } from "./stages/store.js";
import { sqlOutboxStore } from "./store.sql.js";
import type { OutboxStore } from "./store.js";

/** The stores the mail code needs: a part of db/stores.ts's `Stores`, so that a `Stores` is one. */
export interface MailStores {
  outbox: OutboxStore;
  emailStages: EmailStageStore;
  events: EventStore;
}

export interface MailPersistence {
  stores: MailStores;
  transaction<T>(work: (stores: MailStores) => Promise<T>): Promise<T>;
}

/** What the mail services and the courier are given: the core dependencies with the mail stores. */
export type MailDeps = Omit<CoreDeps, "persistence"> & { persistence: MailPersistence };

function mailStoresOn(executor: Kysely<Database>, dialect: Dialect): MailStores {
  return {
    outbox: sqlOutboxStore(executor, dialect),
    emailStages: sqlEmailStageStore(executor),
    events: sqlEventStore(executor),
  };
}

function hasMailStores(stores: object): stores is MailStores {
  return "outbox" in stores && "emailStages" in stores && "events" in stores;
}

/**
 * The core dependencies as the mail code needs them. Once db/stores.ts's `Stores` carries `outbox`
 * and `emailStages`, `deps` already is a MailDeps and is returned as it is; until then the mail
 * stores are bound here, to the same database and the same kind of transaction.
 */
export function mailDeps(deps: CoreDeps): MailDeps {
  if (hasMailStores(deps.persistence.stores)) {
    return deps as unknown as MailDeps;
  }
  const db = deps.db;
  return {
    ...deps,
    persistence: {
      stores: mailStoresOn(db.kysely, db.dialect),
      transaction: (work) => db.kysely.transaction().execute((trx) => work(mailStoresOn(trx, db.dialect))),
    },
  };
}
