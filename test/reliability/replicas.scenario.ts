import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { startMailSink } from "./support/mailsink.js";
import { openOutbox } from "./support/outbox.js";
import {
  clientIP,
  createUser,
  freshDatabaseURL,
  inParallel,
  type RekeyProcess,
  type Response,
  startRekey,
  TENANTS_KEY,
  waitFor,
} from "./support/rekey.js";

/**
 * Issue 6, reliability 2: two Rekey processes on one PostgreSQL database, sharing nothing else.
 * Single-use secrets of three kinds (Kratos admin recovery codes, authentik recovery links, tenant
 * recovery keys) are each redeemed by many clients at once through both processes: exactly one may
 * win. Then both couriers drain one outbox into a real SMTP server: every mail arrives exactly once.
 */

export interface ReplicaSizes {
  /** Secrets of each kind. */
  secrets: number;
  /** Redemption attempts in all, spread evenly over the 3 × `secrets` secrets. */
  attempts: number;
  mails: number;
}

type Kind = "code" | "link" | "key";

interface Secret {
  kind: Kind;
  name: string;
  /** code: the flow id; link and key: the page path. */
  target: string;
  value: string;
}

/** A redemption ready to fire: for the pages, a browser that already loaded the Continue form. */
interface Attempt {
  secret: Secret;
  server: RekeyProcess;
  ip: string;
  csrf?: { cookie: string; token: string };
}

function csrfOf(page: Response): { cookie: string; token: string } {
  const cookie = page.headers.getSetCookie().find((header) => header.startsWith("rekey_csrf="));
  const input = /<input[^>]*\bname="csrf_token"[^>]*>/.exec(page.text)?.[0];
  // Base64 holds none of the characters the pages escape, so the attribute is the token as is.
  const token = input === undefined ? undefined : /\bvalue="([^"]*)"/.exec(input)?.[1];
  assert.ok(cookie !== undefined && token !== undefined, `a Continue form with a CSRF token: ${page.text}`);
  return { cookie: cookie.split(";")[0]!, token };
}

async function issueSecrets(servers: RekeyProcess[], count: number): Promise<Secret[]> {
  const [a] = servers as [RekeyProcess];
  const tenants = await a.request("GET", "/api/v3/tenants/tenants/?search=public", { token: TENANTS_KEY });
  assert.equal(tenants.status, 200, tenants.text);
  const tenantUUID = tenants.body.results[0].tenant_uuid as string;
  const kinds: Kind[] = ["code", "link", "key"];
  const jobs = kinds.flatMap((kind) => Array.from({ length: count }, (_, i) => ({ kind, i })));
  // Issued through both processes in turn: each must see what the other wrote.
  return inParallel(jobs, 8, async ({ kind, i }, n) => {
    const server = servers[n % 2]!;
    const user = await createUser(server, `race-${kind}-${i}`);
    if (kind === "code") {
      const issued = await server.request("POST", "/admin/recovery/code", {
        body: { identity_id: user.uuid, flow_type: "api" },
      });
      assert.equal(issued.status, 201, issued.text);
      const flow = new URL(issued.body.recovery_link as string).searchParams.get("flow")!;
      return { kind, name: user.username, target: flow, value: issued.body.recovery_code as string };
    }
    if (kind === "link") {
      const issued = await server.request("POST", `/api/v3/core/users/${user.pk}/recovery/`, { body: {} });
      assert.equal(issued.status, 200, issued.text);
      const url = new URL(issued.body.link as string);
      return {
        kind,
        name: user.username,
        target: url.pathname + url.search,
        value: url.searchParams.get("flow_token")!,
      };
    }
    const issued = await server.request(
      "POST",
      `/api/v3/tenants/tenants/${tenantUUID}/create_recovery_key/`,
      {
        token: TENANTS_KEY,
        body: { user: user.username, duration_days: 1 },
      },
    );
    assert.equal(issued.status, 200, issued.text);
    const path = new URL(issued.body.url as string).pathname;
    return { kind, name: user.username, target: path, value: decodeURIComponent(path.split("/")[3]!) };
  });
}

/** Loads the Continue form as the attempt's own browser would (links and keys only; codes need none). */
async function prepare(attempt: Attempt): Promise<Attempt> {
  if (attempt.secret.kind === "code") return attempt;
  const page = await attempt.server.request("GET", attempt.secret.target, {
    token: null,
    clientIP: attempt.ip,
  });
  assert.equal(page.status, 200, `${attempt.secret.name}: ${page.text}`);
  return { ...attempt, csrf: csrfOf(page) };
}

/** Fires one redemption; true when it won (a session), false when refused, and fails on anything else. */
async function redeem(attempt: Attempt): Promise<boolean> {
  const { secret, server, ip } = attempt;
  if (secret.kind === "code") {
    const response = await server.request("POST", `/self-service/recovery?flow=${secret.target}`, {
      token: null,
      clientIP: ip,
      body: { method: "code", code: secret.value },
    });
    const won = (response.body?.continue_with ?? []).some(
      (item: { action: string }) => item.action === "set_ory_session_token",
    );
    assert.ok(
      won ? response.status === 200 : response.status === 400,
      `${secret.name}: ${response.status} ${response.text}`,
    );
    return won;
  }
  const action = secret.kind === "link" ? secret.target.split("?")[0]! : secret.target;
  const form = new URLSearchParams({ csrf_token: attempt.csrf!.token });
  if (secret.kind === "link") form.set("key", secret.value);
  const response = await server.request("POST", action, {
    token: null,
    clientIP: ip,
    cookie: attempt.csrf!.cookie,
    body: form,
  });
  assert.ok(
    response.status === 303 || response.status === 404,
    `${secret.name}: ${response.status} ${response.text}`,
  );
  if (response.status === 303) {
    assert.ok(response.headers.getSetCookie().some((cookie) => cookie.startsWith("rekey_recovery=")));
  }
  return response.status === 303;
}

async function raceRedemptions(t: TestContext, servers: RekeyProcess[], sizes: ReplicaSizes): Promise<void> {
  const secrets = await issueSecrets(servers, sizes.secrets);
  const attempts: Attempt[] = Array.from({ length: sizes.attempts }, (_, n) => ({
    secret: secrets[n % secrets.length]!,
    server: servers[Math.floor(n / secrets.length) % 2]!,
    ip: clientIP(n + 1),
  }));
  const ready = await inParallel(attempts, 16, prepare);
  // Every attempt is in flight at once, over fresh sockets to both processes.
  const outcomes = await Promise.all(ready.map(redeem));
  const wins = new Map<string, number>(secrets.map((secret) => [secret.name, 0]));
  outcomes.forEach((won, n) => {
    if (won) wins.set(ready[n]!.secret.name, wins.get(ready[n]!.secret.name)! + 1);
  });
  const wrong = [...wins].filter(([, count]) => count !== 1);
  assert.deepEqual(wrong, [], "secrets without exactly one winner (name, winners)");
  for (const kind of ["code", "link", "key"] as Kind[]) {
    const mine = outcomes.filter((_, n) => ready[n]!.secret.kind === kind);
    const won = mine.filter(Boolean).length;
    t.diagnostic(`${kind}: ${mine.length} attempts, ${won} won, ${mine.length - won} refused`);
  }
}

async function drainOutbox(
  t: TestContext,
  servers: RekeyProcess[],
  databaseURL: string,
  sink: Awaited<ReturnType<typeof startMailSink>>,
  mails: number,
): Promise<void> {
  const stage = await servers[0]!.request("POST", "/api/v3/stages/email/", {
    body: { name: "replica-mail", use_global_settings: true },
  });
  assert.equal(stage.status, 201, stage.text);
  await inParallel(
    Array.from({ length: mails }, (_, i) => i),
    8,
    async (i) => {
      const server = servers[i % 2]!;
      const user = await createUser(server, `mail-${i}`);
      const sent = await server.request("POST", `/api/v3/core/users/${user.pk}/recovery_email/`, {
        body: { email_stage: stage.body.pk },
      });
      assert.equal(sent.status, 204, sent.text);
    },
  );
  const outbox = openOutbox(t, databaseURL);
  // A message is marked `sent` only after the sink acknowledged it, so once every row is `sent` every
  // delivery that will ever happen has happened: the counts below are final, not a snapshot.
  await waitFor(
    `all ${mails} mails sent`,
    async () => {
      const rows = await outbox.rows();
      return rows.length === mails && rows.every((row) => row.status === "sent");
    },
    120_000,
    200,
  );
  const counts = sink.countsBy((mail) => mail.to.join(","));
  assert.equal(counts.size, mails, "every recipient got mail");
  const twice = [...counts].filter(([, count]) => count !== 1);
  assert.deepEqual(twice, [], "recipients who got the mail more than once");
  assert.equal(sink.received.length, mails);
}

export async function replicaScenario(t: TestContext, sizes: ReplicaSizes): Promise<void> {
  const databaseURL = await freshDatabaseURL(t, "postgres");
  const sink = await startMailSink(t);
  const env = { REKEY_SMTP_URL: sink.url };
  // Started together: they race on migrations and on the bootstrap admin too.
  const servers = await Promise.all([
    startRekey(t, { databaseURL, env, name: "replica-a" }),
    startRekey(t, { databaseURL, env, name: "replica-b" }),
  ]);
  await t.test(`${sizes.attempts} redemptions of ${3 * sizes.secrets} secrets: one winner each`, (sub) =>
    raceRedemptions(sub, servers, sizes),
  );
  await t.test(`${sizes.mails} queued mails, two couriers: each delivered once`, (sub) =>
    drainOutbox(sub, servers, databaseURL, sink, sizes.mails),
  );
}
