import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import type { SecretBox } from "./crypto/secrets.js";
import type { ChangeFeed } from "./db/changes.js";
import type { DB } from "./db/database.js";
import type { Persistence } from "./db/stores.js";
import type { RandomSource } from "./random.js";
import type { SecretHMAC } from "./selfservice/secrets.js";
import type { CredentialCache } from "./tokens/credentials.js";

/** What the domain services need: a handful of concrete collaborators, passed explicitly. */
export interface CoreDeps {
  config: Config;
  db: DB;
  persistence: Persistence;
  clock: Clock;
  /** Announces changes to cached data, in this process and (PostgreSQL) to every replica. */
  changes: ChangeFeed;
  /** Recently authenticated api tokens; emptied by `changes`. */
  credentials: CredentialCache;
  random: RandomSource;
  /** Stable id of this installation (the default tenant's uuid); part of every user's `uid`. */
  installationId: string;
  /** Seals token keys that `view_key` must read back. */
  tokenKeys: SecretBox;
  /** Seals queued mail (subject and bodies carry links and codes) until it is sent and erased. */
  mailContent: SecretBox;
  /** HMACs of recovery codes and link tokens (kratos.md §3.5). */
  codeHMAC: SecretHMAC;
  /** Seals TOTP secrets, which verification must read back. */
  totpSecrets: SecretBox;
  /** HMACs of backup codes. */
  backupCodeHMAC: SecretHMAC;
  /** Seals the SMTP passwords of email stages (write-only on the API, read by the courier). */
  smtpPasswords: SecretBox;
}
