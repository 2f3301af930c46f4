import type { Kysely, Selectable } from "kysely";
import type {
  Database,
  LoginFlowTable,
  RecoveryCodeTable,
  RecoveryFlowTable,
  SettingsFlowTable,
} from "../db/schema.js";
import type { AssuranceLevel } from "../sessions/store.js";
import type {
  FlowMessage,
  FlowType,
  LoginFlow,
  LoginFlowState,
  LoginFlowStore,
  RecoveryCode,
  RecoveryStrategy,
  SelfServiceRecoveryFlow,
  SelfServiceRecoveryState,
  SelfServiceRecoveryStore,
  SettingsFlow,
  SettingsFlowState,
  SettingsFlowStore,
} from "./store.js";

function messages(text: string | null): FlowMessage[] {
  return text === null ? [] : (JSON.parse(text) as FlowMessage[]);
}

function toFlow(row: Selectable<RecoveryFlowTable>): SelfServiceRecoveryFlow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    type: (row.type ?? "browser") as FlowType,
    state: row.state as SelfServiceRecoveryState,
    active: row.active as RecoveryStrategy | null,
    origin: row.origin === "admin" ? "admin" : "self_service",
    userId: row.user_id,
    requestURL: row.request_url ?? "",
    returnTo: row.return_to,
    csrfHash: row.csrf_hash,
    messages: messages(row.ui_messages),
    // The column is left from 003: transient payloads are no longer stored (store.ts says why).
    transientPayload: null,
    submittedAddress: row.submitted_address,
    submitCount: row.submit_count,
    issuedAt: new Date(row.issued_at ?? row.created_at),
    expiresAt: new Date(row.expires_at),
  };
}

function toCode(row: Selectable<RecoveryCodeTable>): RecoveryCode {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    flowId: row.flow_id,
    userId: row.user_id,
    kind: row.kind as RecoveryStrategy,
    origin: row.origin === "admin" ? "admin" : "self_service",
    secretHMAC: row.secret_hmac,
    address: row.address,
    expiresAt: new Date(row.expires_at),
    usedAt: row.used_at === null ? null : new Date(row.used_at),
  };
}

/** Self-service recovery flows share `recovery_flow` with authentik's link and key sessions; `type` tells them apart. */
const KRATOS_FLOW = "type";

export function sqlSelfServiceRecoveryStore(db: Kysely<Database>): SelfServiceRecoveryStore {
  return {
    async createRecoveryFlow(flow) {
      await db
        .insertInto("recovery_flow")
        .values({
          id: flow.id,
          tenant_id: flow.tenantId,
          user_id: flow.userId,
          method: flow.active ?? "code",
          state: flow.state,
          session_hash: null,
          allow_mfa_reset: 0,
          delivered_to_address: 0,
          email_stage_id: null,
          code_failures: 0,
          expires_at: flow.expiresAt.getTime(),
          created_at: flow.issuedAt.getTime(),
          completed_at: null,
          type: flow.type,
          request_url: flow.requestURL,
          return_to: flow.returnTo,
          active: flow.active,
          origin: flow.origin,
          csrf_hash: flow.csrfHash,
          ui_messages: JSON.stringify(flow.messages),
          transient_payload: null,
          submitted_address: flow.submittedAddress,
          submit_count: flow.submitCount,
          issued_at: flow.issuedAt.getTime(),
        })
        .execute();
    },
    async findRecoveryFlow(tenantId, id) {
      const row = await db
        .selectFrom("recovery_flow")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .where(KRATOS_FLOW, "is not", null)
        .executeTakeFirst();
      return row === undefined ? null : toFlow(row);
    },
    async updateRecoveryFlow(tenantId, id, changes) {
      const set: Partial<Selectable<RecoveryFlowTable>> = {};
      if (changes.state !== undefined) set.state = changes.state;
      if (changes.active !== undefined) set.active = changes.active;
      if (changes.userId !== undefined) set.user_id = changes.userId;
      if (changes.csrfHash !== undefined) set.csrf_hash = changes.csrfHash;
      if (changes.messages !== undefined) set.ui_messages = JSON.stringify(changes.messages);
      if (changes.submittedAddress !== undefined) set.submitted_address = changes.submittedAddress;
      if (Object.keys(set).length === 0) return;
      await db
        .updateTable("recovery_flow")
        .set(set)
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .execute();
    },
    async countSubmission(tenantId, flowId) {
      const row = await db
        .updateTable("recovery_flow")
        .set((eb) => ({ submit_count: eb("submit_count", "+", 1) }))
        .where("tenant_id", "=", tenantId)
        .where("id", "=", flowId)
        .returning("submit_count")
        .executeTakeFirst();
      return row === undefined ? null : row.submit_count;
    },
    async passChallenge(tenantId, flowId) {
      const result = await db
        .updateTable("recovery_flow")
        .set({ state: "passed_challenge" })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", flowId)
        .where("state", "!=", "passed_challenge")
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async createRecoveryCode(code, now) {
      await db
        .insertInto("recovery_code")
        .values({
          id: code.id,
          tenant_id: code.tenantId,
          flow_id: code.flowId,
          user_id: code.userId,
          kind: code.kind,
          origin: code.origin,
          secret_hmac: code.secretHMAC,
          address: code.address,
          expires_at: code.expiresAt.getTime(),
          used_at: null,
          created_at: now.getTime(),
        })
        .execute();
    },
    async listRecoveryCodes(tenantId, flowId) {
      const rows = await db
        .selectFrom("recovery_code")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("flow_id", "=", flowId)
        .orderBy("created_at", "desc")
        .orderBy("id")
        .execute();
      return rows.map(toCode);
    },
    async deleteRecoveryCodes(tenantId, flowId) {
      await db
        .deleteFrom("recovery_code")
        .where("tenant_id", "=", tenantId)
        .where("flow_id", "=", flowId)
        .execute();
    },
    async useRecoveryCode(tenantId, codeId, now) {
      const result = await db
        .updateTable("recovery_code")
        .set({ used_at: now.getTime() })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", codeId)
        .where("used_at", "is", null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

function toLoginFlow(row: Selectable<LoginFlowTable>): LoginFlow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    type: row.type as FlowType,
    requestURL: row.request_url,
    returnTo: row.return_to,
    refresh: row.refresh === 1,
    requestedAAL: row.requested_aal as AssuranceLevel,
    state: row.state as LoginFlowState,
    sessionId: row.session_id,
    csrfHash: row.csrf_hash,
    messages: messages(row.ui_messages),
    issuedAt: new Date(row.issued_at),
    expiresAt: new Date(row.expires_at),
    updatedAt: new Date(row.updated_at),
  };
}

export function sqlLoginFlowStore(db: Kysely<Database>): LoginFlowStore {
  return {
    async createLoginFlow(flow) {
      await db
        .insertInto("login_flow")
        .values({
          id: flow.id,
          tenant_id: flow.tenantId,
          type: flow.type,
          request_url: flow.requestURL,
          return_to: flow.returnTo,
          refresh: flow.refresh ? 1 : 0,
          requested_aal: flow.requestedAAL,
          state: flow.state,
          session_id: flow.sessionId,
          csrf_hash: flow.csrfHash,
          ui_messages: JSON.stringify(flow.messages),
          expires_at: flow.expiresAt.getTime(),
          issued_at: flow.issuedAt.getTime(),
          updated_at: flow.updatedAt.getTime(),
        })
        .execute();
    },
    async findLoginFlow(tenantId, id) {
      const row = await db
        .selectFrom("login_flow")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .executeTakeFirst();
      return row === undefined ? null : toLoginFlow(row);
    },
    async updateLoginFlow(tenantId, id, changes, now) {
      const set: Partial<Selectable<LoginFlowTable>> = { updated_at: now.getTime() };
      if (changes.state !== undefined) set.state = changes.state;
      if (changes.messages !== undefined) set.ui_messages = JSON.stringify(changes.messages);
      if (changes.csrfHash !== undefined) set.csrf_hash = changes.csrfHash;
      await db
        .updateTable("login_flow")
        .set(set)
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .execute();
    },
  };
}

function toSettingsFlow(row: Selectable<SettingsFlowTable>): SettingsFlow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    type: row.type as FlowType,
    requestURL: row.request_url,
    returnTo: row.return_to,
    state: row.state as SettingsFlowState,
    csrfHash: row.csrf_hash,
    messages: messages(row.ui_messages),
    issuedAt: new Date(row.issued_at),
    expiresAt: new Date(row.expires_at),
  };
}

export function sqlSettingsFlowStore(db: Kysely<Database>): SettingsFlowStore {
  return {
    async createSettingsFlow(flow) {
      await db
        .insertInto("settings_flow")
        .values({
          id: flow.id,
          tenant_id: flow.tenantId,
          user_id: flow.userId,
          type: flow.type,
          request_url: flow.requestURL,
          return_to: flow.returnTo,
          state: flow.state,
          csrf_hash: flow.csrfHash,
          ui_messages: JSON.stringify(flow.messages),
          expires_at: flow.expiresAt.getTime(),
          issued_at: flow.issuedAt.getTime(),
        })
        .execute();
    },
    async findSettingsFlow(tenantId, id) {
      const row = await db
        .selectFrom("settings_flow")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .executeTakeFirst();
      return row === undefined ? null : toSettingsFlow(row);
    },
    async updateSettingsFlow(tenantId, id, changes) {
      const set: Partial<Selectable<SettingsFlowTable>> = {};
      if (changes.state !== undefined) set.state = changes.state;
      if (changes.messages !== undefined) set.ui_messages = JSON.stringify(changes.messages);
      if (changes.csrfHash !== undefined) set.csrf_hash = changes.csrfHash;
      if (Object.keys(set).length === 0) return;
      await db
        .updateTable("settings_flow")
        .set(set)
        .where("tenant_id", "=", tenantId)
        .where("id", "=", id)
        .execute();
    },
  };
}
