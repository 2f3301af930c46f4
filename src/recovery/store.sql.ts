import type { Kysely, Selectable } from "kysely";
import type { Database, RecoveryFlowTable, TokenTable } from "../db/schema.js";
import type {
  RecoveryFlow,
  RecoveryMethod,
  RecoveryFlowState,
  RecoveryOrigin,
  RecoveryStore,
  RecoveryToken,
  RecoveryTokenKind,
} from "./store.js";

const INTENT: Record<RecoveryTokenKind, string> = { link: "verification", key: "recovery" };

function toToken(row: Selectable<TokenTable>, kind: RecoveryTokenKind): RecoveryToken {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    kind,
    identifier: row.identifier,
    description: row.description,
    keyHash: row.key_hash,
    expires: new Date(row.expires ?? 0),
    origin: (row.recovery_origin ?? "admin") as RecoveryOrigin,
    allowMFAReset: row.allow_mfa_reset === 1,
    emailStageId: row.email_stage_id,
  };
}

function toFlow(row: Selectable<RecoveryFlowTable>): RecoveryFlow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id ?? 0,
    method: row.method as RecoveryMethod,
    state: row.state as RecoveryFlowState,
    allowMFAReset: row.allow_mfa_reset === 1,
    deliveredToAddress: row.delivered_to_address === 1,
    emailStageId: row.email_stage_id,
    codeFailures: row.code_failures,
    expiresAt: new Date(row.expires_at),
    createdAt: new Date(row.created_at),
  };
}

function tokenRow(token: RecoveryToken, now: Date) {
  return {
    id: token.id,
    tenant_id: token.tenantId,
    identifier: token.identifier,
    managed: null,
    intent: INTENT[token.kind],
    user_id: token.userId,
    description: token.description,
    expires: token.expires.getTime(),
    expiring: 1,
    key_hash: token.keyHash,
    key_sealed: null, // links and keys are hash-only (authentik-v3.md §4, A6)
    key_secret_index: null,
    owner_may_view: 0,
    created_at: now.getTime(),
    recovery_origin: token.origin,
    allow_mfa_reset: token.allowMFAReset ? 1 : 0,
    email_stage_id: token.emailStageId,
  };
}

export function sqlRecoveryStore(db: Kysely<Database>): RecoveryStore {
  return {
    async saveLinkToken(token, now) {
      const row = tokenRow(token, now);
      await db
        .insertInto("token")
        .values(row)
        .onConflict((conflict) =>
          conflict.columns(["tenant_id", "identifier"]).doUpdateSet({
            key_hash: row.key_hash,
            expires: row.expires,
            expiring: 1,
            intent: row.intent,
            user_id: row.user_id,
            recovery_origin: row.recovery_origin,
            allow_mfa_reset: row.allow_mfa_reset,
            email_stage_id: row.email_stage_id,
          }),
        )
        .execute();
    },
    async createKeyToken(token, now) {
      await db.insertInto("token").values(tokenRow(token, now)).execute();
    },
    async findUsableToken(tenantId, kind, keyHash, now) {
      const row = await db
        .selectFrom("token")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("key_hash", "=", keyHash)
        .where("intent", "=", INTENT[kind])
        .where("expires", ">", now.getTime())
        .executeTakeFirst();
      return row === undefined ? null : toToken(row, kind);
    },
    async consumeToken(tenantId, kind, keyHash, now) {
      const row = await db
        .deleteFrom("token")
        .where("tenant_id", "=", tenantId)
        .where("key_hash", "=", keyHash)
        .where("intent", "=", INTENT[kind])
        .where("expires", ">", now.getTime())
        .returningAll()
        .executeTakeFirst();
      return row === undefined ? null : toToken(row, kind);
    },
    async createFlow(flow, sessionHash) {
      await db
        .insertInto("recovery_flow")
        .values({
          id: flow.id,
          tenant_id: flow.tenantId,
          user_id: flow.userId,
          method: flow.method,
          state: flow.state,
          session_hash: sessionHash,
          allow_mfa_reset: flow.allowMFAReset ? 1 : 0,
          delivered_to_address: flow.deliveredToAddress ? 1 : 0,
          email_stage_id: flow.emailStageId,
          code_failures: flow.codeFailures,
          expires_at: flow.expiresAt.getTime(),
          created_at: flow.createdAt.getTime(),
          completed_at: null,
        })
        .execute();
    },
    async findOpenFlow(tenantId, sessionHash, now) {
      const row = await db
        .selectFrom("recovery_flow")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("session_hash", "=", sessionHash)
        .where("state", "=", "passed_challenge")
        .where("expires_at", ">", now.getTime())
        .executeTakeFirst();
      return row === undefined ? null : toFlow(row);
    },
    async countCodeFailure(tenantId, flowId) {
      const row = await db
        .updateTable("recovery_flow")
        .set((eb) => ({ code_failures: eb("code_failures", "+", 1) }))
        .where("tenant_id", "=", tenantId)
        .where("id", "=", flowId)
        .returning("code_failures")
        .executeTakeFirst();
      return row?.code_failures ?? Number.MAX_SAFE_INTEGER;
    },
    async finishFlow(tenantId, flowId, state, now) {
      const result = await db
        .updateTable("recovery_flow")
        .set({ state, completed_at: now.getTime(), session_hash: null })
        .where("tenant_id", "=", tenantId)
        .where("id", "=", flowId)
        .where("state", "=", "passed_challenge")
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}
