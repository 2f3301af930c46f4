// The limits every Rekey figure is read against, in one process of their own (design.md, "Quality
// bars"): a plain fastify route (the API paths' limit) and a route doing exactly one argon2id verify
// with Rekey's own parameters (the password login's limit, the "hash-bound limit").
import Fastify from "fastify";
import { hashPassword, verifyPassword } from "../src/users/passwords.js";
import { ARGON2_LIMIT_PASSWORD } from "./lib/scenarios.js";

const port = Number(process.env["BENCH_BARE_PORT"]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write("bench/bare.ts: set BENCH_BARE_PORT to the port to listen on\n");
  process.exit(2);
}

// Hashed here with ARGON2_PARAMETERS (src/users/passwords.ts): the verify costs what a login's does.
const storedHash = await hashPassword(ARGON2_LIMIT_PASSWORD);

const app = Fastify({ logger: false });
app.get("/", async function bareRoute(): Promise<{ hello: string }> {
  return { hello: "world" };
});
app.post(
  "/argon2",
  {
    schema: {
      body: {
        type: "object",
        required: ["password"],
        properties: { password: { type: "string", maxLength: 1024 } },
      },
      response: {
        200: { type: "object", properties: { ok: { type: "boolean" } } },
        401: { type: "object", properties: { ok: { type: "boolean" } } },
      },
    },
  },
  async function argon2Route(request, reply) {
    const ok = await verifyPassword(storedHash, (request.body as { password: string }).password);
    return reply.code(ok ? 200 : 401).send({ ok });
  },
);
await app.listen({ host: "127.0.0.1", port });

process.on("SIGTERM", () => {
  void app.close().then(() => process.exit(0));
});
