// The bare limit: a plain fastify route on the same machine, in its own process, so every Rekey
// figure can be read as a share of what fastify itself serves here (design.md, "Quality bars").
import Fastify from "fastify";

const port = Number(process.env["BENCH_BARE_PORT"]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write("bench/bare.ts: set BENCH_BARE_PORT to the port to listen on\n");
  process.exit(2);
}

const app = Fastify({ logger: false });
app.get("/", async function bareRoute(): Promise<{ hello: string }> {
  return { hello: "world" };
});
await app.listen({ host: "127.0.0.1", port });

process.on("SIGTERM", () => {
  void app.close().then(() => process.exit(0));
});
