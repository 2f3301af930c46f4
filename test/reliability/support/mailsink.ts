/**
 * A real SMTP server (smtp-server) that a test can take down and bring back on the same port, so a
 * Rekey configured with its URL meets a closed port in between (an SMTP outage).
 *
 * Stable API: startMailSink(t) → MailSink { port, url (REKEY_SMTP_URL), received, up, close(), reopen(),
 * countsBy(key) }. `received` keeps every mail across outages; each entry is in it before the client's
 * DATA is acknowledged, so a mail Rekey marked `sent` is already there.
 */
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import { onCleanup } from "./rekey.js";

export interface SunkMail {
  to: string[];
  parsed: ParsedMail;
}

export interface MailSink {
  readonly port: number;
  /** smtp://127.0.0.1:<port>/?disable_starttls=true */
  readonly url: string;
  readonly received: SunkMail[];
  /** True while the port is open. */
  readonly up: boolean;
  /** Closes the port (and cuts connected clients off): from now on connections are refused. */
  close(): Promise<void>;
  /** Listens on the same port again. */
  reopen(): Promise<void>;
  /** How many mails arrived per value of `key` (e.g. the recipient). */
  countsBy(key: (mail: SunkMail) => string): Map<string, number>;
}

function newServer(received: SunkMail[]): SMTPServer {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    // Rekey's pooled connections are cut off this soon when the sink goes down.
    closeTimeout: 100,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        simpleParser(Buffer.concat(chunks)).then(
          (parsed) => {
            received.push({ to: session.envelope.rcptTo.map((rcpt) => rcpt.address), parsed });
            callback();
          },
          (error: Error) => callback(error),
        );
      });
    },
  });
  server.on("error", () => {}); // a client cut off by close() is expected here
  return server;
}

async function listen(server: SMTPServer, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.server.off("error", reject);
      resolve();
    });
  });
  return (server.server.address() as AddressInfo).port;
}

export async function startMailSink(t: TestContext): Promise<MailSink> {
  const received: SunkMail[] = [];
  let server: SMTPServer | null = newServer(received);
  const port = await listen(server, 0);
  const stop = async (): Promise<void> => {
    const current = server;
    server = null;
    if (current !== null) await new Promise<void>((resolve) => current.close(() => resolve()));
  };
  onCleanup(t, stop);
  return {
    port,
    url: `smtp://127.0.0.1:${port}/?disable_starttls=true`,
    received,
    get up() {
      return server !== null;
    },
    close: stop,
    async reopen() {
      if (server !== null) return;
      const next = newServer(received);
      await listen(next, port);
      server = next;
    },
    countsBy(key) {
      const counts = new Map<string, number>();
      for (const mail of received) counts.set(key(mail), (counts.get(key(mail)) ?? 0) + 1);
      return counts;
    },
  };
}
