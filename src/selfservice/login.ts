import { useBackupCode } from "../authenticators/service.js";
import { acceptTOTPCode } from "../authenticators/totp.js";
import type { CoreDeps } from "../deps.js";
import { writeTogether } from "../db/write-together.js";
import { recordEvent } from "../events/service.js";
import { SYSTEM_ACTOR } from "../events/store.js";
import { assertWithinLimit, consumeLimit, LIMITS } from "../ratelimit/service.js";
import { decoy } from "../sessions/login.js";
import { issueSession } from "../sessions/service.js";
import type { AssuranceLevel, Session } from "../sessions/store.js";
import { verifyPassword } from "../users/passwords.js";
import type { UserProfile } from "../users/store.js";
import {
  AssuranceLevelReached,
  FirstFactorRequired,
  FlowExpired,
  FlowNotFound,
  SessionAlreadyAvailable,
} from "./errors.js";
import {
  checkFlowCSRF,
  FLOW_LIFETIME_MS,
  type FlowRequest,
  replacementCSRF,
  type SignedIn,
} from "./flows.js";
import { flowExpired, MESSAGES, propertyMissing } from "./messages.js";
import { secondFactorsOf } from "./sessions.js";
import type { FlowMessage, FlowType, LoginFlow } from "./store.js";

/**
 * The login flow (kratos.md §3.6.5): the password method signs in at aal1, which is how a recovered
 * user proves that access is back; an aal2 flow raises the presented session with a TOTP or backup
 * code. An identity without a second factor asking for aal2 is told the truth: its session already
 * has the highest level it can reach.
 */

export interface LoginBody {
  method: string;
  identifier: string;
  password: string;
  totpCode: string;
  lookupSecret: string;
  csrfToken: string;
}

export type LoginOutcome =
  | { kind: "flow"; flow: LoginFlow; status: 400 }
  /** `token` is the secret to hand out; null when the presented session was refreshed (same secret). */
  | { kind: "signed_in"; flow: LoginFlow; user: UserProfile; session: Session; token: string | null };

async function createLoginFlow(
  deps: CoreDeps,
  input: {
    tenantId: string;
    type: FlowType;
    requestURL: string;
    returnTo: string | null;
    refresh: boolean;
    aal: AssuranceLevel;
    sessionId: string | null;
    csrfHash: string | null;
    messages: FlowMessage[];
  },
): Promise<LoginFlow> {
  const now = deps.clock.now();
  const flow: LoginFlow = {
    id: deps.random.uuid(),
    tenantId: input.tenantId,
    type: input.type,
    requestURL: input.requestURL,
    returnTo: input.returnTo,
    refresh: input.refresh,
    requestedAAL: input.aal,
    state: "choose_method",
    sessionId: input.sessionId,
    csrfHash: input.type === "browser" ? input.csrfHash : null,
    messages: input.messages,
    issuedAt: now,
    expiresAt: new Date(now.getTime() + FLOW_LIFETIME_MS),
    updatedAt: now,
  };
  await deps.persistence.stores.loginFlows.createLoginFlow(flow);
  return flow;
}

/**
 * `GET /self-service/login/{browser,api}`: aal2 needs a session; a session needs `refresh` or a
 * higher level to sign in again.
 */
export async function initLoginFlow(
  deps: CoreDeps,
  request: FlowRequest,
  input: {
    type: FlowType;
    refresh: boolean;
    aal: AssuranceLevel;
    returnTo: string | null;
    csrfHash: string | null;
  },
): Promise<LoginFlow> {
  const signedIn = request.session;
  const messages: FlowMessage[] = [];
  if (signedIn === null) {
    if (input.aal === "aal2") {
      throw new FirstFactorRequired();
    }
  } else if (input.refresh) {
    messages.push(MESSAGES.reauthenticate);
  } else if (input.aal === "aal1") {
    throw new SessionAlreadyAvailable("login");
  } else {
    const factors = await secondFactorsOf(deps.persistence.stores, request.tenantId, signedIn.user.id);
    if (signedIn.session.aal === "aal2" || (!factors.totp && !factors.lookupSecret)) {
      throw new AssuranceLevelReached();
    }
    messages.push(MESSAGES.secondFactor);
  }
  return createLoginFlow(deps, {
    tenantId: request.tenantId,
    type: input.type,
    requestURL: request.requestURL,
    returnTo: input.returnTo,
    refresh: signedIn !== null && input.refresh,
    aal: input.aal,
    sessionId: input.aal === "aal2" && signedIn !== null ? signedIn.session.id : null,
    csrfHash: input.csrfHash,
    messages,
  });
}

export async function findLoginFlowOrThrow(deps: CoreDeps, tenantId: string, id: string): Promise<LoginFlow> {
  const flow = await deps.persistence.stores.loginFlows.findLoginFlow(tenantId, id);
  if (flow === null) {
    throw new FlowNotFound("login");
  }
  return flow;
}

async function refuse(deps: CoreDeps, flow: LoginFlow, messages: FlowMessage[]): Promise<LoginOutcome> {
  const now = deps.clock.now();
  await deps.persistence.stores.loginFlows.updateLoginFlow(flow.tenantId, flow.id, { messages }, now);
  return { kind: "flow", flow: { ...flow, messages, updatedAt: now }, status: 400 };
}

async function replaceExpired(deps: CoreDeps, request: FlowRequest, flow: LoginFlow): Promise<FlowExpired> {
  const csrf = flow.type === "browser" ? replacementCSRF(deps, request) : { hash: null, csrfCookie: null };
  const fresh = await createLoginFlow(deps, {
    tenantId: flow.tenantId,
    type: flow.type,
    requestURL: flow.requestURL,
    returnTo: flow.returnTo,
    refresh: flow.refresh,
    aal: flow.requestedAAL,
    sessionId: flow.sessionId,
    csrfHash: csrf.hash,
    messages: [flowExpired("login", flow.expiresAt, deps.clock.now())],
  });
  return new FlowExpired("login", flow.expiresAt, { flow: fresh, csrfCookie: csrf.csrfCookie });
}

/** `POST /self-service/login?flow=`: expiry, CSRF, state, session, method, then the password. */
export async function submitLoginFlow(
  deps: CoreDeps,
  request: FlowRequest,
  flowId: string,
  body: LoginBody,
): Promise<LoginOutcome> {
  const flow = await findLoginFlowOrThrow(deps, request.tenantId, flowId);
  if (flow.expiresAt <= deps.clock.now()) {
    throw await replaceExpired(deps, request, flow);
  }
  checkFlowCSRF(flow, request, body.csrfToken);
  if (flow.state === "passed_challenge") {
    return refuse(deps, flow, [MESSAGES.loginAlreadyCompleted]);
  }
  if (request.session !== null && !flow.refresh && flow.requestedAAL === "aal1") {
    throw new SessionAlreadyAvailable("login");
  }
  if (flow.requestedAAL === "aal2") {
    return secondFactorLogin(deps, request, flow, body);
  }
  if (body.method !== "password") {
    return refuse(deps, flow, [MESSAGES.loginNoStrategy]);
  }
  const missing: FlowMessage[] = [];
  if (body.identifier === "") missing.push(propertyMissing("identifier"));
  if (body.password === "") missing.push(propertyMissing("password"));
  if (missing.length > 0) {
    return refuse(deps, flow, missing);
  }
  return loginWithPasswordMethod(deps, request, flow, body);
}

/**
 * Failures are rate limited per client and per account; one argon2id verify whether or not the
 * identifier names a user, so wrong identifier and wrong password cost and look the same (4000006). A right
 * password of a deactivated identity says so (4010011).
 */
async function loginWithPasswordMethod(
  deps: CoreDeps,
  request: FlowRequest,
  flow: LoginFlow,
  body: LoginBody,
): Promise<LoginOutcome> {
  const stores = deps.persistence.stores;
  await assertWithinLimit(deps, stores.rateLimits, request.tenantId, LIMITS.loginPerIP, request.clientIP);
  const named = await stores.users.findSignInUser(request.tenantId, body.identifier);
  const user = named?.user ?? null;
  // Per account means per user whatever name was typed; an unknown identifier counts as itself.
  const account = user === null ? `name:${body.identifier}` : `user:${user.id}`;
  await assertWithinLimit(deps, stores.rateLimits, request.tenantId, LIMITS.loginPerAccount, account);
  const stored = named?.passwordHash ?? null;
  const matches = await verifyPassword(stored ?? (await decoy(deps)), body.password);
  if (user === null || stored === null || !matches) {
    // Only failures count against the limits (kratos.md §3.6.5), and each one is on the record.
    await consumeLimit(deps, stores.rateLimits, request.tenantId, LIMITS.loginPerIP, request.clientIP);
    await consumeLimit(deps, stores.rateLimits, request.tenantId, LIMITS.loginPerAccount, account);
    const actor = user === null ? SYSTEM_ACTOR : { pk: user.id, username: user.username, email: user.email };
    await recordEvent(deps, stores.events, { ...request.audit, actor }, "login_failed", {
      username: body.identifier,
      stage: "password",
    });
    return refuse(deps, flow, [MESSAGES.loginFailed]);
  }
  if (!user.isActive) {
    return refuse(deps, flow, [MESSAGES.identityDisabled]);
  }
  // Plain writes to four tables, none reading another's effect: one statement on PostgreSQL.
  const now = deps.clock.now();
  let session!: Session;
  let token: string | null = null;
  await writeTogether(deps, async (tx) => {
    const current = request.session;
    token = null;
    if (flow.refresh && current !== null && current.user.id === user.id) {
      // Refreshing keeps the session (and its secret) and renews when it authenticated.
      const methods = [...current.session.authMethods, "password"];
      await tx.sessions.elevateSession(current.session.id, current.session.aal, methods, now);
      session = { ...current.session, authMethods: methods, authenticatedAt: now, lastSeenAt: now };
    } else {
      const issued = await issueSession(deps, tx, {
        tenantId: request.tenantId,
        userId: user.id,
        kind: flow.type,
        aal: "aal1",
        authMethods: ["password"],
        client: { ipAddress: request.clientIP, userAgent: request.userAgent },
      });
      session = issued.session;
      token = issued.token;
    }
    await tx.users.recordLogin(request.tenantId, user.id, now);
    await tx.loginFlows.updateLoginFlow(
      request.tenantId,
      flow.id,
      { state: "passed_challenge", messages: [] },
      now,
    );
    const actor = { pk: user.id, username: user.username, email: user.email };
    await recordEvent(deps, tx.events, { ...request.audit, actor }, "login", { auth_method: "password" });
  });
  return {
    kind: "signed_in",
    flow: { ...flow, state: "passed_challenge", messages: [], updatedAt: now },
    user,
    session,
    token,
  };
}

/**
 * Checks a second factor of a signed-in identity and, when right, raises the session to aal2 with
 * the method added and `authenticated_at` renewed (kratos.md §3.6.4–§3.6.5). Rate limited per client
 * and per identity; a wrong code is recorded as `login_failed`. Null when the code is wrong.
 */
export async function proveSecondFactor(
  deps: CoreDeps,
  request: Pick<FlowRequest, "tenantId" | "audit" | "clientIP">,
  signedIn: Pick<SignedIn, "session" | "user">,
  method: "totp" | "lookup_secret",
  code: string,
): Promise<Session | null> {
  const stores = deps.persistence.stores;
  const { user, session } = signedIn;
  const account = `user:${user.id}`;
  await assertWithinLimit(deps, stores.rateLimits, request.tenantId, LIMITS.loginPerIP, request.clientIP);
  await assertWithinLimit(deps, stores.rateLimits, request.tenantId, LIMITS.loginPerAccount, account);
  const accepted =
    method === "totp"
      ? (await acceptTOTPCode(
          deps,
          stores,
          await stores.totpDevices.userTOTPDevices(user.tenantId, user.id),
          code,
        )) !== null
      : await useBackupCode(deps, stores, user, code);
  const audit = { ...request.audit, actor: { pk: user.id, username: user.username, email: user.email } };
  if (!accepted) {
    await consumeLimit(deps, stores.rateLimits, request.tenantId, LIMITS.loginPerIP, request.clientIP);
    await consumeLimit(deps, stores.rateLimits, request.tenantId, LIMITS.loginPerAccount, account);
    await recordEvent(deps, stores.events, audit, "login_failed", { username: user.username, stage: method });
    return null;
  }
  const now = deps.clock.now();
  const methods = [...session.authMethods, method];
  await deps.persistence.transaction(async (tx) => {
    await tx.sessions.elevateSession(session.id, "aal2", methods, now);
    await recordEvent(deps, tx.events, audit, "login", { auth_method: method });
  });
  return { ...session, aal: "aal2", authMethods: methods, authenticatedAt: now, lastSeenAt: now };
}

/** An aal2 flow: the presented session proves a second factor (totp or lookup_secret). */
async function secondFactorLogin(
  deps: CoreDeps,
  request: FlowRequest,
  flow: LoginFlow,
  body: LoginBody,
): Promise<LoginOutcome> {
  const signedIn = request.session;
  if (signedIn === null || signedIn.session.id !== flow.sessionId) {
    throw new FirstFactorRequired();
  }
  const field =
    body.method === "totp" ? "totp_code" : body.method === "lookup_secret" ? "lookup_secret" : null;
  if (field === null) {
    return refuse(deps, flow, [MESSAGES.loginNoStrategy]);
  }
  const code = (field === "totp_code" ? body.totpCode : body.lookupSecret).trim();
  if (code === "") {
    return refuse(deps, flow, [propertyMissing(field)]);
  }
  const method = body.method as "totp" | "lookup_secret";
  const session = await proveSecondFactor(deps, request, signedIn, method, code);
  if (session === null) {
    return refuse(deps, flow, [method === "totp" ? MESSAGES.totpInvalid : MESSAGES.backupCodeInvalid]);
  }
  const now = deps.clock.now();
  await deps.persistence.stores.loginFlows.updateLoginFlow(
    request.tenantId,
    flow.id,
    { state: "passed_challenge", messages: [] },
    now,
  );
  return {
    kind: "signed_in",
    flow: { ...flow, state: "passed_challenge", messages: [], updatedAt: now },
    user: signedIn.user,
    session,
    token: null,
  };
}
