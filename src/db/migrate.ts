import { type Migration, type MigrationProvider, Migrator } from "kysely";
import type { DB } from "./database.js";
import { foundation } from "./migrations/001_foundation.js";
import { recovery } from "./migrations/002_recovery.js";
import { kratosFlows } from "./migrations/003_kratos_flows.js";
import { authenticators } from "./migrations/004_authenticators.js";
import { sessionDevices } from "./migrations/005_session_devices.js";
import { settingsMFA } from "./migrations/006_settings_mfa.js";
import { scaleIndexes } from "./migrations/007_scale_indexes.js";
import { caseInsensitiveLookups } from "./migrations/008_case_insensitive_lookups.js";

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
  };
}

/**
 * Brings the schema up to date. Kysely's migrator takes a lock table first, so replicas starting
 * together on one PostgreSQL database run each migration once.
 */
export async function migrateToLatest(db: DB): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(db) };
  const migrator = new Migrator({ db: db.kysely, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    throw error;
  }
  return (results ?? [])
    .filter((result) => result.status === "Success")
    .map((result) => result.migrationName);
}
