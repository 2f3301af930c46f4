import type { Generated } from "kysely";

/**
 * Column conventions, the same on SQLite and PostgreSQL so that one query serves both:
 * times are epoch milliseconds (bigint), booleans are 0/1 integers, JSON is text, ids are text UUIDs
 * or integer sequences, and every hash is lower-case hex.
 */
export interface TenantTable {
  id: string;
  schema_name: string;
  name: string;
  created_at: number;
}

export interface DomainTable {
  id: Generated<number>;
  tenant_id: string;
  domain: string;
  is_primary: number;
}

export interface UserTable {
  id: Generated<number>;
  tenant_id: string;
  uuid: string;
  username: string;
  name: string;
  email: string;
  email_verified: number;
  is_active: number;
  last_login: number | null;
  date_joined: number;
  password_hash: string | null;
  password_change_date: number;
  last_updated: number;
  attributes: string;
  path: string;
  type: string;
  /** Kratos identity fields (JSON text for the metadata). */
  state_changed_at: number | null;
  email_verified_at: number | null;
  metadata_public: string | null;
  metadata_admin: string | null;
}

export interface GroupTable {
  id: Generated<number>;
  uuid: string;
  tenant_id: string;
  name: string;
  is_superuser: number;
  attributes: string;
}

export interface GroupMemberTable {
  group_id: number;
  user_id: number;
}

export interface TokenTable {
  id: string;
  tenant_id: string;
  identifier: string;
  managed: string | null;
  intent: string;
  user_id: number;
  description: string;
  expires: number | null;
  expiring: number;
  key_hash: string;
  key_sealed: string | null;
  key_secret_index: number | null;
  /** 1 when the owner created the token and so may read its key back (authentik's `view_key` rule). */
  owner_may_view: number;
  created_at: number;
  /** Recovery links and keys: who issued it (`admin`, `email`, `tenants_api`, `cli`), else null. */
  recovery_origin: string | null;
  allow_mfa_reset: Generated<number>;
  email_stage_id: string | null;
}

export interface EventTable {
  id: string;
  tenant_id: string;
  action: string;
  app: string;
  actor: string;
  username: string;
  context: string;
  client_ip: string | null;
  /** The `model` reference of the context, copied out so that the list filters can use an index. */
  model_app: string | null;
  model_name: string | null;
  model_pk: string | null;
  created: number;
  expires: number;
}

export interface EmailStageTable {
  id: string;
  tenant_id: string;
  name: string;
  use_global_settings: number;
  host: string;
  port: number;
  username: string;
  password_sealed: string | null;
  password_secret_index: number | null;
  use_tls: number;
  use_ssl: number;
  timeout: number;
  from_address: string;
  token_expiry: string;
  subject: string;
  template: string;
  activate_user_on_success: number;
  created_at: number;
}

export interface MailMessageTable {
  id: string;
  tenant_id: string;
  recipient: string;
  template: string;
  content_sealed: string | null;
  content_secret_index: number | null;
  email_stage_id: string | null;
  status: string;
  send_count: number;
  next_attempt_at: number;
  claimed_until: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface RecoveryFlowTable {
  id: string;
  tenant_id: string;
  user_id: number | null;
  method: string;
  state: string;
  session_hash: string | null;
  allow_mfa_reset: number;
  delivered_to_address: number;
  email_stage_id: string | null;
  code_failures: number;
  expires_at: number;
  created_at: number;
  completed_at: number | null;
  /** Kratos flows (null on authentik link/key sessions). */
  type: string | null;
  request_url: string | null;
  return_to: string | null;
  active: string | null;
  origin: string | null;
  csrf_hash: string | null;
  ui_messages: string | null;
  transient_payload: string | null;
  submitted_address: string | null;
  submit_count: Generated<number>;
  issued_at: number | null;
}

export interface RecoveryCodeTable {
  id: string;
  tenant_id: string;
  flow_id: string;
  user_id: number;
  /** `code` (digits) or `link` (a 32-character token). */
  kind: string;
  /** `admin` (created through the admin API) or `self_service` (mailed to `address`). */
  origin: string;
  /** Lower-case hex HMAC-SHA512/256 of the secret under the current server secret. */
  secret_hmac: string;
  address: string | null;
  expires_at: number;
  used_at: number | null;
  created_at: number;
}

export interface LoginFlowTable {
  id: string;
  tenant_id: string;
  type: string;
  request_url: string;
  return_to: string | null;
  refresh: number;
  requested_aal: string;
  state: string;
  session_id: string | null;
  csrf_hash: string | null;
  ui_messages: string;
  expires_at: number;
  issued_at: number;
  updated_at: number;
}

export interface SettingsFlowTable {
  id: string;
  tenant_id: string;
  user_id: number;
  type: string;
  request_url: string;
  return_to: string | null;
  state: string;
  csrf_hash: string | null;
  ui_messages: string;
  expires_at: number;
  issued_at: number;
}

export interface SessionTable {
  id: string;
  tenant_id: string;
  user_id: number;
  token_hash: string;
  kind: string;
  aal: string;
  auth_methods: string;
  authenticated_at: number;
  issued_at: number;
  expires_at: number;
  last_seen_at: number;
  revoked_at: number | null;
  /** 005_session_devices: null for sessions issued before it. */
  device_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
}

export interface RateLimitTable {
  key: string;
  window_start: number;
  count: number;
}

export interface JobLockTable {
  name: string;
  locked_until: number;
  holder: string;
}

export interface TOTPDeviceTable {
  id: Generated<number>;
  tenant_id: string;
  user_id: number;
  name: string;
  secret_sealed: string;
  secret_secret_index: number;
  digits: number;
  period: number;
  algorithm: string;
  confirmed: number;
  /** The last accepted time step: a code of this step or earlier is never accepted again. */
  last_step: number | null;
  created_at: number;
}

export interface StaticDeviceTable {
  id: Generated<number>;
  tenant_id: string;
  user_id: number;
  name: string;
  confirmed: number;
  created_at: number;
}

export interface StaticTokenTable {
  id: Generated<number>;
  tenant_id: string;
  device_id: number;
  user_id: number;
  token_hmac: string;
  used_at: number | null;
}

export interface SettingsFlowSecretTable {
  flow_id: string;
  kind: string;
  tenant_id: string;
  secret_sealed: string;
  secret_secret_index: number;
  created_at: number;
}

export interface Database {
  tenant: TenantTable;
  domain: DomainTable;
  user: UserTable;
  group: GroupTable;
  group_member: GroupMemberTable;
  token: TokenTable;
  event: EventTable;
  job_lock: JobLockTable;
  email_stage: EmailStageTable;
  mail_message: MailMessageTable;
  recovery_flow: RecoveryFlowTable;
  session: SessionTable;
  rate_limit: RateLimitTable;
  recovery_code: RecoveryCodeTable;
  login_flow: LoginFlowTable;
  settings_flow: SettingsFlowTable;
  totp_device: TOTPDeviceTable;
  static_device: StaticDeviceTable;
  static_token: StaticTokenTable;
  settings_flow_secret: SettingsFlowSecretTable;
}
