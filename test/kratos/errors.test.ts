import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { kratosErrorHandler, kratosErrorOf } from "../../src/api/kratos/errors.js";
import {
  type AnyAppError,
  AppError,
  CSRFViolation,
  LoginFailed,
  MalformedId,
  RateLimited,
  RecoveryUnusable,
} from "../../src/errors.js";

/** An exposed client error from outside AnyAppError, as a domain may add one before its mapping. */
class TeapotRefused extends AppError {
  readonly code = "teapot_refused";
  readonly status = 418;
  constructor() {
    super("I refuse to brew coffee.");
  }
}

/** An exposed error outside the union with a server status: only a bug can make one. */
class BrokenInvariant extends AppError {
  readonly code = "broken_invariant";
  readonly status = 503;
  constructor() {
    super("the invariant broke: internal detail");
  }
}

/** A hidden catalogue error: the client must see the generic 500. */
class HiddenFailure extends AppError {
  readonly code = "hidden_failure";
  readonly status = 400;
  override readonly expose = false;
  constructor() {
    super("secret detail");
  }
}

/** A Fastify app whose one route throws `error` through the Kratos error handler; logs are kept. */
async function throwing(error: Error): Promise<{ app: FastifyInstance; logs: string[] }> {
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const app = Fastify({ logger: { level: "error", stream } });
  app.setErrorHandler(kratosErrorHandler);
  app.get("/boom", async () => {
    throw error;
  });
  await app.ready();
  return { app, logs };
}

const GENERIC_500 = {
  error: {
    code: 500,
    status: "Internal Server Error",
    message: "An internal server error occurred, please contact the system administrator",
  },
};

describe("Kratos error mapping", () => {
  test("every catalogue error maps to a Kratos error with its status", () => {
    const cases: [AnyAppError, number][] = [
      [new RateLimited(7), 429],
      [new CSRFViolation("mismatch"), 403],
      [new MalformedId(), 404],
      [new RecoveryUnusable(), 404],
      [new LoginFailed(), 400],
    ];
    for (const [error, status] of cases) {
      const mapped = kratosErrorOf(error);
      assert.equal(mapped.status, status, error.code);
    }
    assert.equal(kratosErrorOf(new RateLimited(7)).headers["retry-after"], "7");
  });

  test("an exposed client error outside the union keeps its status and says why", () => {
    const mapped = kratosErrorOf(new TeapotRefused() as unknown as AnyAppError);
    assert.equal(mapped.status, 418);
    assert.equal(mapped.body.reason, "I refuse to brew coffee.");
  });

  test("an exposed error outside the union with a server status is a bare 500 that keeps its cause", () => {
    const error = new BrokenInvariant();
    const mapped = kratosErrorOf(error as unknown as AnyAppError);
    assert.equal(mapped.status, 500);
    assert.deepEqual(mapped.body, {});
    assert.equal(mapped.cause, error);
  });

  for (const [label, error] of [
    ["a plain Error", new Error("kaboom: internal detail")],
    ["a hidden catalogue error", new HiddenFailure()],
    ["an exposed error with a server status", new BrokenInvariant()],
  ] as const) {
    test(`${label} is answered with the generic Kratos 500 and logged, its detail never sent`, async (t) => {
      const { app, logs } = await throwing(error);
      t.after(() => app.close());
      const response = await app.inject({ method: "GET", url: "/boom" });
      assert.equal(response.statusCode, 500);
      assert.deepEqual(response.json(), GENERIC_500);
      assert.equal(response.headers["content-type"], "application/json");
      assert.ok(!response.body.includes("detail"));
      assert.equal(logs.length, 1);
      assert.match(logs[0]!, /unhandled error/);
      assert.match(logs[0]!, /detail/);
    });
  }

  test("a client error is answered in Kratos' shape and not logged as a bug", async (t) => {
    const { app, logs } = await throwing(new TeapotRefused());
    t.after(() => app.close());
    const response = await app.inject({ method: "GET", url: "/boom" });
    assert.equal(response.statusCode, 418);
    assert.equal(response.json().error.reason, "I refuse to brew coffee.");
    assert.deepEqual(logs, []);
  });
});
