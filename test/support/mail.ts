import type { TestContext } from "node:test";
import pino from "pino";
import { fixedClock } from "../../src/clock.js";
import type { Dialect } from "../../src/db/database.js";
import type { CoreDeps } from "../../src/deps.js";
import { type Courier, type CourierOptions, startCourier } from "../../src/mail/courier.js";
import { enqueueMail } from "../../src/mail/outbox.js";
import type { MailMessage } from "../../src/mail/templates/index.js";
import { type TestApp, testApp } from "./app.js";

export const MAIL_NOW = new Date("2026-03-01T12:00:00.000Z");

/** A captured log line: pino's JSON object. */
export type LogLine = Record<string, unknown> & { level: number; msg: string };

/** A real pino logger whose lines the test can read. */
export function capturingLogger(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
  return { log, lines };
}

export interface CourierHarness {
  rekey: TestApp;
  clock: ReturnType<typeof fixedClock>;
  courier: Courier;
  tenantId: string;
  lines: LogLine[];
}

/**
 * The real app on a fresh `dialect` database standing at MAIL_NOW, and a courier on it that only
 * runs when the test calls runOnce(). `smtpURL` null leaves REKEY_SMTP_URL unset.
 */
export async function courierHarness(
  t: TestContext,
  dialect: Dialect,
  options: { smtpURL: string | null; courier?: CourierOptions },
): Promise<CourierHarness> {
  const clock = fixedClock(MAIL_NOW);
  const env: Record<string, string> = { REKEY_EMAIL_FROM: "rekey@example.com", REKEY_BRAND_TITLE: "Acme ID" };
  if (options.smtpURL !== null) env["REKEY_SMTP_URL"] = options.smtpURL;
  const rekey = await testApp(t, dialect, { clock, env });
  const { log, lines } = capturingLogger();
  const courier = startCourier(rekey.deps, log, { pollMs: 0, backoffMs: 1000, ...options.courier });
  t.after(() => courier.stop());
  const tenantId = (await rekey.deps.persistence.stores.tenants.defaultTenant()).id;
  return { rekey, clock, courier, tenantId, lines };
}

/** Queues one mail in its own transaction, as a service would beside the code it carries. */
export async function queueMail(
  deps: CoreDeps,
  tenantId: string,
  message: MailMessage,
  options?: { to?: { address: string; name: string }; emailStageId?: string | null },
): Promise<string> {
  return deps.persistence.transaction((stores) =>
    enqueueMail(deps, stores.outbox, {
      tenantId,
      to: options?.to ?? { address: "jane@example.com", name: "Jane Doe" },
      message,
      emailStageId: options?.emailStageId ?? null,
    }),
  );
}
