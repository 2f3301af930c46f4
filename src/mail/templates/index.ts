import { type Block, code, link, oneLine, renderHTML, renderText, text } from "./blocks.js";

/** The templates an authentik email stage may name (authentik-v3.md §3.6). */
export type StageTemplate =
  | "email/password_reset.html"
  | "email/account_confirmation.html"
  | "email/setup.html";
export const STAGE_TEMPLATES: readonly StageTemplate[] = [
  "email/password_reset.html",
  "email/account_confirmation.html",
  "email/setup.html",
];

export function isStageTemplate(value: string): value is StageTemplate {
  return (STAGE_TEMPLATES as readonly string[]).includes(value);
}

/** What an email stage's mail says: the subject comes from the stage, the rest from the user and link. */
export interface StageMailModel {
  subject: string;
  /** The recipient's display name (authentik's `user.name`); empty for a plain greeting. */
  userName: string;
  url: string;
  expiresAt: Date;
}

/**
 * Every mail Rekey sends, one typed model per template (style.md, practice 11). Kratos' template
 * names and texts are kratos.md §3.7; authentik's stage templates are authentik-v3.md §3.3.2/§3.6.
 */
export type MailMessage =
  | { template: StageTemplate; model: StageMailModel }
  | { template: "recovery_code_valid"; model: { code: string; expiresInMinutes: number } }
  | { template: "recovery_code_invalid"; model: { address: string } }
  | { template: "recovery_valid"; model: { url: string; expiresInMinutes: number } }
  | { template: "recovery_invalid"; model: { address: string } };

export type MailTemplateName = MailMessage["template"];

/**
 * What a Kratos recovery mail was about, beside what its text says: Kratos hands it to its
 * templates as template data (kratos.md §3.7), and Rekey keeps it with the queued mail.
 */
export interface RecoveryMailContext {
  /** The recovery flow's `request_url`. */
  requestURL: string;
  /** The submission's `transient_payload`, as given; null when none was. */
  transientPayload: Record<string, unknown> | null;
  /** The identity recovered (valid templates only; an unknown address names nobody). */
  identity: { id: string; traits: { email?: string; name?: string } } | null;
}

/** Kratos' template data: `to`, the code or URL, `identity`, `request_url`, `transient_payload`, `expires_in_minutes`. */
export type TemplateData = Record<string, unknown>;

/**
 * The template data of a Kratos recovery mail in Kratos' field names (kratos.md §3.7); null for
 * authentik's stage mails, which have none. It holds the code or link, so it is sealed with the
 * rendered mail and erased with it once the mail is sent.
 */
export function templateDataOf(
  message: MailMessage,
  to: string,
  context: RecoveryMailContext,
): TemplateData | null {
  switch (message.template) {
    case "recovery_code_valid":
    case "recovery_valid": {
      const secret =
        message.template === "recovery_code_valid"
          ? { recovery_code: message.model.code }
          : { recovery_url: message.model.url };
      return {
        to,
        ...secret,
        identity: context.identity,
        request_url: context.requestURL,
        transient_payload: context.transientPayload,
        expires_in_minutes: message.model.expiresInMinutes,
      };
    }
    case "recovery_code_invalid":
    case "recovery_invalid":
      return { to, request_url: context.requestURL, transient_payload: context.transientPayload };
    case "email/password_reset.html":
    case "email/account_confirmation.html":
    case "email/setup.html":
      return null;
  }
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
  /**
   * The subject as audit events and logs may show it. A Kratos code mail carries the code in its
   * subject, so its audit subject has the code replaced; every other subject is shown as is.
   */
  auditSubject: string;
}

export interface Brand {
  /** REKEY_BRAND_TITLE. */
  title: string;
}

const INVALID_ADDRESS_TEXT = [
  "Hi,",
  "you (or someone else) entered this email address when trying to recover access to an account.",
  "However, this email address is not on our database of registered users and therefore the attempt has failed.",
  "If this was you, check if you signed up using a different address.",
  "If this was not you, please ignore this email.",
];

/** `2026-03-01 12:30 UTC`: a link's expiry, unambiguous for a reader in any time zone. */
function formatExpiry(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

function greeting(userName: string): string {
  const name = oneLine(userName).trim();
  return name === "" ? "Hi," : `Hi ${name},`;
}

function stageBlocks(template: StageTemplate, model: StageMailModel, brand: Brand): Block[] {
  const validity = `The link above is valid until ${formatExpiry(model.expiresAt)}.`;
  switch (template) {
    case "email/password_reset.html":
      return [
        text(greeting(model.userName)),
        text(
          `You recently asked to change the password of your ${brand.title} account. Use the link below to set a new password.`,
        ),
        link(model.url),
        text(`If you did not ask for a password change, please ignore this email. ${validity}`),
      ];
    case "email/account_confirmation.html":
      return [
        text(greeting(model.userName)),
        text(`Welcome to ${brand.title}! Please confirm your account by opening the link below.`),
        link(model.url),
        text(`If you did not create an account, please ignore this email. ${validity}`),
      ];
    case "email/setup.html":
      return [
        text(greeting(model.userName)),
        text(
          `You have been invited to set up your ${brand.title} account. Use the link below to choose a password.`,
        ),
        link(model.url),
        text(validity),
      ];
  }
}

function rendered(subject: string, blocks: Block[], auditSubject: string = subject): RenderedMail {
  const line = oneLine(subject);
  return {
    subject: line,
    text: renderText(blocks),
    html: renderHTML(line, blocks),
    auditSubject: oneLine(auditSubject),
  };
}

/** Renders subject, plain text and HTML at once; the outbox stores the result, sealed. */
export function renderMail(message: MailMessage, brand: Brand): RenderedMail {
  switch (message.template) {
    case "email/password_reset.html":
    case "email/account_confirmation.html":
    case "email/setup.html":
      return rendered(message.model.subject, stageBlocks(message.template, message.model, brand));
    case "recovery_code_valid": {
      const { code: value, expiresInMinutes } = message.model;
      const blocks = [
        text("Recover access to your account by entering the following code:"),
        code(value),
        text(`If this was not you, do nothing. This code expires in ${expiresInMinutes} minutes.`),
      ];
      const subject = (shown: string): string => `Use code ${shown} to recover access to your account`;
      return rendered(subject(value), blocks, subject("[REDACTED]"));
    }
    case "recovery_valid":
      return rendered("Recover access to your account", [
        text("Recover access to your account by clicking the following link:"),
        link(message.model.url),
        text(
          `If this was not you, do nothing. This link expires in ${message.model.expiresInMinutes} minutes.`,
        ),
      ]);
    case "recovery_code_invalid":
    case "recovery_invalid":
      return rendered("Account access attempted", INVALID_ADDRESS_TEXT.map(text));
  }
}
