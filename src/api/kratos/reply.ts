import type { FastifyReply } from "fastify";

/** A JSON success body as Kratos writes it: `application/json; charset=utf-8`, no HTML escaping. */
export function sendJSON(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type("application/json; charset=utf-8").send(JSON.stringify(body));
}
