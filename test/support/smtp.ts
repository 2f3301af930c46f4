import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerAuthentication } from "smtp-server";

/** A mail as the test SMTP server received it: the SMTP envelope and the parsed message. */
export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  /** The SMTP user that authenticated, or null. */
  user: string | null;
  /** True when the message came over TLS (implicit or STARTTLS). */
  secure: boolean;
  parsed: ParsedMail;
  raw: string;
}

export interface SMTPSink {
  port: number;
  /**
   * REKEY_SMTP_URL for this server: `smtp://127.0.0.1:<port>/?disable_starttls=true` for a plain one,
   * `smtps://…/?skip_ssl_verify=true` for implicit TLS, `smtp://…/?skip_ssl_verify=true` for STARTTLS
   * (smtp-server's built-in certificate is self-signed).
   */
  url: string;
  received: ReceivedMail[];
  /** While set, the server refuses every message at that step with a 550. */
  refuse: "rcpt" | "data" | null;
}

function smtpError(message: string): Error {
  return Object.assign(new Error(message), { responseCode: 550 });
}

/**
 * A real SMTP server on 127.0.0.1 and a free port, as Kratos' courier/smtp_wire_test.go does: plain
 * (no STARTTLS) unless `tls` says otherwise, authentication optional unless `auth` is given. Each
 * mail is parsed before the server answers, so it is in `received` by the time the client's send
 * resolves. Closed when `t` ends.
 */
export async function startSMTPSink(
  t: TestContext,
  options?: { auth?: { user: string; pass: string }; tls?: "none" | "starttls" | "implicit" },
): Promise<SMTPSink> {
  const sink: SMTPSink = { port: 0, url: "", received: [], refuse: null };
  const auth = options?.auth;
  const tls = options?.tls ?? "none";
  const server = new SMTPServer({
    secure: tls === "implicit",
    authOptional: auth === undefined,
    allowInsecureAuth: true,
    disabledCommands: tls === "starttls" ? [] : ["STARTTLS"],
    logger: false,
    // Clients still connected when the test ends (a courier's idle pooled connections) are cut off
    // after this long instead of smtp-server's default 30 s.
    closeTimeout: 200,
    onAuth(login: SMTPServerAuthentication, _session, callback) {
      if (auth !== undefined && login.username === auth.user && login.password === auth.pass) {
        callback(null, { user: login.username });
        return;
      }
      callback(smtpError("Invalid username or password"));
    },
    onRcptTo(_address, _session, callback) {
      callback(sink.refuse === "rcpt" ? smtpError("Mailbox unavailable") : undefined);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        if (sink.refuse === "data") {
          callback(smtpError("Message rejected"));
          return;
        }
        const raw = Buffer.concat(chunks).toString("utf8");
        simpleParser(raw).then(
          (parsed) => {
            const from = session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address;
            const to = session.envelope.rcptTo.map((recipient) => recipient.address);
            const user = typeof session.user === "string" ? session.user : null;
            sink.received.push({ envelope: { from, to }, user, secure: session.secure, parsed, raw });
            callback();
          },
          (error: Error) => callback(error),
        );
      });
    },
  });
  // A client that gives up (a refused certificate, a missing STARTTLS) is an expected outcome here.
  server.on("error", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  sink.port = (server.server.address() as AddressInfo).port;
  sink.url = {
    none: `smtp://127.0.0.1:${sink.port}/?disable_starttls=true`,
    starttls: `smtp://127.0.0.1:${sink.port}/?skip_ssl_verify=true`,
    implicit: `smtps://127.0.0.1:${sink.port}/?skip_ssl_verify=true`,
  }[tls];
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return sink;
}
