import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AppDeps } from "./app.js";
import { type Clock, systemClock } from "./clock.js";
import type { Config } from "./config.js";
import { ConfigError } from "./config.js";
import { SecretBox } from "./crypto/secrets.js";
import { type DB, openDatabase } from "./db/database.js";
import { migrateToLatest } from "./db/migrate.js";
import { ChangeFeed } from "./db/changes.js";
import { persistenceOn } from "./db/stores.js";
import { CredentialCache } from "./tokens/credentials.js";
import { cryptoRandom, type RandomSource } from "./random.js";
import { SecretHMAC } from "./selfservice/secrets.js";
import { TenantResolver } from "./tenants/resolver.js";

/**
 * The server secret for an embedded SQLite install: generated once into the data folder (mode 0600)
 * and reused, so that `npm start` needs no setting. PostgreSQL deployments must configure it, since
 * every replica has to share it.
 */
export function loadOrCreateSecret(dataDir: string): string {
  const path = join(dataDir, "secret.key");
  try {
    writeFileSync(path, randomBytes(32).toString("base64url"), { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
      throw error;
    }
  }
  return readFileSync(path, "utf8").trim();
}

function serverSecrets(config: Config, db: DB): string[] {
  if (config.secretKeys !== null) {
    return config.secretKeys;
  }
  if (db.dataDir === null) {
    // In-memory SQLite (tests): a secret that lives as long as the database does.
    return [randomBytes(32).toString("base64url")];
  }
  return [loadOrCreateSecret(db.dataDir)];
}

/** Opens the database, runs pending migrations and assembles the dependencies of the app. */
export async function openDeps(
  config: Config,
  options?: { clock?: Clock; random?: RandomSource; db?: DB; serving?: boolean },
): Promise<AppDeps> {
  const db =
    options?.db ??
    openDatabase(config.databaseURL, {
      poolSize: config.databasePoolSize,
      backgroundCheckpoints: options?.serving === true,
    });
  await migrateToLatest(db);
  const secrets = serverSecrets(config, db);
  if (secrets.length === 0) {
    throw new ConfigError("REKEY_SECRET_KEY", "no secret configured");
  }
  const clock = options?.clock ?? systemClock;
  const changes = new ChangeFeed();
  const persistence = persistenceOn(db, changes);
  const credentials = new CredentialCache(clock);
  const tenantResolver = new TenantResolver(persistence.stores.tenants, clock);
  changes.subscribe(() => credentials.invalidate());
  changes.subscribe(() => tenantResolver.invalidate());
  const defaultTenant = await persistence.stores.tenants.defaultTenant();
  return {
    config,
    db,
    persistence,
    clock,
    changes,
    credentials,
    random: options?.random ?? cryptoRandom,
    tokenKeys: new SecretBox(secrets, "rekey/token-key/v1"),
    mailContent: new SecretBox(secrets, "rekey/mail-content/v1"),
    smtpPasswords: new SecretBox(secrets, "rekey/smtp-password/v1"),
    codeHMAC: new SecretHMAC(secrets, "rekey/recovery-code/v1"),
    totpSecrets: new SecretBox(secrets, "rekey/totp-secret/v1"),
    backupCodeHMAC: new SecretHMAC(secrets, "rekey/backup-code/v1"),
    installationId: defaultTenant.id,
    serialize: { installationId: defaultTenant.id },
    tenantResolver,
  };
}
