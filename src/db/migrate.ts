import { type Migration, type MigrationProvider, type MigrationResultSet, Migrator } from "kysely";
import type { DB } from "./database.js";
import { foundation } from "./migrations/001_foundation.js";
import { recovery } from "./migrations/002_recovery.js";
import { kratosFlows } from "./migrations/003_kratos_flows.js";
import { authenticators } from "./migrations/004_authenticators.js";
import { sessionDevices } from "./migrations/005_session_devices.js";
import { settingsMFA } from "./migrations/006_settings_mfa.js";
import { scaleIndexes } from "./migrations/007_scale_indexes.js";
import { caseInsensitiveLookups } from "./migrations/008_case_insensitive_lookups.js";
import { partialManagedIndex } from "./migrations/009_partial_managed_index.js";

/** Every migration, in order. One per change; a dialect branch only where the SQL really differs. */
function migrations(db: DB): Record<string, Migration> {
  return {
    "001_foundation": foundation(db.dialect),
    "002_recovery": recovery(db.dialect),
    "003_kratos_flows": kratosFlows(db.dialect),
    "004_authenticators": authenticators(db.dialect),
    "005_session_devices": sessionDevices(db.dialect),
    "006_settings_mfa": settingsMFA(db.dialect),
    "007_scale_indexes": scaleIndexes(),
    "008_case_insensitive_lookups": caseInsensitiveLookups(),
    "009_partial_managed_index": partialManagedIndex(db.dialect),
  };
}

/**
 * Brings the schema up to date. Kysely's migrator takes a lock table first, so replicas starting
 * together on one PostgreSQL database run each migration once.
 */
export async function migrateToLatest(db: DB): Promise<string[]> {
  return migrate(db, (migrator) => migrator.migrateToLatest());
}

/** Brings the schema to migration `name` and no further: for tests of a later migration's data step. */
export async function migrateTo(db: DB, name: string): Promise<string[]> {
  return migrate(db, (migrator) => migrator.migrateTo(name));
}

async function migrate(db: DB, step: (migrator: Migrator) => Promise<MigrationResultSet>): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(db) };
  const { error, results } = await step(new Migrator({ db: db.kysely, provider }));
  if (error !== undefined) {
    throw error;
  }
  return (results ?? [])
    .filter((result) => result.status === "Success")
    .map((result) => result.migrationName);
}
