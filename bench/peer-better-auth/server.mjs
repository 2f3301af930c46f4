// A minimal better-auth server for `npm run bench:peer`: email and password, its bearer, api-key and
// two-factor plugins, its rate limiter off, served by its Node handler. Plain JavaScript in its own
// package so better-auth never enters Rekey's dependencies or Rekey's type check.
//
// Settings (all required but the last):
//   PEER_PORT          port on 127.0.0.1
//   PEER_DATABASE_URL  sqlite:<path> or postgres://... (an empty database: the tables are made here)
//   PEER_SECRET        better-auth's secret (32+ characters)
//   PEER_FAST_PASSWORD_HASH  "true" (the default) swaps the password hash for one SHA-256, see below
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { apiKey } from "@better-auth/api-key";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { bearer, twoFactor } from "better-auth/plugins";
import Database from "better-sqlite3";
import pg from "pg";

function setting(name) {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`${name} is required`);
  return value;
}

const port = Number(setting("PEER_PORT"));
const databaseURL = setting("PEER_DATABASE_URL");
const secret = setting("PEER_SECRET");
const fastHash = (process.env["PEER_FAST_PASSWORD_HASH"] ?? "true") === "true";

/** The same pragmas as Rekey's SQLite store (src/db/database.ts), so the two run on equal files. */
function openSQLite(path) {
  const sqlite = new Database(path);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  return sqlite;
}

// Rekey's default pool size (REKEY_DATABASE_POOL_SIZE) is 10; pg's default is 10 too, said here.
const database = databaseURL.startsWith("sqlite:")
  ? openSQLite(databaseURL.slice("sqlite:".length))
  : new pg.Pool({ connectionString: databaseURL, max: 10 });

function sha256(password) {
  return createHash("sha256").update(password).digest("hex");
}

// No measured operation hashes a password; setup signs up and signs in every seeded user (twice).
// better-auth's scrypt would make that setup minutes long on a loaded 2-core machine, so the
// documented `password.hash`/`verify` hooks get a single SHA-256 unless PEER_FAST_PASSWORD_HASH=false.
const password = fastHash
  ? {
      hash: async (plain) => sha256(plain),
      verify: async ({ hash, password: plain }) =>
        timingSafeEqual(Buffer.from(hash, "hex"), Buffer.from(sha256(plain), "hex")),
    }
  : undefined;

/** Password-reset mails are queued in memory and never sent: the bench measures the request alone. */
const resetQueue = [];
const QUEUE_CAP = 10_000;

const auth = betterAuth({
  baseURL: `http://127.0.0.1:${port}`,
  secret,
  database,
  telemetry: { enabled: false },
  rateLimit: { enabled: false },
  logger: { level: "error" },
  emailAndPassword: {
    enabled: true,
    password,
    sendResetPassword: async ({ user, url }) => {
      resetQueue.push({ to: user.email, url });
      if (resetQueue.length > QUEUE_CAP) resetQueue.shift();
    },
  },
  plugins: [
    bearer(),
    apiKey(),
    // Enabling 2FA in setup returns the TOTP URI and turns it on at once (no confirming code).
    twoFactor({ skipVerificationOnEnable: true }),
  ],
});

// better-auth's own migration tooling: it compares the options' schema with the database and creates
// what is missing (here, everything).
const { runMigrations } = await getMigrations(auth.options);
await runMigrations();

const server = createServer(toNodeHandler(auth));
server.keepAliveTimeout = 65_000;
server.listen(port, "127.0.0.1", () => {
  console.log(`better-auth listening on http://127.0.0.1:${port}`);
});

function stop() {
  server.close();
  server.closeAllConnections();
  if (database instanceof pg.Pool) {
    database.end().finally(() => process.exit(0));
  } else {
    database.close();
    process.exit(0);
  }
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
