import { createHash } from "node:crypto";
import { connect, type Socket } from "node:net";
import nodemailer, { type Transporter } from "nodemailer";
import type { EmailStage } from "./stages/store.js";

/** One way of reaching an SMTP server; equal settings share one pooled transport. */
export interface SMTPSettings {
  host: string;
  port: number;
  /** Implicit TLS from the first byte (`smtps://`, a stage's `use_ssl`). */
  secure: boolean;
  /** STARTTLS is required: a server that does not offer it fails the send. */
  requireTLS: boolean;
  /** STARTTLS is never used, even when offered. */
  ignoreTLS: boolean;
  rejectUnauthorized: boolean;
  user: string | null;
  password: string | null;
  /** Connection, greeting and socket timeouts. */
  timeoutMs: number;
}

const GLOBAL_TIMEOUT_MS = 30_000;
/** A stage's `timeout` is bounded so that a send always ends well inside the courier's lease. */
const MAX_STAGE_TIMEOUT_SECONDS = 60;

function decoded(part: string): string | null {
  return part === "" ? null : decodeURIComponent(part);
}

/**
 * REKEY_SMTP_URL (kratos.md §3.7): `smtp://[user:pass@]host[:port]/` requires STARTTLS unless
 * `?disable_starttls=true`; `smtps://` is implicit TLS; `?skip_ssl_verify=true` accepts any
 * certificate (development only). Ports default to 25 and 465.
 */
export function smtpSettingsFromURL(url: URL): SMTPSettings {
  const implicitTLS = url.protocol === "smtps:";
  const startTLSDisabled = url.searchParams.get("disable_starttls") === "true";
  return {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port === "" ? (implicitTLS ? 465 : 25) : Number(url.port),
    secure: implicitTLS,
    requireTLS: !implicitTLS && !startTLSDisabled,
    ignoreTLS: !implicitTLS && startTLSDisabled,
    rejectUnauthorized: url.searchParams.get("skip_ssl_verify") !== "true",
    user: decoded(url.username),
    password: decoded(url.password),
    timeoutMs: GLOBAL_TIMEOUT_MS,
  };
}

/**
 * An email stage's own settings, as Django's SMTP backend uses them: `use_tls` is STARTTLS (required
 * once asked for), `use_ssl` implicit TLS, neither a plain connection without STARTTLS.
 */
export function smtpSettingsOfStage(stage: EmailStage, password: string | null): SMTPSettings {
  const seconds = Math.min(Math.max(stage.timeout, 1), MAX_STAGE_TIMEOUT_SECONDS);
  return {
    host: stage.host,
    port: stage.port,
    secure: stage.useSSL,
    requireTLS: stage.useTLS && !stage.useSSL,
    ignoreTLS: !stage.useTLS && !stage.useSSL,
    rejectUnauthorized: true,
    user: stage.username === "" ? null : stage.username,
    password: stage.username === "" ? null : password,
    timeoutMs: seconds * 1000,
  };
}

export interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface SMTPTransports {
  /** Sends through the pooled transport of these settings (made on first use); rejects on any SMTP failure. */
  send(settings: SMTPSettings, mail: OutgoingMail): Promise<void>;
  /** Closes every pooled connection. */
  close(): void;
}

/** At most this many distinct settings keep a transport; the least recently added is closed first. */
const MAX_TRANSPORTS = 32;

function settingsKey(settings: SMTPSettings): string {
  // Hashed so that the map keys hold no password in plain sight of a heap dump's string table.
  return createHash("sha256").update(JSON.stringify(settings)).digest("hex");
}

/**
 * Errors of connections that never opened. nodemailer's pool (7.x) answers such a failure to the one
 * message waiting on it but keeps the dead connection in its slot, busy, for good: after
 * `maxConnections` of them (an SMTP outage) every later message waits in its queue forever, and the
 * courier's cycle with it. A transport that saw one is retired (see `send`).
 */
const connectFailures = new WeakSet<Error>();

/**
 * Opens the TCP connection for nodemailer with Nagle's algorithm off. nodemailer writes each SMTP
 * command on its own, and with Nagle on every command after the first waits for the server's
 * delayed ACK: about 40 ms per message even on loopback (20 mails/s on one connection, 400 without).
 * nodemailer still does the rest, implicit TLS included, on the connection it is given.
 */
function connectWithoutDelay(settings: SMTPSettings) {
  return function getSocket(
    _options: unknown,
    callback: (error: Error | null, socket?: { connection: Socket }) => void,
  ): void {
    const socket = connect({ host: settings.host, port: settings.port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy(Object.assign(new Error("Connection timeout"), { code: "ETIMEDOUT" }));
    }, settings.timeoutMs);
    function failed(error: Error): void {
      clearTimeout(timer);
      connectFailures.add(error);
      callback(error);
    }
    socket.once("error", failed);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeListener("error", failed);
      callback(null, { connection: socket });
    });
  };
}

function createTransport(settings: SMTPSettings, maxConnections: number): Transporter {
  return nodemailer.createTransport({
    pool: true,
    maxConnections,
    getSocket: connectWithoutDelay(settings),
    host: settings.host,
    port: settings.port,
    secure: settings.secure,
    requireTLS: settings.requireTLS,
    ignoreTLS: settings.ignoreTLS,
    tls: { rejectUnauthorized: settings.rejectUnauthorized },
    auth: settings.user === null ? undefined : { user: settings.user, pass: settings.password ?? "" },
    connectionTimeout: settings.timeoutMs,
    greetingTimeout: settings.timeoutMs,
    socketTimeout: settings.timeoutMs,
  });
}

/** One pooled nodemailer transport per distinct setting, created on first use. */
export function smtpTransports(options?: { maxConnections?: number }): SMTPTransports {
  const transports = new Map<string, Transporter>();
  const maxConnections = options?.maxConnections ?? 5;

  function transportFor(settings: SMTPSettings): Transporter {
    const key = settingsKey(settings);
    let transport = transports.get(key);
    if (transport === undefined) {
      if (transports.size >= MAX_TRANSPORTS) {
        const [oldestKey, oldest] = transports.entries().next().value as [string, Transporter];
        transports.delete(oldestKey);
        oldest.close();
      }
      transport = createTransport(settings, maxConnections);
      transports.set(key, transport);
    }
    return transport;
  }

  return {
    async send(settings, mail) {
      const transport = transportFor(settings);
      try {
        await transport.sendMail(mail);
      } catch (error) {
        if (error instanceof Error && connectFailures.has(error)) {
          // Closing fails the messages queued behind the dead slots (the courier retries them later)
          // and lets the ones in flight finish; the next send gets a fresh pool.
          const key = settingsKey(settings);
          if (transports.get(key) === transport) transports.delete(key);
          transport.close();
        }
        throw error;
      }
    },
    close() {
      for (const transport of transports.values()) {
        transport.close();
      }
      transports.clear();
    },
  };
}
