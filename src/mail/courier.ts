import type { FastifyBaseLogger } from "fastify";
import type { CoreDeps } from "../deps.js";
import type { Audit } from "../events/service.js";
import { recordEvent } from "../events/service.js";
import { SYSTEM_ACTOR } from "../events/store.js";
import { type SMTPSettings, smtpSettingsFromURL, smtpSettingsOfStage, smtpTransports } from "./smtp.js";
import type { EmailStage } from "./stages/store.js";
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
  /** Cycles run side by side while the queue is full. Default 4. */
  parallelCycles?: number;
}

export interface Courier {
  /** Stops polling, waits for the cycles in progress, closes SMTP connections. */
  stop(): Promise<void>;
  /** One claim-and-send cycle; resolves to the number of messages claimed. */
  runOnce(): Promise<number>;
}

type Route = { kind: "log" } | { kind: "smtp"; settings: SMTPSettings; from: string };

/** A message that went out, waiting to be marked `sent` with the rest of its batch. */
interface Delivered {
  message: ClaimedMail;
  auditSubject: string;
  from: string;
}

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
export function startCourier(deps: CoreDeps, log: FastifyBaseLogger, options?: CourierOptions): Courier {
  const pollMs = options?.pollMs ?? 1000;
  const backoffMs = options?.backoffMs ?? 15_000;
  const leaseMs = options?.leaseMs ?? 300_000;
  const parallelCycles = options?.parallelCycles ?? 4;
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
  async function routeFor(
    message: ClaimedMail,
    stages: Map<string, Promise<EmailStage | null>>,
  ): Promise<Route> {
    if (message.emailStageId !== null) {
      const key = `${message.tenantId}/${message.emailStageId}`;
      let lookup = stages.get(key);
      if (lookup === undefined) {
        lookup = deps.persistence.stores.emailStages.findEmailStage(message.tenantId, message.emailStageId);
        stages.set(key, lookup);
      }
      // A stage deleted since the mail was queued falls back to the global settings.
      const stage = await lookup;
      if (stage !== null && !stage.useGlobalSettings) {
        const password =
          stage.passwordSealed === null
            ? null
            : deps.smtpPasswords.open(stage.passwordSealed, stage.passwordSecretIndex ?? 0);
        return { kind: "smtp", settings: smtpSettingsOfStage(stage, password), from: stage.fromAddress };
      }
    }
    return globalSettings === null
      ? { kind: "log" }
      : { kind: "smtp", settings: globalSettings, from: deps.config.emailFrom };
  }

  async function abandon(message: ClaimedMail, reason: string): Promise<void> {
    await outbox.abandonMail(message, reason, deps.clock.now());
    log.warn(
      { mailId: message.id, template: message.template, attempts: message.sendCount, reason },
      "mail abandoned",
    );
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
    log.warn(
      { mailId: message.id, attempt: message.sendCount, retryAt: retryAt.toISOString(), reason },
      "mail not sent; will retry",
    );
  }

  /**
   * Sends one message. Failures are recorded here, one message at a time; a message that went out is
   * returned, to be marked `sent` with the rest of its batch.
   */
  async function deliver(
    message: ClaimedMail,
    stages: Map<string, Promise<EmailStage | null>>,
  ): Promise<Delivered | null> {
    if (message.sendCount > MAX_ATTEMPTS) {
      await abandon(message, `gave up after ${MAX_ATTEMPTS} attempts`);
      return null;
    }
    const content = openContent(message);
    if (content === null) {
      await abandon(message, "the content cannot be opened: was a server secret removed?");
      return null;
    }
    const route = await routeFor(message, stages);
    try {
      if (route.kind === "log") {
        // The embedded default still works end to end: the operator reads the mail in the log.
        log.info(
          { mailId: message.id, to: message.recipient, subject: content.subject, text: content.text },
          NO_SMTP_NOTE,
        );
      } else {
        const { subject, text, html } = content;
        await transports.send(route.settings, {
          from: route.from,
          to: message.recipient,
          subject,
          text,
          html,
        });
      }
    } catch (error) {
      await failed(message, error);
      return null;
    }
    return {
      message,
      auditSubject: content.auditSubject,
      from: route.kind === "smtp" ? route.from : deps.config.emailFrom,
    };
  }

  /**
   * The batch's sent messages become `sent` and get their `email_sent` events in one transaction;
   * the events name the subject, never the body. A message whose lease ran out during its send (and
   * which another courier now holds) is left to that courier.
   */
  async function recordSent(delivered: Delivered[]): Promise<void> {
    if (delivered.length === 0) {
      return;
    }
    await deps.persistence.transaction(async (stores) => {
      const marked = new Set(
        await stores.outbox.markMailsSent(
          delivered.map((sent) => sent.message),
          deps.clock.now(),
        ),
      );
      for (const { message, auditSubject, from } of delivered) {
        if (!marked.has(message.id)) {
          continue;
        }
        await recordEvent(deps, stores.events, mailAudit(message.tenantId), "email_sent", {
          message: `Email to ${message.recipient} sent`,
          subject: auditSubject,
          from_email: from,
          to_email: [message.recipient],
          template: message.template,
        });
      }
    });
  }

  async function cycle(): Promise<number> {
    const claimed = await outbox.claimMail(deps.clock.now(), CLAIM_LIMIT, leaseMs);
    const stages = new Map<string, Promise<EmailStage | null>>();
    // A batch goes out concurrently over the pooled connections.
    const results = await Promise.allSettled(claimed.map((message) => deliver(message, stages)));
    const delivered: Delivered[] = [];
    for (let i = 0; i < results.length; i++) {
      const result = results[i]!;
      if (result.status === "rejected") {
        // Left `processing`: its lease runs out and a later cycle retries it.
        log.error({ err: result.reason, mailId: claimed[i]!.id }, "mail delivery failed unexpectedly");
      } else if (result.value !== null) {
        delivered.push(result.value);
      }
    }
    await recordSent(delivered);
    return claimed.length;
  }

  const running = new Set<Promise<number>>();
  /** Cycles may overlap (the claim is atomic, so no two take the same message); stop() waits for all. */
  function runOnce(): Promise<number> {
    const run = cycle();
    running.add(run);
    const forget = (): void => {
      running.delete(run);
    };
    run.then(forget, forget);
    return run;
  }

  let stopped = false;
  async function drain(): Promise<void> {
    while (!stopped && (await runOnce()) === CLAIM_LIMIT) {}
  }

  let timer: NodeJS.Timeout | null = null;
  async function poll(): Promise<void> {
    timer = null;
    try {
      // A full batch means more is due: several cycles then claim and send side by side, so one slow
      // message does not hold the next batch back, until the queue is drained.
      if ((await runOnce()) === CLAIM_LIMIT) {
        await Promise.all(Array.from({ length: parallelCycles }, drain));
      }
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
      await Promise.allSettled([...running]);
      transports.close();
    },
  };
}
