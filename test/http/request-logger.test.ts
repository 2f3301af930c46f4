// request.log is made lazily (src/http/logging.ts): the lines it writes are pino's own, with the
// request id bound, and a request that logs nothing never makes a child logger at all.
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import pino from "pino";
import { loggerOptions } from "../../src/app.js";
import { lazyRequestLogger } from "../../src/http/logging.js";
import { testApp } from "../support/app.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, stream: { write: (line: string): void => void lines.push(JSON.parse(line)) } };
}

/** The real app, logging at `level` into `lines`. */
async function loggedApp(t: TestContext, level: string) {
  const { lines, stream } = capture();
  const rekey = await testApp(t, "sqlite", {
    logger: { ...(loggerOptions(level) as object), stream } as never,
  });
  return { app: rekey.app, lines };
}

test("at info, every request line carries the request's id", async (t) => {
  const { app, lines } = await loggedApp(t, "info");
  const response = await app.inject({
    method: "GET",
    url: "/api/v3/core/users/me/",
    headers: { "x-request-id": "req-one" },
  });
  assert.equal(response.statusCode, 403);
  const requestLines = lines.filter(
    (line) => line["msg"] === "incoming request" || line["msg"] === "request completed",
  );
  assert.equal(requestLines.length, 2, JSON.stringify(lines));
  for (const line of requestLines) assert.equal(line["reqId"], "req-one");
});

test("at warn, a request that logs nothing writes nothing", async (t) => {
  const { app, lines } = await loggedApp(t, "warn");
  const response = await app.inject({ method: "GET", url: "/api/v3/core/users/me/" });
  assert.equal(response.statusCode, 403);
  assert.deepEqual(lines, []);
});

test("the lazy logger writes enabled levels with its bindings, skips the others, and makes children", () => {
  const { lines, stream } = capture();
  const parent = pino({ level: "warn" }, stream);
  let children = 0;
  const counting = Object.assign(Object.create(parent), {
    child(...args: Parameters<typeof parent.child>) {
      children += 1;
      return parent.child(...args);
    },
  });
  const log = lazyRequestLogger(counting, { reqId: "req-two" }, {});
  log.info("not at warn");
  log.debug("nor this");
  assert.equal(children, 0, "no child made for lines below the level");
  log.warn({ detail: 1 }, "written");
  log.error("also written");
  assert.equal(children, 1, "one child, made on the first line written and kept");
  log.child({ step: "inner" }).warn("from a child");
  assert.deepEqual(
    lines.map((line) => [line["msg"], line["reqId"], line["step"]]),
    [
      ["written", "req-two", undefined],
      ["also written", "req-two", undefined],
      ["from a child", "req-two", "inner"],
    ],
  );
  assert.equal(lines[0]!["detail"], 1);
  assert.equal(log.level, "warn");
});

test("with logging off, requests are answered as before", async (t) => {
  const rekey = await testApp(t, "sqlite");
  const response = await rekey.app.inject({ method: "GET", url: "/api/v3/core/users/me/" });
  assert.equal(response.statusCode, 403);
});
