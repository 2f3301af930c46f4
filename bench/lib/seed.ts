import type { BenchContext } from "./scenarios.js";

const IN_FLIGHT = 8;

/**
 * A client address per operation in 198.18.0.0/15 (RFC 2544's benchmarking range), sent as
 * X-Forwarded-For to a server started with REKEY_TRUST_PROXY=true: the per-address limits on
 * consuming secrets (60 per 10 minutes) are counted, as for real users behind a proxy, but a
 * benchmark from one address does not hit them. No traffic goes to these addresses.
 */
export function clientAddress(sequence: number): string {
  const n = sequence % 131_072;
  return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

/** A user made through the API: its authentik pk and its uuid (the Kratos identity id). */
export interface SeededUser {
  pk: number;
  uuid: string;
  username: string;
}

/** POST with akadmin's token; throws, with the answer, unless the status is `expect`. */
export async function callAPI(
  context: BenchContext,
  path: string,
  body: unknown,
  expect: number,
  headers: Record<string, string> = {},
): Promise<unknown> {
  const response = await fetch(`${context.rekeyURL}${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${context.adminToken}`,
      "content-type": "application/json",
      ...headers,
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expect) {
    throw new Error(`POST ${path} answered ${response.status}, not ${expect}: ${text.slice(0, 300)}`);
  }
  return text === "" ? null : JSON.parse(text);
}

export async function createUser(context: BenchContext, username: string, name: string): Promise<SeededUser> {
  const user = (await callAPI(
    context,
    "/api/v3/core/users/",
    { username, name, email: `${username}@example.com` },
    201,
  )) as { pk: number; uuid: string };
  return { pk: user.pk, uuid: user.uuid, username };
}

/**
 * Runs `task(0 … count-1)`, `inFlight` at a time (IN_FLIGHT unless said), the way an operator's script
 * would; results in order.
 */
export async function inParallel<T>(
  count: number,
  task: (index: number) => Promise<T>,
  inFlight = IN_FLIGHT,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < count) {
      const index = next;
      next += 1;
      results[index] = await task(index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
  return results;
}

/** Creates `count` users through POST /api/v3/core/users/ and returns them. */
export async function seedUserRecords(context: BenchContext, count: number): Promise<SeededUser[]> {
  return inParallel(count, (index) => {
    const username = `bench-user-${String(index).padStart(5, "0")}`;
    return createUser(context, username, `Bench User ${index}`);
  });
}

/**
 * Creates `count` users through the API, so the scenarios run on a table that is not empty.
 * Resolves to the seconds it took.
 */
export async function seedUsers(context: BenchContext, count: number): Promise<number> {
  const started = performance.now();
  await seedUserRecords(context, count);
  return (performance.now() - started) / 1000;
}

/** Gives each user `password` through POST /api/v3/core/users/{id}/set_password/ (one argon2id hash each). */
export async function setPasswords(
  context: BenchContext,
  users: SeededUser[],
  password: string,
): Promise<void> {
  await inParallel(users.length, (index) =>
    callAPI(context, `/api/v3/core/users/${users[index]!.pk}/set_password/`, { password }, 204),
  );
}

/**
 * A Kratos aal1 session token for the identity, with no password (so no argon2 hash to prepare):
 * an admin recovery code redeemed in its api flow, from client `address` when given (each its own,
 * so the per-address redemption limit is not what a bench measures).
 */
export async function recoveredSessionToken(
  origin: string,
  adminToken: string,
  identityId: string,
  address?: string,
): Promise<string> {
  const post = async (path: string, body: unknown, expect: number, headers: Record<string, string>) => {
    const response = await fetch(`${origin}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...headers },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status !== expect) {
      throw new Error(`POST ${path} answered ${response.status}, not ${expect}: ${text.slice(0, 300)}`);
    }
    return JSON.parse(text) as unknown;
  };
  const code = (await post("/admin/recovery/code", { identity_id: identityId, flow_type: "api" }, 201, {
    authorization: `Bearer ${adminToken}`,
  })) as { recovery_link: string; recovery_code: string };
  const flow = new URL(code.recovery_link).searchParams.get("flow");
  const redeemed = (await post(
    `/self-service/recovery?flow=${flow}`,
    { method: "code", code: code.recovery_code },
    200,
    address === undefined ? {} : { "x-forwarded-for": address },
  )) as { continue_with?: { action: string; ory_session_token?: string }[] };
  const token = redeemed.continue_with?.find(
    (step) => step.action === "set_ory_session_token",
  )?.ory_session_token;
  if (token === undefined) {
    throw new Error(`redeeming a recovery code of ${identityId} gave no session token`);
  }
  return token;
}
