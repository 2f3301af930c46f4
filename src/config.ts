import { parseDurationString } from "./durations.js";

/** Every operator setting, with its default and what it means: the one source for --help and README. */
export interface Config {
  databaseURL: string;
  listenHost: string;
  listenPort: number;
  publicURL: URL;
  /** Server secrets, current first; null with SQLite until one is generated into the data folder. */
  secretKeys: string[] | null;
  bootstrapPassword: string | null;
  bootstrapToken: string | null;
  bootstrapEmail: string | null;
  tenantsAPIKey: string | null;
  smtpURL: URL | null;
  emailFrom: string;
  recoveryFlowSlug: string;
  defaultTokenDurationMs: number;
  defaultTokenDuration: string;
  recoveryRevokeSessions: boolean;
  brandTitle: string;
  trustProxy: boolean;
  recoveryUse: "code" | "link";
  recoveryCodeLength: number;
  recoveryNotifyUnknownRecipients: boolean;
  allowedReturnURLs: string[];
  tokenCleanupIntervalSeconds: number;
  sessionLifetimeSeconds: number;
  mailRetryBackoffSeconds: number;
  mailLeaseSeconds: number;
  sessionIdleTimeoutSeconds: number;
  databasePoolSize: number;
  logLevel: string;
}

export class ConfigError extends Error {
  readonly setting: string;

  constructor(setting: string, problem: string) {
    super(`${setting}: ${problem}`);
    this.setting = setting;
  }
}

export interface SettingInfo {
  name: string;
  default: string;
  meaning: string;
}

/** Documentation of every setting, in the order --help lists them. */
export const SETTINGS: readonly SettingInfo[] = [
  {
    name: "REKEY_DATABASE_URL",
    default: "sqlite:./data/rekey.db",
    meaning: "sqlite:<path> or postgres://...",
  },
  { name: "REKEY_LISTEN", default: "127.0.0.1:9000", meaning: "host:port to listen on" },
  {
    name: "REKEY_PUBLIC_URL",
    default: "http://localhost:9000",
    meaning: "base of every link Rekey hands out",
  },
  {
    name: "REKEY_SECRET_KEY",
    default: "generated into the data folder (SQLite); required (PostgreSQL)",
    meaning: "comma-separated server secrets, current first; keys HMACs and token-key encryption",
  },
  {
    name: "REKEY_BOOTSTRAP_PASSWORD",
    default: "unset",
    meaning: "on start, ensure user akadmin with this password",
  },
  {
    name: "REKEY_BOOTSTRAP_TOKEN",
    default: "unset",
    meaning: "on start, ensure an api token of akadmin with this key",
  },
  { name: "REKEY_BOOTSTRAP_EMAIL", default: "unset", meaning: "email address of akadmin" },
  {
    name: "REKEY_TENANTS_API_KEY",
    default: "unset (tenants API off)",
    meaning: "bearer key of /api/v3/tenants/",
  },
  {
    name: "REKEY_SMTP_URL",
    default: "unset (mail kept in the outbox and logged)",
    meaning: "smtp://user:pass@host:port or smtps://...",
  },
  { name: "REKEY_EMAIL_FROM", default: "rekey@localhost", meaning: "sender address of mail" },
  {
    name: "REKEY_RECOVERY_FLOW_SLUG",
    default: "default-recovery-flow",
    meaning: "slug in recovery links; empty disables links",
  },
  {
    name: "REKEY_DEFAULT_TOKEN_DURATION",
    default: "days=1",
    meaning: "tenant default token duration (authentik duration string)",
  },
  {
    name: "REKEY_RECOVERY_REVOKE_SESSIONS",
    default: "true",
    meaning: "revoke a user's other sessions after a recovery",
  },
  { name: "REKEY_BRAND_TITLE", default: "Rekey", meaning: "TOTP issuer and mail branding" },
  {
    name: "REKEY_TRUST_PROXY",
    default: "false",
    meaning: "trust X-Forwarded-Proto / X-Forwarded-Host / X-Forwarded-For",
  },
  { name: "REKEY_RECOVERY_USE", default: "code", meaning: "self-service recovery method: code or link" },
  { name: "REKEY_RECOVERY_CODE_LENGTH", default: "6", meaning: "digits in recovery codes, 6 to 12" },
  {
    name: "REKEY_RECOVERY_NOTIFY_UNKNOWN_RECIPIENTS",
    default: "false",
    meaning: "mail unknown addresses that someone tried to recover them",
  },
  {
    name: "REKEY_ALLOWED_RETURN_URLS",
    default: "empty",
    meaning: "comma-separated URL prefixes allowed as return_to",
  },
  {
    name: "REKEY_TOKEN_CLEANUP_INTERVAL",
    default: "300",
    meaning: "seconds between expired-token cleanups; 0 disables the job",
  },
  {
    name: "REKEY_MAIL_RETRY_BACKOFF",
    default: "15",
    meaning: "seconds before the first mail retry; doubles each attempt, 6 attempts",
  },
  {
    name: "REKEY_MAIL_LEASE",
    default: "300",
    meaning: "seconds a courier holds a claimed mail; after a crash, another takes it over then",
  },
  { name: "REKEY_SESSION_LIFETIME", default: "86400", meaning: "seconds a login session lives at most" },
  {
    name: "REKEY_SESSION_IDLE_TIMEOUT",
    default: "3600",
    meaning: "seconds of inactivity that end a login session",
  },
  { name: "REKEY_DATABASE_POOL_SIZE", default: "10", meaning: "PostgreSQL connections per process" },
  { name: "REKEY_LOG_LEVEL", default: "info", meaning: "fatal, error, warn, info, debug, trace or silent" },
];

type Env = Record<string, string | undefined>;

function text(env: Env, name: string, fallback: string): string {
  return env[name] ?? fallback;
}

function optional(env: Env, name: string): string | null {
  const value = env[name];
  return value === undefined || value === "" ? null : value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const value = env[name];
  if (value === undefined || value === "") {
    return fallback;
  }
  const lower = value.toLowerCase();
  if (["true", "1", "yes", "on"].includes(lower)) {
    return true;
  }
  if (["false", "0", "no", "off"].includes(lower)) {
    return false;
  }
  throw new ConfigError(name, `expected true or false, got "${value}"`);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = env[name];
  if (value === undefined || value === "") {
    return fallback;
  }
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got "${value}"`);
  }
  return Number(value);
}

function url(name: string, value: string, protocols: readonly string[]): URL {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, `"${value}" is not a URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `expected a ${protocols.join(" or ")} URL, got "${value}"`);
  }
  return parsed;
}

function listen(env: Env): { host: string; port: number } {
  const value = text(env, "REKEY_LISTEN", "127.0.0.1:9000");
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(value);
  if (match === null || Number(match[2]) > 65535) {
    throw new ConfigError("REKEY_LISTEN", `expected host:port, got "${value}"`);
  }
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port: Number(match[2]) };
}

function databaseURL(env: Env): string {
  const value = text(env, "REKEY_DATABASE_URL", "sqlite:./data/rekey.db");
  if (value.startsWith("sqlite:")) {
    if (value.length === "sqlite:".length) {
      throw new ConfigError("REKEY_DATABASE_URL", "sqlite: needs a file path, e.g. sqlite:./data/rekey.db");
    }
    return value;
  }
  url("REKEY_DATABASE_URL", value, ["postgres:", "postgresql:"]);
  return value;
}

function secretKeys(env: Env, database: string): string[] | null {
  const value = optional(env, "REKEY_SECRET_KEY");
  if (value === null) {
    if (!database.startsWith("sqlite:")) {
      throw new ConfigError("REKEY_SECRET_KEY", "required with PostgreSQL (every replica must share it)");
    }
    return null;
  }
  const keys = value.split(",").map((key) => key.trim());
  if (keys.some((key) => key.length < 16)) {
    throw new ConfigError("REKEY_SECRET_KEY", "every secret must be at least 16 characters long");
  }
  return keys;
}

/** Reads and validates every setting; throws ConfigError naming the first bad one. */
export function loadConfig(env: Env): Config {
  const database = databaseURL(env);
  const { host, port } = listen(env);
  const publicURL = url("REKEY_PUBLIC_URL", text(env, "REKEY_PUBLIC_URL", "http://localhost:9000"), [
    "http:",
    "https:",
  ]);
  const smtp = optional(env, "REKEY_SMTP_URL");
  const durationText = text(env, "REKEY_DEFAULT_TOKEN_DURATION", "days=1");
  const durationMs = parseDurationString(durationText);
  if (durationMs === null || durationMs <= 0) {
    throw new ConfigError(
      "REKEY_DEFAULT_TOKEN_DURATION",
      `"${durationText}" is not a positive duration like days=1`,
    );
  }
  const recoveryUse = text(env, "REKEY_RECOVERY_USE", "code");
  if (recoveryUse !== "code" && recoveryUse !== "link") {
    throw new ConfigError("REKEY_RECOVERY_USE", `expected code or link, got "${recoveryUse}"`);
  }
  const logLevel = text(env, "REKEY_LOG_LEVEL", "info");
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(logLevel)) {
    throw new ConfigError(
      "REKEY_LOG_LEVEL",
      `expected fatal, error, warn, info, debug, trace or silent, got "${logLevel}"`,
    );
  }
  const emailFrom = text(env, "REKEY_EMAIL_FROM", "rekey@localhost");
  if (!emailFrom.includes("@")) {
    throw new ConfigError("REKEY_EMAIL_FROM", `"${emailFrom}" is not an email address`);
  }
  const slug = text(env, "REKEY_RECOVERY_FLOW_SLUG", "default-recovery-flow");
  if (slug !== "" && !/^[-a-zA-Z0-9_]+$/.test(slug)) {
    throw new ConfigError("REKEY_RECOVERY_FLOW_SLUG", `"${slug}" is not a slug (letters, numbers, _ and -)`);
  }
  return {
    databaseURL: database,
    listenHost: host,
    listenPort: port,
    publicURL,
    secretKeys: secretKeys(env, database),
    bootstrapPassword: optional(env, "REKEY_BOOTSTRAP_PASSWORD"),
    bootstrapToken: optional(env, "REKEY_BOOTSTRAP_TOKEN"),
    bootstrapEmail: optional(env, "REKEY_BOOTSTRAP_EMAIL"),
    tenantsAPIKey: optional(env, "REKEY_TENANTS_API_KEY"),
    smtpURL: smtp === null ? null : url("REKEY_SMTP_URL", smtp, ["smtp:", "smtps:"]),
    emailFrom,
    recoveryFlowSlug: slug,
    defaultTokenDurationMs: durationMs,
    defaultTokenDuration: durationText,
    recoveryRevokeSessions: bool(env, "REKEY_RECOVERY_REVOKE_SESSIONS", true),
    brandTitle: text(env, "REKEY_BRAND_TITLE", "Rekey"),
    trustProxy: bool(env, "REKEY_TRUST_PROXY", false),
    recoveryUse,
    recoveryCodeLength: integer(env, "REKEY_RECOVERY_CODE_LENGTH", 6, 6, 12),
    recoveryNotifyUnknownRecipients: bool(env, "REKEY_RECOVERY_NOTIFY_UNKNOWN_RECIPIENTS", false),
    allowedReturnURLs: (optional(env, "REKEY_ALLOWED_RETURN_URLS") ?? "")
      .split(",")
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ""),
    tokenCleanupIntervalSeconds: integer(env, "REKEY_TOKEN_CLEANUP_INTERVAL", 300, 0, 86_400),
    mailRetryBackoffSeconds: integer(env, "REKEY_MAIL_RETRY_BACKOFF", 15, 1, 86_400),
    mailLeaseSeconds: integer(env, "REKEY_MAIL_LEASE", 300, 1, 86_400),
    sessionLifetimeSeconds: integer(env, "REKEY_SESSION_LIFETIME", 86_400, 60, 31_536_000),
    sessionIdleTimeoutSeconds: integer(env, "REKEY_SESSION_IDLE_TIMEOUT", 3_600, 60, 31_536_000),
    databasePoolSize: integer(env, "REKEY_DATABASE_POOL_SIZE", 10, 1, 1000),
    logLevel,
  };
}
