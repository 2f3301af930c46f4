import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";
import type { Dialect } from "../../src/db/database.js";
import { testApp } from "../support/app.js";

/**
 * Account enumeration through recovery: the authentik forgot-password page and Kratos' self-service
 * recovery (an address submitted to a flow) must answer a known and an unknown address alike: same
 * status, same body once the per-request values are masked, and the same time. Timed over a real
 * socket with the server listening, known and unknown interleaved in random order, after a warm-up;
 * compared by median, which a loaded machine's stalls move far less than a mean.
 */

export const MAX_MEDIAN_GAP_MS = 5;

interface Answer {
  status: number;
  body: string;
  ms: number;
}

export interface EndpointResult {
  name: string;
  knownMedian: number;
  unknownMedian: number;
  gap: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The answer with what differs per request masked: ids, times, CSRF values, the address itself. */
function masked(body: string, address: string): string {
  return body
    .replaceAll(address, "<address>")
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<uuid>")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<time>")
    .replace(/("csrf_token","type":"hidden","value":")[^"]*"/g, '$1<csrf>"')
    .replace(/(name="csrf_token" value=")[^"]*"/g, '$1<csrf>"');
}

/** A client address per request: the per-IP limits would otherwise answer 429 after ten tries. */
let nextIP = 0;
function clientIP(): string {
  nextIP += 1;
  return `10.${(nextIP >> 16) & 255}.${(nextIP >> 8) & 255}.${nextIP & 255}`;
}

/** The timing property, asserted by the caller per endpoint so each shows as its own test. */
export function assertSameTiming(result: EndpointResult): void {
  assert.ok(
    result.gap < MAX_MEDIAN_GAP_MS,
    `${result.name}: median known ${result.knownMedian.toFixed(2)} ms, unknown ${result.unknownMedian.toFixed(2)} ms: gap ${result.gap.toFixed(2)} ms ≥ ${MAX_MEDIAN_GAP_MS} ms`,
  );
}

/** Sends the tries, asserts the same status and body everywhere; the medians are returned. */
export async function checkEnumeration(
  t: TestContext,
  dialect: Dialect,
  tries: number,
): Promise<EndpointResult[]> {
  const rekey = await testApp(t, dialect, { env: { REKEY_TRUST_PROXY: "true" } });
  const warmUp = 20;
  const total = tries + warmUp;
  // One address per try on each side: the per-address limit (5 an hour) must not answer instead.
  for (let i = 0; i < total; i++) {
    const created = await rekey.api("POST", "/api/v3/core/users/", {
      username: `known${i}`,
      name: `Known ${i}`,
      email: `known${i}@example.com`,
    });
    assert.equal(created.statusCode, 201, created.body);
  }
  await rekey.app.listen({ host: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${(rekey.app.server.address() as AddressInfo).port}`;

  const page = await fetch(`${base}/if/recovery/request/`);
  const cookie = (page.headers.getSetCookie() ?? []).map((c) => c.split(";")[0]).join("; ");
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(await page.text())![1]!;

  async function forgotPassword(address: string): Promise<Answer> {
    const body = new URLSearchParams({ csrf_token: csrf, email: address }).toString();
    const started = performance.now();
    const response = await fetch(`${base}/if/recovery/request/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie, "x-forwarded-for": clientIP() },
      body,
    });
    const text = await response.text();
    return { status: response.status, body: masked(text, address), ms: performance.now() - started };
  }

  async function kratosRecovery(address: string): Promise<Answer> {
    const ip = clientIP();
    const flow = (await (
      await fetch(`${base}/self-service/recovery/api`, { headers: { "x-forwarded-for": ip } })
    ).json()) as { id: string };
    const started = performance.now();
    const response = await fetch(`${base}/self-service/recovery?flow=${flow.id}`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", "x-forwarded-for": ip },
      body: JSON.stringify({ method: "code", email: address }),
    });
    const text = await response.text();
    return { status: response.status, body: masked(text, address), ms: performance.now() - started };
  }

  const results: EndpointResult[] = [];
  for (const [name, send] of [
    ["authentik forgot-password page", forgotPassword],
    ["Kratos self-service recovery", kratosRecovery],
  ] as const) {
    const known: Answer[] = [];
    const unknown: Answer[] = [];
    for (let i = 0; i < total; i++) {
      // Random order within each pair, so neither side always runs on a warmer server.
      const pair =
        Math.random() < 0.5
          ? [await send(`known${i}@example.com`), await send(`nobody${i}@example.com`)]
          : [await send(`nobody${i}@example.com`), await send(`known${i}@example.com`)].reverse();
      if (i < warmUp) continue;
      known.push(pair[0]!);
      unknown.push(pair[1]!);
    }
    // Same status and same body, every time.
    const reference = known[0]!;
    assert.ok(reference.status === 200, `${name}: ${reference.status} ${reference.body.slice(0, 300)}`);
    for (const answer of [...known, ...unknown]) {
      assert.equal(answer.status, reference.status, `${name}: status`);
      assert.equal(answer.body, reference.body, `${name}: the answer differs`);
    }
    const knownMedian = median(known.map((a) => a.ms));
    const unknownMedian = median(unknown.map((a) => a.ms));
    results.push({ name, knownMedian, unknownMedian, gap: Math.abs(knownMedian - unknownMedian) });
  }
  for (const r of results) {
    t.diagnostic(
      `${dialect} ${r.name}: median known ${r.knownMedian.toFixed(2)} ms, unknown ${r.unknownMedian.toFixed(2)} ms, gap ${r.gap.toFixed(2)} ms over ${tries} tries each`,
    );
  }
  // Mail was queued for the known addresses only: the two sides really took different paths.
  const queued = await rekey.database.db.kysely
    .selectFrom("mail_message")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  assert.equal(Number(queued.n), 2 * total, "one mail per known address per endpoint, none for unknown ones");
  return results;
}
