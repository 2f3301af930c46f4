// The courier's throughput from one process: N mails queued in a fresh database, sent by the real
// courier to an smtp-server sink on loopback, every status change as in production.
//
//   node --import tsx bench/courier.ts [count] [--postgres] [--json]
//
// count defaults to 2,000 (target ≥ 200 mails/s). --postgres uses a fresh database on
// BENCH_POSTGRES_URL instead of a SQLite file. --json prints one JSON line of figures as well (the
// form `npm run bench` reads when it runs this as a child process).
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { openDeps } from "../src/boot.js";
import { loadConfig } from "../src/config.js";
import { startCourier } from "../src/mail/courier.js";
import { enqueueMail } from "../src/mail/outbox.js";
import { freshPostgres, freshSQLite } from "./lib/databases.js";
import { describeMachine, machineLine } from "./lib/report.js";

const flags = new Set(process.argv.slice(2).filter((arg) => arg.startsWith("--")));
const positional = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const count = Number(positional[0] ?? 2000);
if (
  !Number.isInteger(count) ||
  count <= 0 ||
  [...flags].some((flag) => !["--postgres", "--json"].includes(flag))
) {
  process.stderr.write("usage: node --import tsx bench/courier.ts [count] [--postgres] [--json]\n");
  process.exit(2);
}

interface Sink {
  port: number;
  report(): Promise<string[]>;
  close(): Promise<void>;
}

/** The SMTP sink (bench/lib/smtp-sink.ts) in a child process, so it does not share the courier's CPU. */
async function startSink(): Promise<Sink> {
  const child = fork(fileURLToPath(new URL("./lib/smtp-sink.ts", import.meta.url)), {
    execArgv: ["--import", "tsx"],
  });
  const next = (): Promise<Record<string, unknown>> =>
    new Promise((resolve) => child.once("message", (message) => resolve(message as Record<string, unknown>)));
  const { port } = (await next()) as { port: number };
  return {
    port,
    async report() {
      const answer = next();
      child.send("report");
      return ((await answer) as { subjects: string[] }).subjects;
    },
    close: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.send("close");
      }),
  };
}

const machine = describeMachine();
const postgres = flags.has("--postgres") ? await freshPostgres() : null;
if (postgres !== null && "unreachable" in postgres) {
  process.stderr.write(`courier: PostgreSQL is unreachable: ${postgres.unreachable}\n`);
  process.exit(2);
}
const database = postgres ?? freshSQLite();
const sink = await startSink();
const config = loadConfig({
  REKEY_DATABASE_URL: database.url,
  REKEY_SECRET_KEY: "bench-server-secret-0123456789",
  REKEY_SMTP_URL: `smtp://127.0.0.1:${sink.port}/?disable_starttls=true`,
  REKEY_EMAIL_FROM: "rekey@bench.example",
});
const deps = await openDeps(config);
const tenantId = (await deps.persistence.stores.tenants.defaultTenant()).id;

const queuedAt = performance.now();
for (let first = 0; first < count; first += 100) {
  await deps.persistence.transaction(async (stores) => {
    for (let i = first; i < Math.min(first + 100, count); i++) {
      await enqueueMail(deps, stores.outbox, {
        tenantId,
        to: { address: `user${i}@bench.example`, name: `User ${i}` },
        message: {
          template: "recovery_code_valid",
          model: { code: String(i).padStart(6, "0"), expiresInMinutes: 15 },
        },
        emailStageId: null,
      });
    }
  });
}
const queueSeconds = (performance.now() - queuedAt) / 1000;

async function sentCount(): Promise<number> {
  const row = await deps.db.kysely
    .selectFrom("mail_message")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("status", "=", "sent")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

const started = performance.now();
const cpuBefore = process.cpuUsage();
const courier = startCourier(deps, pino({ level: "warn" }), { pollMs: 20 });
while ((await sentCount()) < count) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
await courier.stop();

const subjects = await sink.report();
const unique = new Set(subjects).size;
const events = await deps.db.kysely
  .selectFrom("event")
  .select((eb) => eb.fn.countAll<number>().as("n"))
  .where("action", "=", "email_sent")
  .executeTakeFirstOrThrow();
const leftContent = await deps.db.kysely
  .selectFrom("mail_message")
  .select((eb) => eb.fn.countAll<number>().as("n"))
  .where("content_sealed", "is not", null)
  .executeTakeFirstOrThrow();

process.stdout.write(
  `courier: ${count} mails queued in ${queueSeconds.toFixed(2)} s, sent in ${seconds.toFixed(2)} s: ` +
    `${(count / seconds).toFixed(0)} mails/s from one process (${database.dialect}; SMTP sink on loopback in its own process; target ≥ 200/s)\n` +
    `courier process CPU: ${cpuSeconds.toFixed(2)} s (${((cpuSeconds * 1000) / count).toFixed(2)} ms per mail; ` +
    `${(count / cpuSeconds).toFixed(0)} mails per CPU-second, what one free core would sustain)\n` +
    `checks: ${subjects.length} received, ${unique} distinct, ${Number(events.n)} email_sent events, ` +
    `${Number(leftContent.n)} rows still holding content\n` +
    `machine: ${machineLine(machine)}\n`,
);

await sink.close();
await deps.db.close();
await database.drop();
const correct =
  subjects.length === count && unique === count && Number(events.n) === count && Number(leftContent.n) === 0;
if (flags.has("--json")) {
  process.stdout.write(
    `${JSON.stringify({
      dialect: database.dialect,
      mails: count,
      queueSeconds,
      sendSeconds: seconds,
      mailsPerSecond: count / seconds,
      cpuSeconds,
      received: subjects.length,
      distinct: unique,
      emailSentEvents: Number(events.n),
      rowsHoldingContent: Number(leftContent.n),
      peakRSSBytes: process.resourceUsage().maxRSS * 1024,
      correct,
    })}\n`,
  );
}
process.exit(correct ? 0 : 1);
