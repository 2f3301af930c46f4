import type { CoreDeps } from "../deps.js";
import type { OutboxStore } from "./store.js";
import {
  type MailMessage,
  type RecoveryMailContext,
  type RenderedMail,
  renderMail,
  type TemplateData,
  templateDataOf,
} from "./templates/index.js";

export interface MailToSend {
  tenantId: string;
  to: { address: string; name: string };
  message: MailMessage;
  /** The email stage whose SMTP settings and sender apply; null for REKEY_SMTP_URL and REKEY_EMAIL_FROM. */
  emailStageId: string | null;
  /** A Kratos recovery mail's context, kept as its template data (kratos.md §3.7). */
  context?: RecoveryMailContext;
}

/** What the outbox seals per message: the rendered mail and, for Kratos mails, its template data. */
export interface MailContent extends RenderedMail {
  templateData: TemplateData | null;
}

/** The sealed content of a queued message; null once sent (or when no secret opens it). */
export function openMailContent(
  deps: Pick<CoreDeps, "mailContent">,
  sealed: string | null,
  secretIndex: number | null,
): MailContent | null {
  const json = sealed === null ? null : deps.mailContent.open(sealed, secretIndex ?? 0);
  return json === null ? null : (JSON.parse(json) as MailContent);
}

/**
 * `"name" <address>` as RFC 5322 quotes a display name: backslash and quote escaped, line breaks
 * removed so no name can add a header. The bare address when there is no name.
 */
export function formatRecipient(to: { address: string; name: string }): string {
  const address = to.address.replace(/[\r\n<>]/g, "");
  const name = to.name.replace(/[\r\n]+/g, " ").trim();
  if (name === "") {
    return address;
  }
  return `"${name.replace(/["\\]/g, (char) => `\\${char}`)}" <${address}>`;
}

/**
 * Renders the mail at once and queues it, sealed, through `outbox`, which must be the outbox store of
 * the caller's transaction: the mail then commits with the link or code it carries, or not at all
 * (style.md, practice 11). The courier sends it later. Returns the message id.
 */
export async function enqueueMail(
  deps: Pick<CoreDeps, "config" | "clock" | "random" | "mailContent">,
  outbox: OutboxStore,
  mail: MailToSend,
): Promise<string> {
  const rendered = renderMail(mail.message, { title: deps.config.brandTitle });
  const templateData =
    mail.context === undefined ? null : templateDataOf(mail.message, mail.to.address, mail.context);
  // Template data may hold whatever a client put in `transient_payload`: it is sealed with the mail.
  const content: MailContent = { ...rendered, templateData };
  const sealed = deps.mailContent.seal(JSON.stringify(content));
  const id = deps.random.uuid();
  await outbox.enqueueMail(
    {
      id,
      tenantId: mail.tenantId,
      recipient: formatRecipient(mail.to),
      template: mail.message.template,
      contentSealed: sealed.sealed,
      contentSecretIndex: sealed.secretIndex,
      emailStageId: mail.emailStageId,
    },
    deps.clock.now(),
  );
  return id;
}
