import { createServer } from "node:net";

/**
 * A loopback port nobody listens on right now (the kernel's pick), so a setting such as
 * REKEY_PUBLIC_URL can name it before the server that will use it starts.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening, failed) => {
    server.once("error", failed);
    server.listen(0, "127.0.0.1", listening);
  });
  const address = server.address();
  await new Promise<void>((closed) => server.close(() => closed()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
