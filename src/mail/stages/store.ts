import type { ListQuery, Page } from "../../db/listing.js";
import type { StageTemplate } from "../templates/index.js";

/** An authentik email stage: the SMTP settings, sender and template of a recovery email. */
export interface EmailStage {
  id: string;
  tenantId: string;
  name: string;
  /** True: REKEY_SMTP_URL and REKEY_EMAIL_FROM apply and the connection fields below are ignored. */
  useGlobalSettings: boolean;
  host: string;
  port: number;
  username: string;
  /** The SMTP password sealed with the `smtpPasswords` SecretBox; null when none is set. Never returned by the API. */
  passwordSealed: string | null;
  passwordSecretIndex: number | null;
  /** STARTTLS, required. */
  useTLS: boolean;
  /** Implicit TLS from the first byte. */
  useSSL: boolean;
  /** Seconds. */
  timeout: number;
  fromAddress: string;
  /** authentik duration string, kept for clients; Rekey's links use their own lifetime. */
  tokenExpiry: string;
  subject: string;
  template: StageTemplate;
  activateUserOnSuccess: boolean;
}

export type EmailStageField =
  | "name"
  | "use_global_settings"
  | "host"
  | "port"
  | "username"
  | "use_tls"
  | "use_ssl"
  | "timeout"
  | "from_address"
  | "token_expiry"
  | "subject"
  | "template"
  | "activate_user_on_success";

/** Exact-match filters of the list (authentik's `stages_email_list` parameters). */
export interface EmailStageFilters {
  name?: string;
  host?: string;
  port?: number;
  username?: string;
  fromAddress?: string;
  subject?: string;
  template?: string;
  timeout?: number;
  tokenExpiry?: string;
  useGlobalSettings?: boolean;
  useTLS?: boolean;
  useSSL?: boolean;
  activateUserOnSuccess?: boolean;
}

export type EmailStageChanges = Partial<Omit<EmailStage, "id" | "tenantId">>;

export interface EmailStageStore {
  /** The stage of this tenant with this id; null when there is none (or it belongs to another tenant). */
  findEmailStage(tenantId: string, id: string): Promise<EmailStage | null>;
  /** A page of the tenant's stages; search matches the name. */
  listEmailStages(
    tenantId: string,
    filters: EmailStageFilters,
    query: ListQuery<EmailStageField>,
  ): Promise<Page<EmailStage>>;
  /** True when another stage of the tenant (not `exceptId`) has this name. */
  isEmailStageNameTaken(tenantId: string, name: string, exceptId: string | null): Promise<boolean>;
  /** Throws a unique violation when the name is taken in the tenant (a race past isEmailStageNameTaken). */
  createEmailStage(stage: EmailStage, now: Date): Promise<void>;
  /** Changes only the given fields; throws a unique violation when a new name is taken. */
  updateEmailStage(tenantId: string, id: string, changes: EmailStageChanges): Promise<void>;
  /** False when there was no such stage in the tenant. */
  deleteEmailStage(tenantId: string, id: string): Promise<boolean>;
}
