import { Secret, TOTP } from "otpauth";
import { call, type PeerOperation, poolCursor } from "./drive.js";
import { clientAddress, inParallel, recoveredSessionToken } from "../lib/seed.js";
import type { PeerOperations } from "./operations.js";

/**
 * Rekey's side of the comparison: users made through the authentik API, a TOTP device per user with
 * a secret the bench knows, a Kratos session per user (admin recovery code, redeemed through the
 * self-service flow: no password hash in setup), an aal2 login flow per session, and a Kratos api
 * recovery flow per password-reset request. Client addresses are spread with X-Forwarded-For
 * (REKEY_TRUST_PROXY=true) so Rekey's per-address rate limits see many clients, as in production.
 */

interface RekeyUser {
  pk: number;
  uuid: string;
  email: string;
  totp: TOTP | null;
  sessionToken: string;
  aal2Flow: string;
}

function adminJSON(adminToken: string): Record<string, string> {
  return { authorization: `Bearer ${adminToken}`, "content-type": "application/json" };
}

async function createUser(origin: string, adminToken: string, runId: string, index: number) {
  const username = `peer-${runId}-${index}`;
  const { body } = await call(
    `${origin}/api/v3/core/users/`,
    {
      method: "POST",
      headers: adminJSON(adminToken),
      body: JSON.stringify({ username, name: `Peer ${index}`, email: `${username}@example.com` }),
    },
    201,
  );
  const user = JSON.parse(body) as { pk: number; uuid: string; email: string };
  return { pk: user.pk, uuid: user.uuid, email: user.email };
}

async function addTOTPDevice(origin: string, adminToken: string, pk: number): Promise<TOTP> {
  const secret = new Secret({ size: 20 });
  await call(
    `${origin}/api/v3/authenticators/admin/totp/`,
    {
      method: "POST",
      headers: adminJSON(adminToken),
      body: JSON.stringify({ name: "bench", user: pk, secret: secret.base32 }),
    },
    201,
  );
  return new TOTP({ secret, digits: 6, period: 30, algorithm: "SHA1" });
}

async function aal2Flow(origin: string, sessionToken: string): Promise<string> {
  const { body } = await call(
    `${origin}/self-service/login/api?aal=aal2`,
    { headers: { "x-session-token": sessionToken, accept: "application/json" } },
    200,
  );
  return (JSON.parse(body) as { id: string }).id;
}

async function recoveryFlow(origin: string): Promise<string> {
  const { body } = await call(
    `${origin}/self-service/recovery/api`,
    { headers: { accept: "application/json" } },
    200,
  );
  return (JSON.parse(body) as { id: string }).id;
}

/** Makes `pool + 1` users (the last one reads) and everything the operations use once. */
export async function prepareRekey(
  origin: string,
  adminToken: string,
  runId: string,
  pool: number,
  counts: { amount: number; warmupAmount: number },
): Promise<PeerOperations> {
  const users: RekeyUser[] = await inParallel(pool + 1, async (index) => {
    const user = await createUser(origin, adminToken, runId, index);
    // The reader has no second factor, so its aal1 session is its highest level for /sessions/whoami.
    const stepUp = index < pool;
    const totp = stepUp ? await addTOTPDevice(origin, adminToken, user.pk) : null;
    const sessionToken = await recoveredSessionToken(origin, adminToken, user.uuid, clientAddress(index));
    const aal2 = stepUp ? await aal2Flow(origin, sessionToken) : "";
    return { ...user, totp, sessionToken, aal2Flow: aal2 };
  });
  const reader = users[pool]!;
  const stepUps = users.slice(0, pool);
  const recoveryFlows = await inParallel(pool, () => recoveryFlow(origin));
  // Each address is asked for at most once per run: Rekey allows 5 an hour per address.
  const nextRecovery = poolCursor(
    "recovery flow",
    recoveryFlows.map((flow, index) => ({ flow, index })),
  );
  const nextStepUp = poolCursor("aal2 flow", stepUps);
  let tokenSequence = 0;
  const pooled = (next: PeerOperation["next"], expectStatus: number): PeerOperation => ({
    next,
    expectStatus,
    amount: counts.amount,
    warmupAmount: counts.warmupAmount,
  });
  const timed = (next: PeerOperation["next"], expectStatus: number): PeerOperation => ({
    next,
    expectStatus,
    amount: null,
    warmupAmount: 0,
  });
  return {
    sessionRead: timed(
      () => ({
        method: "GET",
        path: "/api/v3/core/users/me/",
        headers: { authorization: `Bearer ${adminToken}` },
      }),
      200,
    ),
    kratosWhoami: timed(
      () => ({
        method: "GET",
        path: "/sessions/whoami",
        headers: { "x-session-token": reader.sessionToken },
      }),
      200,
    ),
    apiKeyCreate: timed(() => {
      tokenSequence += 1;
      return {
        method: "POST",
        path: "/api/v3/core/tokens/",
        headers: adminJSON(adminToken),
        body: JSON.stringify({
          identifier: `peer-${runId}-${tokenSequence}`,
          intent: "api",
          description: "bench",
          expiring: true,
        }),
      };
    }, 201),
    passwordResetRequest: pooled(() => {
      const { flow, index } = nextRecovery();
      return {
        method: "POST",
        path: `/self-service/recovery?flow=${flow}`,
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          "x-forwarded-for": clientAddress(index),
        },
        body: JSON.stringify({ method: "code", email: stepUps[index % stepUps.length]!.email }),
      };
    }, 200),
    totpVerify: pooled(() => {
      const user = nextStepUp();
      return {
        method: "POST",
        path: `/self-service/login?flow=${user.aal2Flow}`,
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          "x-session-token": user.sessionToken,
        },
        // The code is computed as the request leaves, so a step boundary during the run is harmless.
        body: JSON.stringify({ method: "totp", totp_code: user.totp!.generate() }),
      };
    }, 200),
  };
}
