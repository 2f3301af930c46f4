import type { FastifyBaseLogger } from "fastify";
import type { CoreDeps } from "../deps.js";
import type { Audit } from "../events/service.js";
import { recordEvent } from "../events/service.js";
import { SYSTEM_ACTOR } from "../events/store.js";
import { type MailDeps, mailDeps } from "./persistence.js";
import { type SMTPSettings, smtpSettingsFromURL, smtpSettingsOfStage, smtpTransports } from "./smtp.js";
import type { ClaimedMail } from "./store.js";
import type { RenderedMail } from "./templates/index.js";

/** kratos.md §3.7: claim up to 10 oldest due messages per cycle. */
export const CLAIM_LIMIT = 10;
/** kratos.md §3.7: at most 6 attempts in all, then `abandoned`. */
export const MAX_ATTEMPTS = 6;

export const NO_SMTP_NOTE = "no SMTP server configured (REKEY_SMTP_URL); mail written to the log";

export interface CourierOptions {
  /** Pause between polls when the queue is drained; 0 runs no loop (only runOnce). Default 1000. */
  pollMs?: number;
  /** A failed attempt n is retried after backoffMs · 2^(n−1). Default 15 s: 15 s, 30 s, 1 min, 2 min, 4 min. */
  backoffMs?: number;
  /** How long a claim is held before another courier may take the message over. Default 5 min. */
  leaseMs?: number;
  /** SMTP connections per distinct setting. Default 5. */
  maxConnections?: number;
}

export interface Courier {
  /** Stops polling, waits for the cycle in progress, closes SMTP connections. */
  stop(): Promise<void>;
  /** One claim-and-send cycle; resolves to the number of messages claimed. Cycles never overlap. */
  runOnce(): Promise<number>;
}

type Route = { kind: "log" } | { kind: "smtp"; settings: SMTPSettings; from: string };

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}

function mailAudit(tenantId: string): Audit {
  return { tenantId, actor: SYSTEM_ACTOR, clientIP: null, httpRequest: null, app: "rekey.mail" };
}

/**
 * The durable outbox's worker (kratos.md §3.7): claims due messages, sends each through the global
 * SMTP server or its email stage's own, records `email_sent`, retries failures with exponential
 * backoff and abandons a message after its sixth failed attempt. Delivery is at least once: a
 * courier that dies after sending but before recording it lets the message be sent again when its
 * lease runs out.
 */
export function startCourier(core: CoreDeps, log: FastifyBaseLogger, options?: CourierOptions): Courier {
  const deps: MailDeps = mailDeps(core);
  const pollMs = options?.pollMs ?? 1000;
  const backoffMs = options?.backoffMs ?? 15_000;
  const leaseMs = options?.leaseMs ?? 300_000;
  const transports = smtpTransports({ maxConnections: options?.maxConnections });
  const globalSettings = deps.config.smtpURL === null ? null : smtpSettingsFromURL(deps.config.smtpURL);
  const outbox = deps.persistence.stores.outbox;

  function openContent(message: ClaimedMail): RenderedMail | null {
    if (message.contentSealed === null) {
      return null;
    }
    const json = deps.mailContent.open(message.contentSealed, message.contentSecretIndex ?? 0);
    return json === null ? null : (JSON.parse(json) as RenderedMail);
  }

  /** The stage's own server when it has one; else REKEY_SMTP_URL, or the log when that is unset. */
  async function routeFor(message: ClaimedMail): Promise<Route> {
    if (message.emailStageId !== null) {
      // A stage deleted since the mail was queued falls back to the global settings.
      const stage = await deps.persistence.stores.emailStages.findEmailStage(message.tenantId, message.emailStageId);
      if (stage !== null && !stage.useGlobalSettings) {
        const password =
          stage.passwordSealed === null ? null : deps.smtpPasswords.open(stage.passwordSealed, stage.passwordSecretIndex ?? 0);
        return { kind: "smtp", settings: smtpSettingsOfStage(stage, password), from: stage.fromAddress };
      }
    }
    return globalSettings === null ? { kind: "log" } : { kind: "smtp", settings: globalSettings, from: deps.config.emailFrom };
  }

  async function abandon(message: ClaimedMail, reason: string): Promise<void> {
    await outbox.abandonMail(message, reason, deps.clock.now());
    log.warn({ mailId: message.id, template: message.template, attempts: message.sendCount, reason }, "mail abandoned");
  }

  async function failed(message: ClaimedMail, error: unknown): Promise<void> {
    const reason = errorText(error);
    if (message.sendCount >= MAX_ATTEMPTS) {
      await abandon(message, reason);
      return;
    }
    const now = deps.clock.now();
    const retryAt = new Date(now.getTime() + backoffMs * 2 ** (message.sendCount - 1));
    await outbox.markMailFailed(message, reason, retryAt, now);
    log.warn({ mailId: message.id, attempt: message.sendCount, retryAt: retryAt.toISOString(), reason }, "mail not sent; will retry");
  }

  /** `sent` and its audit event in one transaction; the event names the subject, never the body. */
  async function sent(message: ClaimedMail, content: RenderedMail, from: string): Promise<void> {
    await deps.persistence.transaction(async (stores) => {
      if (!(await stores.outbox.markMailSent(message, deps.clock.now()))) {
        return; // the lease ran out during the send and another courier holds the message now
      }
      await recordEvent(deps, stores.events, mailAudit(message.tenantId), "email_sent", {
        message: `Email to ${message.recipient} sent`,
        subject: content.auditSubject,
        from_email: from,
        to_email: [message.recipient],
        template: message.template,
      });
    });
  }

  async function deliver(message: ClaimedMail): Promise<void> {
    if (message.sendCount > MAX_ATTEMPTS) {
      await abandon(message, `gave up after ${MAX_ATTEMPTS} attempts`);
      return;
    }
    const content = openContent(message);
    if (content === null) {
      await abandon(message, "the content cannot be opened: was a server secret removed?");
      return;
    }
    const route = await routeFor(message);
    try {
      if (route.kind === "log") {
        // The embedded default still works end to end: the operator reads the mail in the log.
        log.info({ mailId: message.id, to: message.recipient, subject: content.subject, text: content.text }, NO_SMTP_NOTE);
      } else {
        const { subject, text, html } = content;
        await transports.send(route.settings, { from: route.from, to: message.recipient, subject, text, html });
      }
    } catch (error) {
      await failed(message, error);
      return;
    }
    await sent(message, content, route.kind === "smtp" ? route.from : deps.config.emailFrom);
  }

  async function cycle(): Promise<number> {
    const claimed = await outbox.claimMail(deps.clock.now(), CLAIM_LIMIT, leaseMs);
    // A batch goes out concurrently over the pooled connections; each message's changes are its own.
    const results = await Promise.allSettled(claimed.map(deliver));
    for (let i = 0; i < results.length; i++) {
      const result = results[i]!;
      if (result.status === "rejected") {
        // Left `processing`: its lease runs out and a later cycle retries it.
        log.error({ err: result.reason, mailId: claimed[i]!.id }, "mail delivery failed unexpectedly");
      }
    }
    return claimed.length;
  }

  let chain: Promise<unknown> = Promise.resolve();
  function runOnce(): Promise<number> {
    const run = chain.then(cycle, cycle);
    chain = run.catch(() => undefined);
    return run;
  }

  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  async function poll(): Promise<void> {
    timer = null;
    try {
      // A full batch means more may be due: claim again at once instead of waiting for the next poll.
      while (!stopped && (await runOnce()) === CLAIM_LIMIT) {}
    } catch (error) {
      log.error({ err: error }, "courier cycle failed");
    }
    if (!stopped) {
      timer = setTimeout(poll, pollMs);
      timer.unref();
    }
  }
  if (pollMs > 0) {
    timer = setTimeout(poll, 0);
    timer.unref();
  }

  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer !== null) {
        clearTimeout(timer);
      }
      await chain;
      transports.close();
    },
  };
}
