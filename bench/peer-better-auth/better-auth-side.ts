import { type TOTP, URI } from "otpauth";
import { call, type PeerOperation, poolCursor } from "./drive.js";
import { inParallel } from "../lib/seed.js";
import type { PeerOperations } from "./operations.js";

/**
 * better-auth's side: users signed up through its email-and-password endpoint, two-factor enabled on
 * each (its TOTP URI kept), then each signed in again so it holds a pending two-factor challenge (the
 * signed `two_factor` cookie), the counterpart of Rekey's aal2 flow on an aal1 session. Every POST
 * carries an Origin of the server itself, as a browser on that origin would.
 */

const PASSWORD = "peer-bench-password-1";

interface PeerUser {
  email: string;
  bearer: string;
  totp: TOTP | null;
  challengeCookie: string;
}

function jsonPost(origin: string, extra: Record<string, string> = {}): Record<string, string> {
  return { "content-type": "application/json", origin, ...extra };
}

function cookieValue(headers: Headers, name: string): string {
  for (const line of headers.getSetCookie()) {
    const match = new RegExp(`^${name.replaceAll(".", "\\.")}=([^;]+)`).exec(line);
    if (match !== null) return match[1]!;
  }
  throw new Error(`no ${name} cookie was set`);
}

async function signUp(origin: string, email: string, index: number): Promise<string> {
  const { headers } = await call(
    `${origin}/api/auth/sign-up/email`,
    {
      method: "POST",
      headers: jsonPost(origin),
      body: JSON.stringify({ email, password: PASSWORD, name: `Peer ${index}` }),
    },
    200,
  );
  // The bearer plugin hands the signed session token out in this header (its documented way).
  const bearer = headers.get("set-auth-token");
  if (bearer === null) throw new Error("sign-up set no set-auth-token header");
  return bearer;
}

async function enableTOTP(origin: string, bearer: string): Promise<TOTP> {
  const { body } = await call(
    `${origin}/api/auth/two-factor/enable`,
    {
      method: "POST",
      headers: jsonPost(origin, { authorization: `Bearer ${bearer}` }),
      body: JSON.stringify({ password: PASSWORD }),
    },
    200,
  );
  const parsed = URI.parse((JSON.parse(body) as { totpURI: string }).totpURI);
  if (!("validate" in parsed) || !("period" in parsed)) throw new Error("the TOTP URI is not a TOTP");
  return parsed as TOTP;
}

/** Signs in with the password; a user with two-factor on gets a challenge cookie, not a session. */
async function pendingChallenge(origin: string, email: string): Promise<string> {
  const { body, headers } = await call(
    `${origin}/api/auth/sign-in/email`,
    { method: "POST", headers: jsonPost(origin), body: JSON.stringify({ email, password: PASSWORD }) },
    200,
  );
  if (!body.includes('"twoFactorRedirect":true')) throw new Error(`sign-in did not ask for 2FA: ${body}`);
  return cookieValue(headers, "better-auth.two_factor");
}

/** Makes `pool + 1` users (the last one reads and creates keys) and a challenge for each of the others. */
export async function prepareBetterAuth(
  origin: string,
  runId: string,
  pool: number,
  counts: { amount: number; warmupAmount: number },
): Promise<PeerOperations> {
  const users: PeerUser[] = await inParallel(pool + 1, async (index) => {
    const email = `peer-${runId}-${index}@example.com`;
    const bearer = await signUp(origin, email, index);
    if (index === pool) return { email, bearer, totp: null, challengeCookie: "" };
    const totp = await enableTOTP(origin, bearer);
    return { email, bearer, totp, challengeCookie: await pendingChallenge(origin, email) };
  });
  const reader = users[pool]!;
  const challenged = users.slice(0, pool);
  const nextChallenge = poolCursor("two-factor challenge", challenged);
  const nextResetAddress = poolCursor("reset address", challenged);
  const pooled = (next: PeerOperation["next"], expectStatus: number): PeerOperation => ({
    next,
    expectStatus,
    amount: counts.amount,
    warmupAmount: counts.warmupAmount,
  });
  return {
    sessionRead: {
      next: () => ({
        method: "GET",
        path: "/api/auth/get-session",
        headers: { authorization: `Bearer ${reader.bearer}` },
      }),
      expectStatus: 200,
      amount: null,
      warmupAmount: 0,
    },
    apiKeyCreate: {
      next: () => ({
        method: "POST",
        path: "/api/auth/api-key/create",
        headers: jsonPost(origin, { authorization: `Bearer ${reader.bearer}` }),
        body: JSON.stringify({ name: "bench" }),
      }),
      expectStatus: 200,
      amount: null,
      warmupAmount: 0,
    },
    passwordResetRequest: pooled(
      () => ({
        method: "POST",
        path: "/api/auth/request-password-reset",
        headers: jsonPost(origin),
        body: JSON.stringify({ email: nextResetAddress().email, redirectTo: "/reset-password" }),
      }),
      200,
    ),
    totpVerify: pooled(() => {
      const user = nextChallenge();
      return {
        method: "POST",
        path: "/api/auth/two-factor/verify-totp",
        headers: jsonPost(origin, { cookie: `better-auth.two_factor=${user.challengeCookie}` }),
        body: JSON.stringify({ code: user.totp!.generate() }),
      };
    }, 200),
  };
}
