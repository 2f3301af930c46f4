import { parseArgs } from "node:util";
import { openDeps } from "./boot.js";
import { ADMIN_GROUP } from "./bootstrap.js";
import { type Config, ConfigError, loadConfig, SETTINGS } from "./config.js";
import type { Audit } from "./events/service.js";
import { SYSTEM_ACTOR } from "./events/store.js";
import { migrateToLatest } from "./db/migrate.js";
import { openDatabase } from "./db/database.js";
import { createToken } from "./tokens/service.js";
import { createGroup, createUser, setPassword, USER_DEFAULTS } from "./users/service.js";
import { SilentNotFound, ValidationFailed } from "./errors.js";
import { createAdminGroup, createRecoveryKey } from "./recovery/keys.js";
import { tenantPublicURL } from "./tenants/service.js";

/** A command-line failure: one line on stderr and an exit code, never a stack trace. */
class CLIError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

const USAGE = `Usage: rekey <command> [options]

Commands:
  serve                         start the server (the default of npm start)
  migrate                       bring the database schema up to date and exit
  users create                  create a user
  users set-password <username> set a user's password, read from standard input
  token create                  create an api token or app password and print its key once
  create_recovery_key <days> <username>
                                print a break-glass recovery URL for the user
  create_admin_group <username> add the user to the superuser group 'authentik Admins'

Every command takes --help. Settings come from REKEY_* environment variables (rekey serve --help).`;

function settingsHelp(): string {
  const width = Math.max(...SETTINGS.map((setting) => setting.name.length));
  const lines = SETTINGS.map(
    (s) => `  ${s.name.padEnd(width)}  ${s.meaning}\n  ${" ".repeat(width)}  default: ${s.default}`,
  );
  return `Usage: rekey serve\n\nStarts Rekey. Settings (environment variables):\n\n${lines.join("\n")}`;
}

const HELP: Record<string, string> = {
  create_recovery_key:
    "Usage: rekey create_recovery_key <days> <username> [--tenant <schema_name>]\n\n" +
    "Creates a recovery key valid for <days> (1 to 3650) and prints its full URL, then its expiry.\n" +
    "The key opens a one-hour recovery session that can set a new password and reset second factors.",
  create_admin_group:
    "Usage: rekey create_admin_group <username> [--tenant <schema_name>]\n\nAdds the user to the tenant's superuser group 'authentik Admins', creating it if needed.",
  serve: settingsHelp(),
  migrate: "Usage: rekey migrate\n\nRuns every pending migration on REKEY_DATABASE_URL and exits.",
  "users create":
    "Usage: rekey users create --username <name> --email <address> [--name <full name>] [--superuser] [--tenant <schema_name>]\n\n" +
    "Creates a user. --superuser adds them to the group 'authentik Admins' (created if missing).",
  "users set-password":
    "Usage: rekey users set-password <username> [--tenant <schema_name>]\n\nReads the new password from standard input (first line).",
  "token create":
    "Usage: rekey token create --user <username> --intent api|app_password [--identifier <slug>] [--expires <ISO date-time>] [--tenant <schema_name>]\n\n" +
    "Creates a token and prints its key once. Without --expires it expires after REKEY_DEFAULT_TOKEN_DURATION.",
};

function cliAudit(tenantId: string): Audit {
  return { tenantId, actor: SYSTEM_ACTOR, clientIP: null, httpRequest: null, app: "rekey.tasks" };
}

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8").split(/\r?\n/)[0] ?? "";
}

async function withDeps<T>(
  config: Config,
  work: (deps: Awaited<ReturnType<typeof openDeps>>, tenantId: string) => Promise<T>,
  tenant?: string,
): Promise<T> {
  const deps = await openDeps(config);
  try {
    const found =
      tenant === undefined
        ? await deps.persistence.stores.tenants.defaultTenant()
        : await deps.persistence.stores.tenants.findTenantBySchemaName(tenant);
    if (found === null) {
      throw new CLIError(`Tenant '${tenant}' not found.`, 1);
    }
    return await work(deps, found.id);
  } finally {
    await deps.db.close();
  }
}

function describe(error: ValidationFailed): string {
  return Object.entries(error.fields)
    .map(([field, messages]) => `${field}: ${messages.join(" ")}`)
    .join("; ");
}

async function usersCreate(config: Config, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      username: { type: "string" },
      email: { type: "string" },
      name: { type: "string" },
      superuser: { type: "boolean" },
      tenant: { type: "string" },
    },
  });
  if (values.username === undefined || values.email === undefined) {
    throw new CLIError("users create needs --username and --email (see --help).", 2);
  }
  await withDeps(
    config,
    async (deps, tenantId) => {
      const audit = cliAudit(tenantId);
      const groups: string[] = [];
      if (values.superuser === true) {
        const group =
          (await deps.persistence.stores.groups.findGroupByName(tenantId, ADMIN_GROUP)) ??
          (await createGroup(deps, audit, {
            name: ADMIN_GROUP,
            isSuperuser: true,
            users: [],
            attributes: {},
            parents: [],
            roles: [],
          }));
        groups.push(group.uuid);
      }
      const user = await createUser(deps, audit, {
        ...USER_DEFAULTS,
        username: values.username!,
        email: values.email!,
        name: values.name ?? "",
        groups,
      });
      process.stdout.write(`Created user '${user.username}' (pk ${user.id}).\n`);
    },
    values.tenant,
  );
}

async function usersSetPassword(config: Config, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { tenant: { type: "string" } },
    allowPositionals: true,
  });
  const username = positionals[0];
  if (username === undefined) {
    throw new CLIError("users set-password needs a username (see --help).", 2);
  }
  const password = await readStdinLine();
  await withDeps(
    config,
    async (deps, tenantId) => {
      const user = await deps.persistence.stores.users.findUserByUsername(tenantId, username);
      if (user === null) {
        throw new CLIError(`User '${username}' not found.`, 1);
      }
      await setPassword(deps, cliAudit(tenantId), user.id, password, "admin");
      process.stdout.write(`Password of '${username}' set.\n`);
    },
    values.tenant,
  );
}

async function tokenCreate(config: Config, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      user: { type: "string" },
      intent: { type: "string" },
      identifier: { type: "string" },
      expires: { type: "string" },
      tenant: { type: "string" },
    },
  });
  if (values.user === undefined || (values.intent !== "api" && values.intent !== "app_password")) {
    throw new CLIError("token create needs --user and --intent api|app_password (see --help).", 2);
  }
  const expires = values.expires === undefined ? undefined : new Date(values.expires);
  if (expires !== undefined && Number.isNaN(expires.getTime())) {
    throw new CLIError(`--expires: "${values.expires}" is not an ISO 8601 date-time.`, 2);
  }
  await withDeps(
    config,
    async (deps, tenantId) => {
      const user = await deps.persistence.stores.users.findUserByUsername(tenantId, values.user!);
      if (user === null) {
        throw new CLIError(`User '${values.user}' not found.`, 1);
      }
      const identifier =
        values.identifier ??
        `${user.username.replace(/[^-a-zA-Z0-9_]/g, "-")}-${values.intent}-${deps.random.string(8, "abcdefghijklmnopqrstuvwxyz0123456789")}`;
      // The CLI acts with the owner's own rights, so the owner may read the key back later.
      const created = await createToken(deps, cliAudit(tenantId), user, {
        identifier,
        intent: values.intent,
        expires,
      });
      process.stdout.write(`${created.key}\n`);
      process.stderr.write(`Token '${identifier}' created; the key above is shown once.\n`);
    },
    values.tenant,
  );
}

async function createRecoveryKeyCommand(config: Config, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { tenant: { type: "string" } },
    allowPositionals: true,
  });
  const [daysText, username] = positionals;
  if (daysText === undefined || !/^\d+$/.test(daysText) || Number(daysText) < 1 || Number(daysText) > 3650) {
    throw new CLIError("duration_days must be an integer from 1 to 3650.", 2);
  }
  if (username === undefined) {
    throw new CLIError("create_recovery_key needs a username (see --help).", 2);
  }
  await withDeps(
    config,
    async (deps, tenantId) => {
      const tenant = (await deps.persistence.stores.tenants.findTenant(tenantId))!;
      const baseURL = await tenantPublicURL(deps, tenant, config.publicURL.origin);
      try {
        const key = await createRecoveryKey(deps, cliAudit(tenantId), {
          tenant,
          username,
          days: Number(daysText),
          source: "cli",
          baseURL,
        });
        process.stdout.write(`${key.url}\nValid until ${key.expires.toISOString()}\n`);
      } catch (error) {
        if (error instanceof SilentNotFound) throw new CLIError(`User '${username}' not found.`, 1);
        throw error;
      }
    },
    values.tenant,
  );
}

async function createAdminGroupCommand(config: Config, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { tenant: { type: "string" } },
    allowPositionals: true,
  });
  const username = positionals[0];
  if (username === undefined) {
    throw new CLIError("create_admin_group needs a username (see --help).", 2);
  }
  await withDeps(
    config,
    async (deps, tenantId) => {
      const tenant = (await deps.persistence.stores.tenants.findTenant(tenantId))!;
      try {
        await createAdminGroup(deps, cliAudit(tenantId), { tenant, username });
      } catch (error) {
        if (error instanceof SilentNotFound) throw new CLIError(`User '${username}' not found.`, 1);
        throw error;
      }
      process.stdout.write(`User '${username}' successfully added to the group '${ADMIN_GROUP}'.\n`);
    },
    values.tenant,
  );
}

async function migrate(config: Config): Promise<void> {
  const db = openDatabase(config.databaseURL, { poolSize: 1 });
  try {
    const applied = await migrateToLatest(db);
    process.stdout.write(
      applied.length === 0 ? "Schema is up to date.\n" : `Applied: ${applied.join(", ")}\n`,
    );
  } finally {
    await db.close();
  }
}

/** PostgreSQL and socket error codes of a database the settings point at wrongly (unreachable, absent, refused). */
const DATABASE_ERRORS = ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "3D000", "28000", "28P01"];

/**
 * The setting behind an error that only shows once Rekey uses it: a port already taken, a database
 * that is down or absent, a SQLite path that cannot be a file. Issue #2 asks for one line naming the
 * setting for these too, not a stack trace. Null for every other error (a bug keeps its trace).
 */
function settingAtFault(error: unknown): ConfigError | null {
  if (!(error instanceof Error) || !("code" in error)) {
    return null;
  }
  const code = String(error.code);
  // AggregateError (a host with several addresses) has an empty message; its code still says why.
  const problem = error.message === "" ? code : error.message;
  if ("syscall" in error && error.syscall === "listen") {
    return new ConfigError("REKEY_LISTEN", `cannot listen there: ${problem}`);
  }
  if (DATABASE_ERRORS.includes(code)) {
    return new ConfigError("REKEY_DATABASE_URL", `cannot connect: ${problem}`);
  }
  if (code === "SQLITE_CANTOPEN" || ("syscall" in error && error.syscall === "mkdir")) {
    return new ConfigError("REKEY_DATABASE_URL", `cannot open the SQLite file: ${problem}`);
  }
  return null;
}

/** Entry point of the `rekey` command. Returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const words = argv.filter((arg) => !arg.startsWith("-"));
  const command =
    words[0] === "users" || words[0] === "token" ? `${words[0]} ${words[1] ?? ""}`.trim() : (words[0] ?? "");
  if (argv.includes("--help") || argv.includes("-h") || command === "" || command === "help") {
    process.stdout.write(`${HELP[command] ?? USAGE}\n`);
    return 0;
  }
  const rest = argv.slice(argv.indexOf(words[command.includes(" ") ? 1 : 0]!) + 1);
  try {
    const config = loadConfig(process.env);
    switch (command) {
      case "serve": {
        const { serve } = await import("./server.js");
        await serve(config);
        return -1; // keeps running
      }
      case "migrate":
        await migrate(config);
        return 0;
      case "users create":
        await usersCreate(config, rest);
        return 0;
      case "users set-password":
        await usersSetPassword(config, rest);
        return 0;
      case "token create":
        await tokenCreate(config, rest);
        return 0;
      case "create_recovery_key":
        await createRecoveryKeyCommand(config, rest);
        return 0;
      case "create_admin_group":
        await createAdminGroupCommand(config, rest);
        return 0;
      default:
        process.stderr.write(`rekey: unknown command '${command}'\n\n${USAGE}\n`);
        return 2;
    }
  } catch (error) {
    if (error instanceof ConfigError || error instanceof CLIError) {
      process.stderr.write(`rekey: ${error.message}\n`);
      return error instanceof CLIError ? error.exitCode : 2;
    }
    if (error instanceof ValidationFailed) {
      process.stderr.write(`rekey: ${describe(error)}\n`);
      return 1;
    }
    if (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`rekey: ${error.message}\n`);
      return 2;
    }
    const fault = settingAtFault(error);
    if (fault === null) {
      throw error;
    }
    process.stderr.write(`rekey: ${fault.message}\n`);
    if (command === "serve") {
      // serve() starts the job scheduler and the courier before it listens; their timers would keep
      // a server that failed to listen alive, so it exits here (as its own shutdown does).
      process.exit(1);
    }
    return 1;
  }
}
