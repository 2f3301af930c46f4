import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import type { SecretBox } from "./crypto/secrets.js";
import type { DB } from "./db/database.js";
import type { Persistence } from "./db/stores.js";
import type { RandomSource } from "./random.js";

/** What the domain services need: a handful of concrete collaborators, passed explicitly. */
export interface CoreDeps {
  config: Config;
  db: DB;
  persistence: Persistence;
  clock: Clock;
  random: RandomSource;
  /** Seals token keys that `view_key` must read back. */
  tokenKeys: SecretBox;
}
