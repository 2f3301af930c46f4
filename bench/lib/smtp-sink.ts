// An SMTP sink for the courier benchmark, in a process of its own as a real mail server would be:
// accepts every message, keeps its subject, and reports them to the parent on request (IPC).
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

const subjects: string[] = [];
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS"],
  logger: false,
  closeTimeout: 200,
  onData(stream, _session, callback) {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      const subject = /^Subject: (.*)$/m.exec(Buffer.concat(chunks).toString("utf8"))?.[1] ?? "";
      subjects.push(subject.trim());
      callback();
    });
  },
});

server.on("error", (error) => process.stderr.write(`smtp sink: ${error.message}\n`));
server.listen(0, "127.0.0.1", () => {
  process.send?.({ port: (server.server.address() as AddressInfo).port });
});
process.on("message", (message: unknown) => {
  if (message === "report") {
    process.send?.({ subjects });
  } else if (message === "close") {
    server.close(() => process.exit(0));
  }
});
