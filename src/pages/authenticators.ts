import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import QRCode from "qrcode";
import type { AppDeps } from "../app.js";
import {
  confirmTOTPDevice,
  createTOTPDevice,
  LOW_BACKUP_CODES,
  mayChangeSecondFactors,
  regenerateBackupCodes,
} from "../authenticators/service.js";
import type { TOTPDevice } from "../authenticators/store.js";
import { createTOTPKeyURI, encodeBase32 } from "../authenticators/totp.js";
import type { Audit } from "../events/service.js";
import type { User } from "../users/store.js";
import { stepUpNeeded, stepUpPage } from "./authenticators.stepup.js";
import { CSRF_FIELD, issueCSRFToken, verifyCSRFToken } from "./csrf.js";
import { type HTML, html } from "./html.js";
import { layout, messageBlock } from "./layout.js";
import { browserSessionWithUser } from "./session.js";
import { type PagesApp, pageAudit, rejectInvalidForm, seeOther, sendPage } from "./steps.js";
import { LABELS, type Message, MESSAGES } from "./text.js";
import { PATHS } from "./views.js";

/**
 * Self-enrolment of second factors for a signed-in browser (cookie `rekey_session`): an
 * authenticator app (TOTP, confirmed by its first code) and a set of backup codes, shown once.
 * Plain forms, no JavaScript; the QR code is an inline SVG image (`img-src 'self' data:`).
 */

export const ENROL_PATHS = { totp: "/if/user/totp/", backupCodes: "/if/user/backup-codes/" } as const;

function info(id: number, text: string): Message {
  return { id, type: "info", text };
}

/** This page's texts, in Rekey's own id range (text.ts explains the ranges). */
const TEXT = {
  totpTitle: info(1902001, "Set up an authenticator app"),
  totpScan: info(
    1902002,
    "Scan this QR code with your authenticator app, or type the key below into it. Then enter the code it shows.",
  ),
  totpKey: info(1902003, "Key"),
  totpConfirm: info(1902004, "Confirm"),
  totpDone: { id: 1902005, type: "success", text: "Your authenticator app is set up." } as Message,
  qrAlt: info(1902006, "QR code for your authenticator app"),
  backupTitle: info(1902007, "Backup codes"),
  backupExplained: info(
    1902008,
    "Each backup code works once, when you cannot use your authenticator app. New codes replace all earlier ones.",
  ),
  backupGenerate: info(1902009, "Generate new backup codes"),
  backupShownOnce: info(1902010, "Save these codes somewhere safe now: they are not shown again."),
  backToAccount: info(1902011, "Back to your account"),
} as const;

function backupCodesLeft(count: number): Message {
  return info(1902012, `You have ${count} unused backup code${count === 1 ? "" : "s"} left.`);
}

function backupCodesLow(count: number): Message {
  return {
    id: 1902013,
    type: "error",
    text: `Only ${count} backup code${count === 1 ? "" : "s"} left. Generate new ones.`,
  };
}

/**
 * The user behind `rekey_session` if this session may change their second factors; otherwise the
 * answer already sent: the sign-in page without a session, the step-up page below aal2.
 */
async function enrollingUser(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  path: string,
): Promise<User | FastifyReply> {
  const signedIn = await browserSessionWithUser(deps, request);
  if (signedIn === null) {
    return seeOther(reply, PATHS.login);
  }
  if (!mayChangeSecondFactors(signedIn)) {
    return stepUpNeeded(deps, reply, path);
  }
  return signedIn.user;
}

function isReply(value: User | FastifyReply): value is FastifyReply {
  return !("username" in value);
}

/** Events of these pages name the signed-in user as the actor. */
function userAudit(request: FastifyRequest, user: User): Audit {
  return { ...pageAudit(request), actor: { pk: user.id, username: user.username, email: user.email } };
}

function link(href: string, label: Message): HTML {
  return html`<p class="links"><a href="${href}">${label.text}</a></p>`;
}

function postForm(action: string, csrfToken: string, fields: HTML, submit: Message): HTML {
  return html`<form method="post" action="${action}">
<input type="hidden" name="${CSRF_FIELD}" value="${csrfToken}">
${fields}
<button type="submit">${submit.text}</button>
</form>`;
}

interface Enrolment {
  device: TOTPDevice;
  secret: Uint8Array;
}

/**
 * The user's enrolment in progress: the unconfirmed device they already have (a reload shows the
 * same key, and abandoned attempts do not pile up), else a new one with a fresh 20-byte secret.
 */
async function pendingEnrolment(deps: AppDeps, request: FastifyRequest, user: User): Promise<Enrolment> {
  const devices = await deps.persistence.stores.totpDevices.userTOTPDevices(user.tenantId, user.id, {
    includeUnconfirmed: true,
  });
  const pending = devices.filter((device) => !device.confirmed).at(-1);
  const sealed =
    pending === undefined ? null : deps.totpSecrets.open(pending.secretSealed, pending.secretSecretIndex);
  if (pending !== undefined && sealed !== null) {
    return { device: pending, secret: Buffer.from(sealed, "base64") };
  }
  const secret = deps.random.bytes(20);
  const { device } = await createTOTPDevice(deps, userAudit(request, user), {
    user,
    name: "Authenticator app",
    digits: 6,
    period: 30,
    algorithm: "sha1",
    secret,
    confirmed: false,
  });
  return { device, secret };
}

/** The key as people type it: base32 in groups of four. */
function groupedKey(secret: Uint8Array): string {
  return (encodeBase32(secret).match(/.{1,4}/g) ?? []).join(" ");
}

async function renderEnrolment(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  user: User,
  enrolment: Enrolment,
  messages: readonly Message[],
): Promise<FastifyReply> {
  const { device, secret } = enrolment;
  const uri = createTOTPKeyURI({
    issuer: deps.config.brandTitle,
    account: user.username,
    secret,
    algorithm: device.algorithm,
    digits: device.digits,
    period: device.period,
  });
  const svg = await QRCode.toString(uri, { type: "svg", margin: 2, errorCorrectionLevel: "M" });
  const qr = `data:image/svg+xml;base64,${Buffer.from(svg).toString("base64")}`;
  const fields = html`<p>${TEXT.totpScan.text}</p>
<p><img src="${qr}" alt="${TEXT.qrAlt.text}" width="200" height="200"></p>
<p>${TEXT.totpKey.text}: <code id="totp-secret">${groupedKey(secret)}</code></p>
<input type="hidden" name="device" value="${device.id}">
<div class="field">
<label for="code">${LABELS.authenticationCode.text}</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="64" autofocus>
</div>`;
  const body = html`${postForm(ENROL_PATHS.totp, issueCSRFToken(deps, request, reply), fields, TEXT.totpConfirm)}
${link(PATHS.user, TEXT.backToAccount)}`;
  return sendPage(
    reply,
    200,
    layout({ title: TEXT.totpTitle, brand: deps.config.brandTitle, messages, body }),
  );
}

const ConfirmForm = Type.Object({
  csrf_token: Type.String(),
  device: Type.Optional(Type.String({ maxLength: 20 })),
  code: Type.Optional(Type.String({ maxLength: 64 })),
});
const GenerateForm = Type.Object({ csrf_token: Type.String() });

export function authenticatorPages(app: PagesApp, deps: AppDeps): void {
  const stores = deps.persistence.stores;
  stepUpPage(app, deps, [ENROL_PATHS.totp, ENROL_PATHS.backupCodes]);

  app.get(ENROL_PATHS.totp, { schema: { hide: true } }, async function showTOTPEnrolment(request, reply) {
    const user = await enrollingUser(deps, request, reply, ENROL_PATHS.totp);
    if (isReply(user)) return user;
    return renderEnrolment(deps, request, reply, user, await pendingEnrolment(deps, request, user), []);
  });

  app.post(
    ENROL_PATHS.totp,
    {
      schema: { hide: true, body: ConfirmForm },
      attachValidation: true,
      preHandler: [verifyCSRFToken, rejectInvalidForm],
    },
    async function confirmTOTPEnrolment(request, reply) {
      const user = await enrollingUser(deps, request, reply, ENROL_PATHS.totp);
      if (isReply(user)) return user;
      const id = /^\d{1,9}$/.test(request.body.device ?? "") ? Number(request.body.device) : null;
      const device = id === null ? null : await stores.totpDevices.findTOTPDevice(user.tenantId, id);
      const sealed =
        device === null ? null : deps.totpSecrets.open(device.secretSealed, device.secretSecretIndex);
      // Not this user's enrolment in progress (another user's, confirmed meanwhile, gone): start again.
      if (device === null || device.userId !== user.id || device.confirmed || sealed === null) {
        return seeOther(reply, ENROL_PATHS.totp);
      }
      if (!(await confirmTOTPDevice(deps, userAudit(request, user), device, request.body.code ?? ""))) {
        return renderEnrolment(
          deps,
          request,
          reply,
          user,
          { device, secret: Buffer.from(sealed, "base64") },
          [MESSAGES.invalidCode],
        );
      }
      const body = html`${link(ENROL_PATHS.backupCodes, TEXT.backupTitle)}${link(PATHS.user, TEXT.backToAccount)}`;
      return sendPage(
        reply,
        200,
        layout({ title: TEXT.totpTitle, brand: deps.config.brandTitle, messages: [TEXT.totpDone], body }),
      );
    },
  );

  app.get(
    ENROL_PATHS.backupCodes,
    { schema: { hide: true } },
    async function showBackupCodes(request, reply) {
      const user = await enrollingUser(deps, request, reply, ENROL_PATHS.backupCodes);
      if (isReply(user)) return user;
      const sets = await stores.staticDevices.userStaticDevices(user.tenantId, user.id);
      const left = sets.reduce((sum, set) => sum + set.unusedCount, 0);
      const body = html`<p>${TEXT.backupExplained.text}</p>
${postForm(ENROL_PATHS.backupCodes, issueCSRFToken(deps, request, reply), html``, TEXT.backupGenerate)}
${link(PATHS.user, TEXT.backToAccount)}`;
      const low = sets.length > 0 && left <= LOW_BACKUP_CODES;
      const messages =
        sets.length === 0 ? [] : [backupCodesLeft(left), ...(low ? [backupCodesLow(left)] : [])];
      return sendPage(
        reply,
        200,
        layout({ title: TEXT.backupTitle, brand: deps.config.brandTitle, messages, body }),
      );
    },
  );

  app.post(
    ENROL_PATHS.backupCodes,
    {
      schema: { hide: true, body: GenerateForm },
      attachValidation: true,
      preHandler: [verifyCSRFToken, rejectInvalidForm],
    },
    async function generateBackupCodes(request, reply) {
      const user = await enrollingUser(deps, request, reply, ENROL_PATHS.backupCodes);
      if (isReply(user)) return user;
      // The codes exist in clear only in this answer (no-store, set for every page): only HMACs are kept.
      const { codes } = await regenerateBackupCodes(deps, userAudit(request, user), user);
      const body = html`<ol class="backup-codes">${codes.map((code) => html`<li><code>${code}</code></li>`)}</ol>
${link(PATHS.user, TEXT.backToAccount)}`;
      return sendPage(
        reply,
        200,
        layout({
          title: TEXT.backupTitle,
          brand: deps.config.brandTitle,
          messages: [TEXT.backupShownOnce],
          body,
        }),
      );
    },
  );
}

/**
 * The account page's second-factor part: links to both enrolment pages and, when a user with backup
 * codes is down to LOW_BACKUP_CODES unused ones or fewer, a warning to generate new ones.
 */
export async function accountSecondFactors(deps: AppDeps, user: User): Promise<HTML> {
  const sets = await deps.persistence.stores.staticDevices.userStaticDevices(user.tenantId, user.id);
  const left = sets.reduce((sum, set) => sum + set.unusedCount, 0);
  const low = sets.length > 0 && left <= LOW_BACKUP_CODES;
  return html`${low && messageBlock(backupCodesLow(left))}
${link(ENROL_PATHS.totp, TEXT.totpTitle)}
${link(ENROL_PATHS.backupCodes, TEXT.backupTitle)}`;
}
